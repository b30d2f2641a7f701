"""The Teams app package: a manifest valid against Microsoft's official schema (kept in manifest/schema/), with the
bot id, SSO's webApplicationInfo and the command lists, and icons that keep Teams' rules."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from PIL import Image

from bot.commands.table import COMMANDS
from bot.config import Settings
from manifest.build import SCHEMA_PATH, ManifestError, build, manifest, manifest_version, problems

APP_ID = "3c5a0b5e-1111-4000-8000-000000000b07"


def settings(**values: str) -> Settings:
    given: dict[str, str] = {"MicrosoftAppId": APP_ID, "RIPOSTE_DEVELOPER_NAME": "Contoso SOC",
                             "RIPOSTE_WEBSITE_URL": "https://soc.contoso.com/", **values}
    return Settings(_env_file=None, **given)  # type: ignore[call-arg,arg-type]


def package(tmp_path: Path, **values: str) -> tuple[dict[str, Any], Image.Image, Image.Image]:
    path = build(tmp_path / "riposte.zip", settings(**values))
    with zipfile.ZipFile(path) as zipped:
        assert sorted(zipped.namelist()) == ["color.png", "manifest.json", "outline.png"]
        document = json.loads(zipped.read("manifest.json"))
        color = Image.open(io.BytesIO(zipped.read("color.png")))
        outline = Image.open(io.BytesIO(zipped.read("outline.png")))
    return document, color, outline


def official_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def test_the_kept_schema_is_microsofts_file_unchanged_and_a_1_2x_or_newer_version() -> None:
    note = (SCHEMA_PATH.parent / "README.md").read_text(encoding="utf-8")
    recorded = re.search(r"sha256: `([0-9a-f]{64})`", note)
    assert recorded and hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == recorded.group(1)
    assert (SCHEMA_PATH.parent / "LICENSE").read_text(encoding="utf-8").strip().startswith("MIT License")
    major, minor = (int(part) for part in manifest_version().split("."))
    assert (major, minor) >= (1, 20)
    assert official_schema()["$schema"] == "http://json-schema.org/draft-04/schema#"


def test_the_package_validates_against_the_official_schema(tmp_path: Path) -> None:
    document, _, _ = package(tmp_path, RIPOSTE_PUBLIC_HOST="riposte.contoso.com")
    jsonschema.Draft4Validator(official_schema()).validate(document)  # raises on the first problem
    assert document["manifestVersion"] == official_schema()["properties"]["manifestVersion"]["const"]
    assert document["$schema"] == ("https://developer.microsoft.com/json-schemas/teams/"
                                   f"v{manifest_version()}/MicrosoftTeams.schema.json")
    assert document["id"] == document["bots"][0]["botId"] == APP_ID
    assert "personal" in document["bots"][0]["scopes"]
    assert document["developer"]["privacyUrl"] == "https://soc.contoso.com/privacy"


def test_sso_web_application_info_names_the_bot_and_its_domain(tmp_path: Path) -> None:
    document, _, _ = package(tmp_path, RIPOSTE_PUBLIC_HOST="Riposte.Contoso.com")
    assert document["webApplicationInfo"] == {"id": APP_ID, "resource": f"api://riposte.contoso.com/botid-{APP_ID}"}
    assert document["validDomains"] == ["riposte.contoso.com", "token.botframework.com"]
    # A bot without a domain of its own: the form Teams documents for a bot alone.
    alone = manifest(settings())
    assert alone["webApplicationInfo"] == {"id": APP_ID, "resource": f"api://botid-{APP_ID}"}
    assert alone["validDomains"] == ["token.botframework.com"]
    assert problems(alone) == []


def test_the_command_lists_come_from_the_command_table(tmp_path: Path) -> None:
    document, _, _ = package(tmp_path)
    team, personal = ({c["title"] for c in command_list["commands"]} for command_list in
                      document["bots"][0]["commandLists"])
    every = {spec.usage for spec in COMMANDS if spec.scopes}  # release and automation: typed only (lists full)
    assert "help" in team and "help" in personal
    assert team == every - {"enable <user>"} and personal == every - {"use this channel for alerts"}
    assert all(len(c["title"]) <= 32 and len(c["description"]) <= 128
               for command_list in document["bots"][0]["commandLists"] for c in command_list["commands"])


def test_icons_keep_teams_rules(tmp_path: Path) -> None:
    _, color, outline = package(tmp_path)
    assert (color.format, color.size) == ("PNG", (192, 192))
    assert (outline.format, outline.size) == ("PNG", (32, 32))
    # Colour: a full-colour icon on a solid background (nothing see-through).
    color_pixels = list(color.convert("RGBA").getdata())
    assert all(alpha == 255 for *_, alpha in color_pixels)
    assert len({pixel[:3] for pixel in color_pixels}) > 1, "a mark on the background"
    # Outline: white on transparent, nothing else; a visible mark and a transparent background.
    outline_pixels = list(outline.convert("RGBA").getdata())
    assert all(alpha == 0 or (red, green, blue) == (255, 255, 255) for red, green, blue, alpha in outline_pixels)
    assert any(alpha == 0 for *_, alpha in outline_pixels) and any(alpha > 0 for *_, alpha in outline_pixels)


@pytest.mark.parametrize(("values", "said"), [
    ({"MicrosoftAppId": "riposte-bot"}, r"id: 'riposte-bot' does not match"),  # Teams wants a GUID
    ({"RIPOSTE_WEBSITE_URL": "soc.contoso.com"}, r"developer/websiteUrl: 'soc.contoso.com' does not match"),
])
def test_a_manifest_teams_would_refuse_is_not_written(tmp_path: Path, values: dict[str, str], said: str) -> None:
    with pytest.raises(ManifestError, match=said):
        build(tmp_path / "riposte.zip", settings(**values))
    assert not (tmp_path / "riposte.zip").exists()


def test_a_public_host_given_as_a_url_is_refused_saying_what_to_give() -> None:
    with pytest.raises(ManifestError, match=r"RIPOSTE_PUBLIC_HOST='https://riposte.contoso.com/' is not a host name"):
        manifest(settings(RIPOSTE_PUBLIC_HOST="https://riposte.contoso.com/"))
