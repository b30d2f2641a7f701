"""`audit <user | case id>` in chat: a page of the trail as a card, and its Older / Newer buttons.

The buttons carry the subject and the page's edge as signed data (bot/access/signing.py): a click can only page
through what the command that drew the card asked for, and reading still needs a Riposte role."""

from __future__ import annotations

import json
import secrets
from typing import Any

from actions.runner import Refused
from bot.access.permission import permit_verb
from bot.cards.alert_card import message_card
from bot.cards.audit_card import PAGE_VERB, audit_card
from bot.clicks.answered import Turn
from bot.services import Card, Services

PAGE_SIZE = 10
SCAN_LIMIT = 5000  # entries read per page at most: a rare user's entries may sit further back (export has all)
VERIFY_NEWEST = 20_000  # the card checks the newest links; `python app.py audit verify` checks the whole trail
AUDIT_CASE = "audit"  # the "case" of the signed button data: not a case, a page of the audit


async def audit_view(services: Services, subject: str, *, case_id: str | None, target: str | None,
                     before: str = "", after: str = "") -> Card:
    page = await services.audit.page(case_id=case_id, target=target, size=PAGE_SIZE, before=before, after=after,
                                     scan_limit=SCAN_LIMIT)
    verdict = await services.audit.verify(newest=VERIFY_NEWEST)
    reference = {"s": subject, "c": case_id or "", "t": target or ""}
    older = newer = None
    if page.entries and page.has_older:
        older = _signed(services, {**reference, "b": page.entries[0]["id"]})
    if page.entries and page.has_newer:
        newer = _signed(services, {**reference, "a": page.entries[-1]["id"]})
    return audit_card(subject, page.entries, verdict.describe(), verdict.ok, older=older, newer=newer,
                      searched=SCAN_LIMIT)


def _signed(services: Services, reference: dict[str, str]) -> dict[str, str]:
    item = json.dumps(reference, separators=(",", ":"), sort_keys=True)
    return services.signer.data(AUDIT_CASE, PAGE_VERB, secrets.token_hex(4), item)


async def page_click(services: Services, object_id: str, name: str, item: str, turn: Turn) -> Card:
    """An Older / Newer click whose signature was already checked (bot/clicks/handle.py)."""
    try:
        await permit_verb(services, "audit", object_id, name, turn)
    except Refused as refusal:
        return message_card(f"{refusal} The audit trail is not shown.", "attention")
    try:
        reference: dict[str, Any] = json.loads(item)
    except ValueError:
        return message_card("This button's data is not an audit page.", "attention")
    return await audit_view(services, str(reference.get("s", "")), case_id=str(reference.get("c", "")) or None,
                            target=str(reference.get("t", "")) or None, before=str(reference.get("b", "")),
                            after=str(reference.get("a", "")))
