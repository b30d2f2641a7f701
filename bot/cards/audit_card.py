"""The audit trail of a user or a case, newest last."""

from __future__ import annotations

from bot.cards.elements import Card, card, container, fact_line, text, when


def audit_card(subject: str, entries: list[dict[str, str]], total: int, searched: int) -> Card:
    body = [text(f"Audit trail: {subject}", size="Medium", weight="Bolder")]
    if not entries:
        body.append(text(f"Nothing about this in the newest {searched:,} audit entries (the Redis stream "
                         "riposte:audit holds older ones).", isSubtle=True))
    elif total > len(entries):
        body.append(text(f"The last {len(entries)} of {total} entries.", isSubtle=True))
    for entry in entries:
        line = f"{when(entry.get('at', ''))} · {entry.get('phase', '')} · {entry.get('action', '')}"
        pairs = [("By", entry.get("actor_name", "")), ("On", entry.get("target_upn", "")),
                 ("Case", entry.get("case_id", "")), ("Result", entry.get("result", "")),
                 ("Detail", entry.get("detail", "")[:300]), ("Request id", entry.get("request_id", ""))]
        body.append(container([text(line, weight="Bolder"), fact_line(pairs)]))
    return card(body)
