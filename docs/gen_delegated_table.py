"""What delegated mode needs of each action, as a markdown table from the registry (each action file declares its
delegated Graph permission and the Entra roles Graph requires of the signed-in person).

Refresh the table in README.md between its markers:  .venv/bin/python -m docs.gen_delegated_table --readme
"""

from __future__ import annotations

from actions import ACTIONS
from actions.spec import any_of

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
    head, rest = readme.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    return head + README_START + render() + README_END + tail


if __name__ == "__main__":
    import sys
    from pathlib import Path

    if "--readme" in sys.argv:
        path = Path(__file__).resolve().parents[1] / "README.md"
        path.write_text(with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(render(), end="")
