"""What every doctor check module shares (bot/doctor.py and its checks): the marks of a line, ✓ holds, ✗ fails,
! worth knowing, and how a Graph error reads on one."""

from typing import Any

OK, FAIL, WARN = "✓", "✗", "!"


def graph_said(status: int, body: dict[str, Any]) -> str:
    found = body.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    return f"{status or 'no answer'} {error.get('code', '')}: {error.get('message', '')}".strip()
