"""What delegated mode needs of each action, as a markdown table from the registry (each action file declares its
delegated Graph permission and the Entra roles Graph requires of the signed-in person).

Refresh the table in README.md between its markers:  .venv/bin/python -m docs.gen_delegated_table --readme
"""

from __future__ import annotations

from actions import ACTIONS
from actions.spec import any_of
from docs.readme_table import main, spliced

HEADER = ("Action", "Delegated Graph permission", "On an administrator, the person needs", "On anyone else")
README_START, README_END = "<!-- delegated-table -->\n", "<!-- /delegated-table -->"


def render() -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    for spec in ACTIONS.values():
        if not (spec.delegated_admin_roles or spec.delegated_roles):
            continue
        anyone = any_of(spec.delegated_roles) if spec.delegated_roles else "the app's own rights"
        lines.append(f"| `{spec.name}` | {spec.delegated_scope} | {any_of(spec.delegated_admin_roles)} | {anyone} |")
    return "\n".join(lines) + "\n"


def with_table(readme: str) -> str:
    """README.md with the generated table between its markers."""
    return spliced(readme, README_START, README_END, render())


if __name__ == "__main__":
    main(render, README_START, README_END)
