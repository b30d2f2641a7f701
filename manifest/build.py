"""Build the Teams app package (manifest.json + icons, zipped) for upload in Teams or the Teams admin centre.

    .venv/bin/python manifest/build.py [--out manifest/build/riposte.zip]

The bot id comes from MicrosoftAppId (settings or .env); the command lists from the command table
(bot/commands/table.py: each command's usage, help line and the lists it is shown in).
DEVELOPER_NAME and WEBSITE_URL (environment) fill the publisher fields.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import zipfile
import zlib
from pathlib import Path
from string import Template
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.commands.parse import help_text  # noqa: E402
from bot.commands.table import COMMANDS, Scope  # noqa: E402
from bot.config import Settings  # noqa: E402

MAX_COMMANDS = 10  # Teams allows ten commands per command list
ACCENT = (0xB3, 0x26, 0x1E)


def png(size: int, pixel: Any) -> bytes:
    """A PNG drawn by `pixel(x, y) -> (r, g, b, a)`: no imaging library needed for two icons."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _shield(size: int, x: int, y: int) -> bool:
    """A simple shield shape (the mark of a security tool)."""
    u, v = x / size, y / size
    if not 0.25 <= u <= 0.75 or not 0.18 <= v <= 0.85:
        return False
    return v < 0.55 or abs(u - 0.5) < (0.85 - v) * 0.85


def color_icon() -> bytes:
    return png(192, lambda x, y: (255, 255, 255, 255) if _shield(192, x, y) else (*ACCENT, 255))


def outline_icon() -> bytes:
    return png(32, lambda x, y: (255, 255, 255, 255) if _shield(32, x, y) else (0, 0, 0, 0))


def manifest(app_id: str, developer: str, website: str) -> dict[str, Any]:
    template = Template((ROOT / "manifest" / "manifest.template.json").read_text(encoding="utf-8"))
    document: dict[str, Any] = json.loads(template.safe_substitute(
        MicrosoftAppId=app_id, DEVELOPER_NAME=developer, WEBSITE_URL=website.rstrip("/")))
    for command_list in document["bots"][0]["commandLists"]:
        command_list["commands"] = command_list_for("personal" if "personal" in command_list["scopes"] else "team")
    return document


def command_list_for(scope: Scope) -> list[dict[str, str]]:
    """The commands the table shows in this list; more than Teams allows is a mistake in the table, not cut."""
    listed = [{"title": spec.usage, "description": spec.help} for spec in COMMANDS if scope in spec.scopes]
    too_long = [c["title"] for c in listed if len(c["title"]) > 32 or len(c["description"]) > 128]
    if len(listed) > MAX_COMMANDS or too_long:
        raise ValueError(f"the {scope} command list breaks Teams' limits (ten commands; titles of 32 and "
                         f"descriptions of 128 characters): {len(listed)} commands, too long: {too_long}")
    return listed


def build(out: Path, app_id: str, developer: str, website: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest(app_id, developer, website), indent=2))
        package.writestr("color.png", color_icon())
        package.writestr("outline.png", outline_icon())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "manifest" / "build" / "riposte.zip")
    args = parser.parse_args()
    settings = Settings()
    if not settings.microsoft_app_id:
        raise SystemExit("Set MicrosoftAppId (the bot's app registration id) to build the Teams app package.")
    path = build(args.out, settings.microsoft_app_id, os.environ.get("DEVELOPER_NAME", "Riposte"),
                 os.environ.get("WEBSITE_URL", "https://example.com/riposte"))
    print(f"wrote {path}; upload it in Teams (Apps › Manage your apps › Upload an app). Commands:\n{help_text()}")


if __name__ == "__main__":
    main()
