"""The audit trail of a user or a case, one page at a time (oldest first), saying whether the chain verifies."""

from __future__ import annotations

from adaptive_cards.types import Colors, FontSize, FontWeight

from bot.cards.elements import Action, Card, Element, card, container, execute, fact_line, text, when

PAGE_VERB = "audit_page"
DETAIL_CHARS = 300  # a page of 10 entries with details this long stays far below Teams' 28 KB


def audit_card(subject: str, entries: list[dict[str, str]], chain: str, chain_ok: bool, *,
               older: dict[str, str] | None = None, newer: dict[str, str] | None = None, searched: int = 0) -> Card:
    """`older`/`newer`: the signed data of the paging buttons (None: nothing that way)."""
    body: list[Element] = [text(f"Audit trail: {subject}", size=FontSize.MEDIUM, weight=FontWeight.BOLDER),
                           text(("✅ " if chain_ok else "⚠️ ") + chain,
                                color=Colors.GOOD if chain_ok else Colors.ATTENTION)]
    if not entries:
        body.append(text(f"Nothing about this in the newest {searched:,} audit entries (`python app.py audit export` "
                         "reads the whole trail).", subtle=True))
    for entry in entries:
        line = f"{when(entry.get('at', ''))} · {entry.get('phase', '')} · {entry.get('action', '')}"
        by = entry.get("actor_name", "")
        if entry.get("actor_roles"):
            by += f" ({entry['actor_roles']})"
        change = ""
        if entry.get("state_before") or entry.get("state_after"):
            change = f"{entry.get('state_before') or '—'} → {entry.get('state_after') or '—'}"
        pairs = [("By", by), ("UPN", entry.get("actor_upn", "")), ("On", entry.get("target_upn", "")),
                 ("Case", entry.get("case_id", "")), ("Result", entry.get("result", "")), ("Change", change),
                 ("Undo of", entry.get("undo_of", "")), ("Detail", entry.get("detail", "")[:DETAIL_CHARS]),
                 ("Request id", entry.get("request_id", "")), ("Seq", entry.get("seq", ""))]
        body.append(container([text(line, weight=FontWeight.BOLDER), fact_line(pairs)]))
    actions: list[Action] = []
    if older is not None or newer is not None:
        actions = [execute("Older", PAGE_VERB, older or {}, enabled=older is not None),
                   execute("Newer", PAGE_VERB, newer or {}, enabled=newer is not None)]
    return card(body, actions)
