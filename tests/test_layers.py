"""The import rules, read from the source with `ast` (no module is imported): dependencies point one way,
app → bot → actions → Graph/Exchange clients; botbuilder and msrest stay in the Teams adapter; production code
never imports the local sandbox. ruff's TID251 says the same per file as you type; this also checks direction."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = ("app.py", "bot", "actions")
# Not production, but shipped next to it: they must not reach for the SDK either.
TOOLS = ("sandbox", "manifest", "bench")
BOT_FRAMEWORK = ("botbuilder", "botframework", "msrest")
TEAMS_ADAPTER = ("bot/teams/", "bot/dialogs/")
# The click benchmark's bare botbuilder bot: botbuilder itself is what it measures (Riposte never imports it).
SDK_BASELINE = "bench/click_baselines.py"
# The deliberate exceptions: local mode starts the sandbox from app.py, imported lazily (serving, and `doctor`).
LAZY_SANDBOX = {("app.py", "serve", "sandbox.launcher"), ("app.py", "doctor_on_the_sandbox", "sandbox.launcher"),
                ("app.py", "doctor_on_the_sandbox", "sandbox.tenant_state")}


@dataclass(frozen=True)
class Import:
    path: str  # relative to the repository, with forward slashes
    function: str  # the enclosing function's name, "" at module level
    module: str  # the imported module's dotted name
    line: int


def imports_of(path: str, source: str) -> list[Import]:
    """Every module a file imports, absolute (relative imports resolved against its package)."""
    found: list[Import] = []
    package = path.removesuffix(".py").split("/")[:-1]

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Import):
                found.extend(Import(path, function, alias.name, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = ".".join([*package[: len(package) - child.level + 1], *([child.module] if child.module else [])]
                                ) if child.level else child.module or ""
                # `from .. import app` imports the module app itself: name it, not the empty package path.
                modules = [base] if base else [alias.name for alias in child.names]
                found.extend(Import(path, function, module, child.lineno) for module in modules)
            visit(child, function)

    visit(ast.parse(source, filename=path), "")
    return found


def python_files(*tops: str) -> list[str]:
    files: list[str] = []
    for top in tops:
        location = ROOT / top
        paths = [location] if location.is_file() else sorted(location.rglob("*.py"))
        files.extend(str(p.relative_to(ROOT)).replace("\\", "/") for p in paths)
    return files


def all_imports(*tops: str) -> list[Import]:
    return [found for path in python_files(*tops) for found in imports_of(path, (ROOT / path).read_text("utf-8"))]


def top(module: str) -> str:
    return module.split(".")[0]


def violations(found: list[Import]) -> list[str]:
    """Each broken rule, as `path:line: what`."""
    broken: list[str] = []
    for each in found:
        where = f"{each.path}:{each.line}: imports {each.module}"
        layer = top(each.path.removesuffix(".py").replace("/", "."))
        if layer == "actions" and top(each.module) in ("bot", "app"):
            broken.append(f"{where} (actions never imports bot or app)")
        if layer == "bot" and top(each.module) == "app":
            broken.append(f"{where} (bot never imports app)")
        if layer in ("app", "bot", "actions") and top(each.module) == "sandbox" and (
            each.path, each.function, each.module) not in LAZY_SANDBOX:
            broken.append(f"{where} (production code never imports the sandbox)")
        if top(each.module) in BOT_FRAMEWORK and not each.path.startswith(TEAMS_ADAPTER) and each.path != SDK_BASELINE:
            broken.append(f"{where} (the Bot Framework SDK stays in bot/teams/ and bot/dialogs/)")
    return broken


def test_the_import_rules_hold() -> None:
    assert violations(all_imports(*PRODUCTION, *TOOLS)) == []


def test_the_only_sandbox_import_in_production_code_is_app_py_local_mode() -> None:
    sandbox = [(i.path, i.function, i.module) for i in all_imports(*PRODUCTION) if top(i.module) == "sandbox"]
    assert set(sandbox) == LAZY_SANDBOX


def test_the_scan_sees_the_adapter_importing_botbuilder() -> None:
    """Guards the walker itself: if it found nothing, the rules above would pass vacuously."""
    found = all_imports("bot/teams")
    assert any(i.path == "bot/teams/adapter.py" and top(i.module) == "botbuilder" for i in found)
    assert any(i.path == "bot/teams/adapter.py" and top(i.module) == "msrest" for i in found)
    assert len(python_files(*PRODUCTION)) > 50


def test_each_rule_catches_its_violation() -> None:
    cases = {
        "actions/x.py": ("from bot.config import Settings\n", "actions never imports bot"),
        "actions/y.py": ("import app\n", "actions never imports bot or app"),
        "bot/x.py": ("from app import create_app\n", "bot never imports app"),
        "bot/y.py": ("from sandbox.channel import CHANNEL\n", "never imports the sandbox"),
        "app.py": ("def create():\n    import sandbox.tenant\n", "never imports the sandbox"),
        "bot/flows2.py": ("from botbuilder.core import TurnContext\n", "stays in bot/teams/"),
        "actions/z.py": ("import msrest.serialization\n", "stays in bot/teams/"),
        "sandbox/x.py": ("from botframework.connector import auth\n", "stays in bot/teams/"),
        "bot/cards/x.py": ("from ..teams import adapter\nfrom ... import app\n", "bot never imports app"),
    }
    for path, (source, reason) in cases.items():
        broken = violations(imports_of(path, source))
        assert broken and reason in broken[-1], (path, broken)
    assert violations(imports_of("bot/teams/x.py", "from botbuilder.core import TurnContext\n")) == []
    assert violations(imports_of("app.py", "async def serve():\n    from sandbox.launcher import start\n")) == []
