"""Generated markdown tables kept in README.md between marker comments: the one place that splices a table in and
the command line each generator shares (`--readme` rewrites README.md, otherwise the table is printed)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def spliced(readme: str, start: str, end: str, table: str) -> str:
    """`readme` with `table` between its `start` and `end` markers."""
    head, rest = readme.split(start, 1)
    _, tail = rest.split(end, 1)
    return head + start + table + end + tail


def main(render: Callable[[], str], start: str, end: str) -> None:
    if "--readme" in sys.argv:
        README.write_text(spliced(README.read_text(encoding="utf-8"), start, end, render()), encoding="utf-8")
    else:
        print(render(), end="")
