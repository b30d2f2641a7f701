"""Driving one case card the way a person does: read the card as it is now, press one of its buttons (with the
card's input values, as Teams merges them), wait for the background outcome, and get past an approval."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from actions import ACTIONS
from tests.conftest import RunningBot
from tests.e2e.helpers import (
    APPROVER,
    RESPONDER,
    SAMPLE_ALERT,
    USERS,
    card_of,
    card_text,
    case_thread_root,
    channel,
    execute_buttons,
    posted_card,
    wait_until,
)

ALICE_UPN = "alice@contoso.com"
PAT_UPN = USERS["pat_fabrikam.com#EXT#"]["userPrincipalName"]
SAM_UPN = "sam.synced@contoso.com"
BREAKGLASS_UPN = "breakglass@contoso.onmicrosoft.com"
BREAKGLASS = USERS["breakglass"]["id"]
_alert_ids = itertools.count(1)


def is_active(button: dict[str, Any]) -> bool:
    return button.get("isEnabled", True) is not False


@dataclass
class CaseThread:
    """One alert's thread: its root card (shared by everyone) and the replies under it (approval cards)."""

    bot: RunningBot
    case_id: str
    root_id: str
    conversation_id: str

    @classmethod
    async def open(cls, bot: RunningBot, upn: str = ALICE_UPN) -> CaseThread:
        alert = {**SAMPLE_ALERT, "id": f"catalogue-{next(_alert_ids)}", "user": upn}
        case_id, root = await posted_card(bot, alert)
        conversation_id = next(t["id"] for t in channel(bot).threads() if t["root"]["id"] == root["id"])
        return cls(bot, case_id, root["id"], conversation_id)

    @classmethod
    async def open_existing(cls, bot: RunningBot, case_id: str) -> CaseThread:
        """The thread of a case that was opened by an alert already sent (once its card is posted)."""
        root = await case_thread_root(bot, case_id)
        conversation_id = next(t["id"] for t in channel(bot).threads() if t["root"]["id"] == root["id"])
        return cls(bot, case_id, root["id"], conversation_id)

    # -- reading ------------------------------------------------------------------------------

    def card(self) -> dict[str, Any]:
        return card_of(channel(self.bot).find_activity(self.root_id))

    def text(self) -> str:
        return card_text(self.card())

    def find(self, verb: str, item: str = "", *, undo: bool = False) -> dict[str, Any] | None:
        """The button for `verb` (on `item`): an undo button on a status block when `undo`, a per-item button in
        a listing when `item`, else one of the card's main buttons."""
        card = self.card()
        scope = card["body"] if undo or item else card.get("actions", [])
        matches = [b for b in execute_buttons(scope) if b["verb"] == verb and b["data"].get("item", "") == item]
        assert len(matches) <= 1, f"{len(matches)} buttons {verb!r} (item {item!r}) on the card"
        return matches[0] if matches else None

    def button(self, verb: str, item: str = "", *, undo: bool = False) -> dict[str, Any]:
        found = self.find(verb, item, undo=undo)
        shown = sorted((b["verb"], b["data"].get("item", ""), b["title"]) for b in execute_buttons(self.card()))
        assert found is not None, f"no button {verb!r} (item {item!r}, undo {undo}) on the card; it has {shown}"
        return found

    def replies(self) -> list[dict[str, Any]]:
        thread = next(t for t in channel(self.bot).threads() if t["id"] == self.conversation_id)
        replies: list[dict[str, Any]] = thread["replies"]
        return replies

    # -- acting -------------------------------------------------------------------------------

    async def click(self, verb: str, item: str = "", *, user: str = RESPONDER, undo: bool = False,
                    inputs: dict[str, str] | None = None) -> dict[str, Any]:
        """Press the button on the card as it is now; return the card the invoke answered the clicker with."""
        button = self.button(verb, item, undo=undo)
        assert is_active(button), f"{button['title']!r} is greyed out: {button.get('tooltip')}"
        status, answer = await channel(self.bot).send_invoke(
            user, self.conversation_id, self.root_id, verb, {**button["data"], **(inputs or {})}
        )
        assert status == 200 and answer["statusCode"] == 200, answer
        value: dict[str, Any] = answer["value"]
        spec = ACTIONS.get(verb)
        listed = (spec is not None and spec.item_kind and not item and not undo
                  and not any(notice in str(value) for notice in ("Could not list", "still listing")))
        if listed:  # the clicker's answer shows the listing at once; everyone's card gets it just after
            await wait_until(lambda: self._shows_listing_of(value), what="the listing on the shared card")
        return value

    def _shows_listing_of(self, answer: dict[str, Any]) -> bool:
        """Whether the shared card shows what the clicker's answer listed: its items' buttons, or (nothing listed)
        the same text. Not the whole card by equality: the watcher may redraw it meanwhile (a later check time)."""
        listed = {(b["verb"], b["data"]["item"]) for b in execute_buttons(answer) if b["data"].get("item")}
        if not listed:
            return self.text() == card_text(answer)
        shown = {(b["verb"], b["data"].get("item")) for b in execute_buttons(self.card())}
        return listed <= shown

    async def wait_for(self, needle: str, seconds: float = 30.0) -> str:
        """The card's text once it says `needle` and nothing is still running."""

        def ready() -> str:
            text = self.text()
            return text if needle in text and "working…" not in text else ""

        try:
            text: str = await wait_until(ready, seconds, what=f"the card to say {needle!r}")
        except AssertionError as error:
            headlines = [line for line in self.text().splitlines() if line[:1] in "✅❌⏳🕒↩⚠🚫⌛"]
            raise AssertionError(f"{error}; the card says {headlines}") from None
        return text

    async def approve(self, *, user: str = APPROVER) -> dict[str, Any]:
        """Approve the newest pending approval request in the thread; return the approver's own answer."""
        def pending() -> list[dict[str, Any]]:  # posted just after the requester's answer
            return [reply for reply in self.replies() if any(
                b["verb"] == "approve" for b in execute_buttons(reply.get("attachments") or []))]

        reply = (await wait_until(pending, what="an approval request in the thread"))[-1]
        data = next(b for b in execute_buttons(reply["attachments"]) if b["verb"] == "approve")["data"]
        status, answer = await channel(self.bot).send_invoke(user, self.conversation_id, reply["id"], "approve", data)
        assert status == 200 and answer["statusCode"] == 200, answer
        value: dict[str, Any] = answer["value"]
        return value

    async def run(self, verb: str, item: str = "", *, done: str, approval: bool = False, undo: bool = False,
                  inputs: dict[str, str] | None = None) -> str:
        """Click, approve when the action needs it, and wait until the card says `done`."""
        await self.click(verb, item, inputs=inputs, undo=undo)
        if approval:
            await self.approve()
        return await self.wait_for(done)


# The seed's things to act on (sandbox/seed.json).
RULE_FORWARDS = "AQAAAJ5dZqA="  # “.”: forwards invoices outside, marks read, hides in RSS Feeds
RULE_DELETES = "AQAAAJ5dZqB="  # “Security alerts to archive”: deletes security mail
RULE_BENIGN = "AQAAAJ5dZqC="  # “Newsletters”
GRANT = "Z3JhbnQtYWxpY2UtbWFpbHN5bmM"  # alice's consent to “Mail Sync Pro”
MAIL_SYNC_PRO = "5a000000-0000-4000-8000-000000000001"
TEAMS_INSTALL = "NDQ1ZjgzYjItYjNlMC00ZjI0LWI2OGYtNjZhZDJhZmI0ZmJl"  # “Sketchy Notes”, sideloaded
PHONE_METHOD = "3179e48a-750b-4051-897c-87b9720928f7"  # the attacker's phone, the newest method
AUTHENTICATOR_METHOD = "6e2ab1a3-53f0-4f5c-9c4e-1b2f8d3e4a51"
MAILBOX_HOLDER = "mallory@contoso.com"
TRANSPORT_RULE = "Copy finance mail out"


def phases(entries: list[dict[str, str]], action: str) -> list[tuple[str, str]]:
    """(phase, result) of an action's intent and outcome entries in the audit, oldest first."""
    return [(e["phase"], e["result"]) for e in entries if e["action"] == action and e["phase"] in ("intent", "outcome")]
