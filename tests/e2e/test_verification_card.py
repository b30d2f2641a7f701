"""The card tells the truth: after an action, what the tenant shows is on the card (and in the audit), end to
end (real HTTP, sandbox tenant and channel, real Redis)."""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningBot
from tests.e2e.card_clicks import CaseThread
from tests.e2e.helpers import ALICE, audit_entries, tenant

ACCEPTED = "Graph accepted the change but the tenant shows the account still enabled"


def status_block(card: dict[str, Any], headline: str) -> dict[str, Any]:
    """The status container whose first line starts with `headline`."""
    body: list[dict[str, Any]] = card["body"]
    for block in body:
        items = block.get("items") or []
        first = items[0].get("inlines", [{}])[0].get("text", "") if items and items[0].get("inlines") else ""
        if block.get("type") == "Container" and headline in first:
            return block
    raise AssertionError(f"no status block {headline!r}")


async def test_disable_account_says_what_it_read_back(bot: RunningBot, clean_redis: str) -> None:
    thread = await CaseThread.open(bot)
    text = await thread.run("disable_account", done="Disable account: done by")
    assert "Verified: account disabled (accountEnabled false)." in text
    assert status_block(thread.card(), "Disable account: done")["style"] == "good"
    outcome = [e for e in await audit_entries(clean_redis, thread.case_id) if e["phase"] == "outcome"]
    assert outcome[-1]["detail"].endswith("Verified: account disabled (accountEnabled false).")


async def test_a_change_the_tenant_did_not_apply_is_a_warning(bot: RunningBot, clean_redis: str) -> None:
    thread = await CaseThread.open(bot)
    tenant(bot).add_fault(status=0, unapplied=True, method="PATCH", path_regex=f"^/users/{ALICE}$")
    text = await thread.run("disable_account", done="Disable account: done by")
    assert tenant(bot).users[ALICE]["accountEnabled"] is True
    assert ACCEPTED in text and "Verified:" not in text
    assert status_block(thread.card(), "Disable account: done")["style"] == "warning"  # not success green
    outcome = [e for e in await audit_entries(clean_redis, thread.case_id) if e["phase"] == "outcome"]
    assert ACCEPTED in outcome[-1]["detail"]


async def test_block_user_card_reads_back_each_step(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    text = await thread.run("block_user", done="Block user: done by")
    for step in ("Disable account: account disabled (accountEnabled false)", "Revoke sessions: sessions revoked",
                 "Remove mailbox forwarding: forwarding empty",
                 "Disable suspicious inbox rules: no suspicious inbox rule enabled"):
        assert step in text
    assert "Verified:" in text
