"""Every undo, clicked from the outcome card's own undo button: the tenant is back exactly as it was (where the
sandbox gives the restored object a new id, everything but the id), and the original action can run again.

Each undo is first refused once (403): the card names the permission, nothing changes, and the undo can be
clicked again."""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningBot
from tests.e2e.card_clicks import (
    MAILBOX_HOLDER,
    RULE_DELETES,
    RULE_FORWARDS,
    TRANSPORT_RULE,
    CaseThread,
    is_active,
    phases,
)
from tests.e2e.helpers import ALICE, audit_entries, tenant, wait_until

EXCHANGE = "the app needs the Exchange.ManageAsApp permission and the Exchange Administrator role"
async def refused_once(bot: RunningBot, thread: CaseThread, clean_redis: str, verb: str, item: str,
                       fault: dict[str, Any], permission: str, title: str, label: str = "") -> None:
    """The undo button, pressed while the permission is missing: named on the card, nothing changed, audited."""
    before = tenant(bot).snapshot()
    tenant(bot).add_fault(status=403, **fault)
    await thread.click(verb, item, undo=True)
    text = await thread.wait_for(f"❌ {title}")
    headline = f"❌ {title}{f' “{label}”' if label else ''}: failed by Rita Responder"
    assert headline in text, "the undo ran on another item than the one its button is for"
    assert permission in text
    assert tenant(bot).faults == [] and tenant(bot).snapshot() == before
    entries = await audit_entries(clean_redis, thread.case_id)
    assert phases(entries, verb) == [("intent", "pending"), ("outcome", "failed")]
    assert is_active(thread.button(verb, item, undo=True)), "a failed undo may be clicked again"


def without(items: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k not in keys} for item in items]


async def test_disable_re_enable_disable_again(bot: RunningBot, clean_redis: str) -> None:
    thread = await CaseThread.open(bot)
    before = tenant(bot).snapshot()["users"]
    await thread.run("disable_account", done="Disable account: done")
    assert tenant(bot).users[ALICE]["accountEnabled"] is False
    await refused_once(bot, thread, clean_redis, "enable_account", "",
                       {"method": "PATCH", "path_regex": f"^/users/{ALICE}$"}, "User.EnableDisableAccount.All",
                       "Re-enable account")
    text = await thread.run("enable_account", undo=True, done="✅ Re-enable account: done")
    assert tenant(bot).snapshot()["users"] == before
    assert "↩️ Disable account: done (reversed since)" in text
    again = thread.button("disable_account", undo=True)
    assert again["title"] == "Disable again" and is_active(again)
    assert is_active(thread.button("disable_account"))
    await thread.run("disable_account", undo=True, done="✅ Disable account: done")
    assert tenant(bot).users[ALICE]["accountEnabled"] is False
    assert is_active(thread.button("enable_account", undo=True)), "and the undo is offered again"


async def test_block_unblock_block_again(bot: RunningBot, clean_redis: str) -> None:
    thread = await CaseThread.open(bot)
    before = tenant(bot).snapshot()["conditionalAccessPolicies"]
    await thread.run("block_signin", done="Block sign-in: done")
    assert len(tenant(bot).ca_policies) == len(before) + 1
    await refused_once(bot, thread, clean_redis, "unblock_signin", "", {"method": "DELETE", "path_regex": "/policies/"},
                       "Policy.ReadWrite.ConditionalAccess", "Unblock sign-in")
    await thread.run("unblock_signin", undo=True, done="✅ Unblock sign-in: done")
    assert tenant(bot).snapshot()["conditionalAccessPolicies"] == before
    again = thread.button("block_signin", undo=True)
    assert again["title"] == "Block again"
    await thread.run("block_signin", undo=True, done="✅ Block sign-in: done")
    assert len(tenant(bot).ca_policies) == len(before) + 1


async def test_disable_rule_re_enable_disable_again(bot: RunningBot, clean_redis: str) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("list_inbox_rules")
    await thread.wait_for("Show inbox rules: done")
    before = tenant(bot).snapshot()["inboxRules"]
    await thread.run("disable_inbox_rule", RULE_FORWARDS, done="✅ Disable rule “.”: done")
    await refused_once(bot, thread, clean_redis, "enable_inbox_rule", RULE_FORWARDS,
                       {"method": "PATCH", "path_regex": "/messageRules/"},
                       "MailboxSettings.ReadWrite", "Re-enable rule", ".")
    await thread.run("enable_inbox_rule", RULE_FORWARDS, undo=True, done="✅ Re-enable rule “.”: done")
    assert tenant(bot).snapshot()["inboxRules"] == before
    await thread.run("disable_inbox_rule", RULE_FORWARDS, done="✅ Disable rule “.”: done")
    assert tenant(bot).inbox_rules[ALICE][0]["isEnabled"] is False


async def test_delete_rule_restore_delete_again(bot: RunningBot, clean_redis: str) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("list_inbox_rules")
    await thread.wait_for("Show inbox rules: done")
    before = tenant(bot).snapshot()["inboxRules"][ALICE]
    await thread.run("delete_inbox_rule", RULE_DELETES, approval=True,
                     done="✅ Delete rule “Security alerts to archive”: done")
    assert RULE_DELETES not in [r["id"] for r in tenant(bot).inbox_rules[ALICE]]
    await refused_once(bot, thread, clean_redis, "restore_inbox_rule", RULE_DELETES,
                       {"method": "POST", "path_regex": "/messageRules$"},
                       "MailboxSettings.ReadWrite", "Restore rule", "Security alerts to archive")
    await thread.run("restore_inbox_rule", RULE_DELETES, undo=True,
                     done="✅ Restore rule “Security alerts to archive”: done")
    after = tenant(bot).snapshot()["inboxRules"][ALICE]

    def by_sequence(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(without(rules, "id"), key=lambda r: r["sequence"])

    assert by_sequence(after) == by_sequence(before)
    [restored_id] = {r["id"] for r in after} - {r["id"] for r in before}
    # The restored rule has a new id: list again, and it can be deleted again.
    await thread.click("list_inbox_rules")
    await wait_until(lambda: thread.find("delete_inbox_rule", restored_id), what="the restored rule to be listed")
    # Its status headline is the first delete's too: wait for this item's outcome, its own Restore button.
    await thread.click("delete_inbox_rule", restored_id)
    await thread.approve()
    await wait_until(lambda: thread.find("restore_inbox_rule", restored_id, undo=True),
                     what="the restored rule's deletion to be done")
    await thread.wait_for("✅ Delete rule “Security alerts to archive”: done")
    assert restored_id not in [r["id"] for r in tenant(bot).inbox_rules[ALICE]]


async def test_remove_forwarding_restore_remove_again(bot: RunningBot, clean_redis: str) -> None:
    thread = await CaseThread.open(bot)
    before = tenant(bot).snapshot()["mailboxes"]
    await thread.run("remove_forwarding", done="✅ Remove forwarding: done")
    assert tenant(bot).mailboxes[ALICE]["forwardingSmtpAddress"] is None
    await refused_once(bot, thread, clean_redis, "restore_forwarding", "", {"cmdlet": "Set-Mailbox"}, EXCHANGE,
                       "Restore forwarding")
    await thread.run("restore_forwarding", undo=True, done="✅ Restore forwarding: done")
    assert tenant(bot).snapshot()["mailboxes"] == before
    again = thread.button("remove_forwarding", undo=True)
    assert again["title"] == "Remove again"
    await thread.run("remove_forwarding", undo=True, done="✅ Remove forwarding: done")
    assert tenant(bot).mailboxes[ALICE]["forwardingSmtpAddress"] is None


async def test_remove_mailbox_access_restore_remove_again(bot: RunningBot, clean_redis: str) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("remove_mailbox_access")
    before = tenant(bot).snapshot()["mailboxes"]
    await thread.run("remove_mailbox_access", MAILBOX_HOLDER, done="✅ Remove access “mallory@contoso.com")
    assert tenant(bot).mailboxes[ALICE]["fullAccess"] == []
    await refused_once(bot, thread, clean_redis, "restore_mailbox_access", MAILBOX_HOLDER,
                       {"cmdlet": "Add-MailboxPermission"}, EXCHANGE, "Restore access",
                       f"{MAILBOX_HOLDER}: FullAccess")
    await thread.run("restore_mailbox_access", MAILBOX_HOLDER, undo=True,
                     done="✅ Restore access “mallory@contoso.com")
    assert tenant(bot).snapshot()["mailboxes"] == before
    await thread.run("remove_mailbox_access", MAILBOX_HOLDER, done="✅ Remove access “mallory@contoso.com")
    assert tenant(bot).mailboxes[ALICE]["fullAccess"] == []


async def test_remove_transport_rule_restore_remove_again(bot: RunningBot, clean_redis: str) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("remove_transport_rule")
    before = tenant(bot).snapshot()["transportRules"]
    headline = f"Remove transport rule “{TRANSPORT_RULE} (Enabled)”"
    await thread.run("remove_transport_rule", TRANSPORT_RULE, approval=True, done=f"✅ {headline}: done")
    assert tenant(bot).transport_rules == []
    restore = f"Restore transport rule “{TRANSPORT_RULE} (Enabled)”"
    await refused_once(bot, thread, clean_redis, "restore_transport_rule", TRANSPORT_RULE,
                       {"cmdlet": "New-TransportRule"}, EXCHANGE, "Restore transport rule",
                       f"{TRANSPORT_RULE} (Enabled)")
    await thread.run("restore_transport_rule", TRANSPORT_RULE, undo=True, done=f"✅ {restore}: done")
    assert without(tenant(bot).snapshot()["transportRules"], "Guid") == before  # Exchange gives it a new Guid
    await thread.run("remove_transport_rule", TRANSPORT_RULE, approval=True, done=f"✅ {headline}: done")
    assert tenant(bot).transport_rules == []


async def test_confirm_compromised_dismiss_confirm_again(bot: RunningBot, clean_redis: str) -> None:
    thread = await CaseThread.open(bot)
    assert ALICE not in tenant(bot).risky_users
    await thread.run("confirm_compromised", done="✅ Confirm compromised: done")
    await refused_once(bot, thread, clean_redis, "dismiss_risk", "", {"path_regex": "/riskyUsers/dismiss$"},
                       "IdentityRiskyUser.ReadWrite.All", "Dismiss risk")
    await thread.run("dismiss_risk", undo=True, done="✅ Dismiss risk: done")
    # Identity Protection keeps the user's risk history: no risk is “dismissed”, not absent as before.
    risky = tenant(bot).risky_users[ALICE]
    assert (risky["riskLevel"], risky["riskState"]) == ("none", "dismissed")
    again = thread.button("confirm_compromised", undo=True)
    assert again["title"] == "Confirm compromised again"
    await thread.run("confirm_compromised", undo=True, done="✅ Confirm compromised: done")
    assert tenant(bot).risky_users[ALICE]["riskLevel"] == "high"


async def test_block_user_steps_are_undone_from_the_card(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    before = tenant(bot).snapshot()
    await thread.run("block_user", inputs={"step_disable_inbox_rule": "false"}, done="✅ Block user: done")
    await thread.run("restore_forwarding", undo=True, done="✅ Restore forwarding: done")
    await thread.run("enable_account", done="✅ Re-enable account: done")
    after = tenant(bot).snapshot()
    assert after["mailboxes"] == before["mailboxes"]
    # Sessions stay revoked: that step cannot be undone.
    assert without(after["users"], "signInSessionsValidFromDateTime") == before["users"]
    undo = thread.find("restore_forwarding", undo=True)
    assert undo is None or not is_active(undo), "forwarding was restored already"
    assert is_active(thread.button("block_user")), "its steps were undone: the bundle may run again"
