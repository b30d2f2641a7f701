"""Build the Teams app package (manifest.json + icons, zipped) for upload in Teams or the Teams admin centre.

    .venv/bin/python manifest/build.py [--out manifest/build/riposte.zip] [--version 1.0.0]

Settings (bot/config.py: environment or .env): MicrosoftAppId (the bot, required), RIPOSTE_PUBLIC_HOST (the host
Teams reaches the bot at: validDomains and the SSO resource), RIPOSTE_DEVELOPER_NAME and RIPOSTE_WEBSITE_URL (the
publisher). The command lists come from the command table (bot/commands/table.py: each command's usage, help line
and the lists it is shown in). The manifest uses the newest schema kept in manifest/schema/ (Microsoft's official
MicrosoftTeams.schema.json) and is validated against it before anything is written.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zipfile
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.commands.parse import help_text  # noqa: E402
from bot.commands.table import COMMANDS, Scope  # noqa: E402
from bot.config import Settings  # noqa: E402
from manifest.icons import color_icon, outline_icon  # noqa: E402

SCHEMA_PATH = ROOT / "manifest" / "schema" / "MicrosoftTeams.schema.json"
MAX_COMMANDS = 10  # Teams shows ten commands per command list (the schema itself allows more)
# The Bot Framework token service's sign-in page, which the OAuth card of delegated sign-in opens (Teams docs: "Add
# authentication to your Teams bot" lists it under validDomains).
SIGN_IN_DOMAIN = "token.botframework.com"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")  # a DNS name with at least one dot
DEFAULT_WEBSITE = "https://example.com/riposte"


class ManifestError(ValueError):
    pass


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def manifest_version() -> str:
    """The schema version kept in the repository (its `manifestVersion` const), e.g. "1.30"."""
    return str(schema()["properties"]["manifestVersion"]["const"])


def schema_url(version: str) -> str:
    return f"https://developer.microsoft.com/json-schemas/teams/v{version}/MicrosoftTeams.schema.json"


def sso_resource(app_id: str, public_host: str) -> str:
    """The Application ID URI Teams asks Entra for when it signs the user in to the bot (SSO): with the app's domain
    `api://<host>/botid-<app id>`, for a bot without one `api://botid-<app id>` (Teams docs: "Update app manifest for
    SSO"). The app registration's "Expose an API" must carry the same URI."""
    return f"api://{public_host}/botid-{app_id}" if public_host else f"api://botid-{app_id}"


def command_list_for(scope: Scope) -> list[dict[str, str]]:
    """The commands the table shows in this list; more than Teams allows is a mistake in the table, not cut."""
    listed = [{"title": spec.usage, "description": spec.help} for spec in COMMANDS if scope in spec.scopes]
    too_long = [c["title"] for c in listed if len(c["title"]) > 32 or len(c["description"]) > 128]
    if len(listed) > MAX_COMMANDS or too_long:
        raise ValueError(f"the {scope} command list breaks Teams' limits (ten commands; titles of 32 and "
                         f"descriptions of 128 characters): {len(listed)} commands, too long: {too_long}")
    return listed


def manifest(settings: Settings, version: str = "1.0.0") -> dict[str, Any]:
    host = settings.public_host.strip().lower()
    if host and not _HOST.match(host):
        raise ManifestError(f"RIPOSTE_PUBLIC_HOST={settings.public_host!r} is not a host name: give the host alone, "
                            "as in riposte.contoso.com (no https://, port or path)")
    app_id = settings.microsoft_app_id
    template = Template((ROOT / "manifest" / "manifest.template.json").read_text(encoding="utf-8"))
    schema_version = manifest_version()
    fields = {"MicrosoftAppId": app_id, "DEVELOPER_NAME": settings.developer_name,
              "WEBSITE_URL": settings.website_url.rstrip("/"), "APP_VERSION": version,
              "MANIFEST_VERSION": schema_version, "SCHEMA_URL": schema_url(schema_version),
              "SSO_RESOURCE": sso_resource(app_id, host)}
    escaped = {key: json.dumps(value)[1:-1] for key, value in fields.items()}  # values land inside JSON strings
    filled = template.safe_substitute(escaped)  # safe: "$schema" is a key, not a placeholder
    left = re.findall(r"\$\{(\w+)\}", filled)
    if left:
        raise ManifestError(f"manifest.template.json has placeholders build.py does not fill: {', '.join(left)}")
    document: dict[str, Any] = json.loads(filled)
    for command_list in document["bots"][0]["commandLists"]:
        command_list["commands"] = command_list_for("personal" if "personal" in command_list["scopes"] else "team")
    document["validDomains"] = [*([host] if host else []), SIGN_IN_DOMAIN]
    return document


def problems(document: dict[str, Any]) -> list[str]:
    """What the official schema says is wrong with the manifest, one line each (empty: valid). The schema is
    draft-04, whose validator ignores `const`, so the manifest version is compared here."""
    validator = jsonschema.Draft4Validator(schema())
    found = [f"{'/'.join(str(part) for part in error.absolute_path) or '(manifest)'}: {error.message}"
             for error in sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))]
    if document.get("manifestVersion") != manifest_version():
        found.append(f"manifestVersion: {document.get('manifestVersion')!r} is not {manifest_version()!r}")
    return found


def build(out: Path, settings: Settings, version: str = "1.0.0") -> Path:
    document = manifest(settings, version)
    wrong = problems(document)
    if wrong:
        raise ManifestError("the manifest does not match Microsoft's schema (check MicrosoftAppId, a GUID, and "
                            "RIPOSTE_WEBSITE_URL, an https URL):\n  " + "\n  ".join(wrong))
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(document, indent=2))
        package.writestr("color.png", color_icon())
        package.writestr("outline.png", outline_icon())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "manifest" / "build" / "riposte.zip")
    parser.add_argument("--version", default="1.0.0",
                        help="the app's version; raise it for each new upload of a changed package")
    args = parser.parse_args()
    settings = Settings()
    if not settings.microsoft_app_id:
        raise SystemExit("Set MicrosoftAppId (the bot's app registration id) to build the Teams app package.")
    try:
        path = build(args.out, settings, args.version)
    except ManifestError as error:
        raise SystemExit(f"No package written: {error}") from None
    print(f"wrote {path} (manifest {manifest_version()}, SSO resource "
          f"{sso_resource(settings.microsoft_app_id, settings.public_host.strip().lower())}); upload it in Teams "
          f"(Apps › Manage your apps › Upload an app). Commands:\n{help_text()}")
    if settings.website_url.rstrip("/") == DEFAULT_WEBSITE:
        print("Note: RIPOSTE_WEBSITE_URL is the example default; set your own (its /privacy and /terms pages are "
              "linked from the app's details).")


if __name__ == "__main__":
    main()
