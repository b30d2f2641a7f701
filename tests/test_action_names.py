"""bot/ never names an action: everything it does with one follows from the action's own ActionSpec (its card
inputs, bundle steps, watched aspects, what it needs from the bot...), so adding or changing an action means one
file in actions/, never a hunt through bot/ for special cases. Read from the source with `ast`: every string
literal in bot/ (docstrings aside) is checked for a registered action's name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from actions import ACTIONS

ROOT = Path(__file__).resolve().parents[1]
# Declarative defaults, which name actions the way a configuration file would. Nothing here decides how an
# action runs or is drawn; each table is checked against the registry by its own tests.
ALLOWED = {
    "bot/commands/table.py": "the command table: which actions each typed command offers (test_command_table)",
    "bot/intake/recommendations.py": "what each kind of alert recommends first (test_recommendations)",
    "bot/config.py": "RIPOSTE_AUTOMATION_ACTIONS' default, revoke_sessions (test_config)",
}
NAMES = re.compile(r"\b(" + "|".join(sorted(map(re.escape, ACTIONS), key=len, reverse=True)) + r")\b")


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string nodes that are docstrings (module, class, function): prose, not behaviour."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def mentions(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    prose = _docstrings(tree)
    return [f"{path.relative_to(root)}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
            and NAMES.search(node.value)]


def test_bot_names_no_action_outside_the_declarative_tables() -> None:
    found = [line for path in sorted((ROOT / "bot").rglob("*.py"))
             if str(path.relative_to(ROOT)) not in ALLOWED for line in mentions(path)]
    assert not found, "bot/ names actions; describe the behaviour on the ActionSpec instead:\n" + "\n".join(found)


def test_the_check_sees_a_name_in_code_and_not_in_a_docstring(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text('"""block_user is fine here."""\n\nSPECIAL = {"block_user"}\nOTHER = f"x {1} remove_app"\n')
    found = [line.split(": ", 1)[1] for line in mentions(module, tmp_path)]
    assert found == ["'block_user'", "' remove_app'"]


def test_every_allowed_file_still_exists() -> None:
    assert [name for name in ALLOWED if not (ROOT / name).is_file()] == []
