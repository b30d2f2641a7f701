"""The action catalogue as a markdown table (action | what it does | permission | reversal), from the registry.

Run from the repository root:  .venv/bin/python -m docs.gen_actions_table > docs/actions.md
and, to refresh the table in README.md between its markers:  .venv/bin/python -m docs.gen_actions_table --readme
"""

from __future__ import annotations

from actions import ACTIONS
from actions.spec import ActionSpec
from docs.readme_table import main, spliced

HEADER = ("Action", "What it does", "Permission", "Reversal")
ITEM_NAMES = {"inbox_rule": "inbox rule", "app": "consented app", "teams_app": "Teams app",
              "auth_method": "MFA method", "mailbox_permission": "mailbox permission",
              "transport_rule": "transport rule"}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _what(spec: ActionSpec) -> str:
    notes = []
    if spec.item_kind:
        notes.append(f"per {ITEM_NAMES.get(spec.item_kind, spec.item_kind)}")
    if spec.needs_approval:
        notes.append("needs approval")
    if not spec.offered_on_alert and not spec.item_kind:
        notes.append(f"undo of {_reversed_by(spec)}")
    suffix = f" ({'; '.join(notes)})" if notes else ""
    return f"**{spec.title}**: {spec.description}{suffix}"


def _reversed_by(spec: ActionSpec) -> str:
    names = [f"`{other.name}`" for other in ACTIONS.values() if other.undo == spec.name]
    return " / ".join(names) or "another action"


def _reversal(spec: ActionSpec) -> str:
    undo = f"Undo: `{spec.undo}`. " if spec.undo else ""
    return undo + spec.reversal


def render() -> str:
    lines = [
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    for spec in ACTIONS.values():
        row = (f"`{spec.name}`", _what(spec), spec.permission, _reversal(spec))
        lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


README_START, README_END = "<!-- actions-table -->\n", "<!-- /actions-table -->"


def with_table(readme: str) -> str:
    """README.md with the generated table between its markers."""
    return spliced(readme, README_START, README_END, render())


if __name__ == "__main__":
    main(render, README_START, README_END)
