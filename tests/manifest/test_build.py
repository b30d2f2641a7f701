"""The Teams app package: a manifest with the bot id and the command list, and icons of the sizes Teams wants."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

from bot.commands.table import COMMANDS
from manifest.build import build


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_package_has_manifest_and_icons(tmp_path: Path) -> None:
    app_id = "3c5a0b5e-1111-4000-8000-000000000b07"
    path = build(tmp_path / "riposte.zip", app_id, "Contoso SOC", "https://soc.contoso.com/")
    with zipfile.ZipFile(path) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        assert png_size(package.read("color.png")) == (192, 192)
        assert png_size(package.read("outline.png")) == (32, 32)
    assert manifest["id"] == manifest["bots"][0]["botId"] == app_id
    assert manifest["developer"]["privacyUrl"] == "https://soc.contoso.com/privacy"
    team, personal = ({c["title"] for c in command_list["commands"]} for command_list in
                      manifest["bots"][0]["commandLists"])
    every = {spec.usage for spec in COMMANDS if spec.scopes}  # release and automation: typed only (lists full)
    assert "help" in team and "help" in personal
    assert team == every - {"enable <user>"} and personal == every - {"use this channel for alerts"}
    assert all(len(c["title"]) <= 32 and len(c["description"]) <= 128
               for command_list in manifest["bots"][0]["commandLists"] for c in command_list["commands"])
