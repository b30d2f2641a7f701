"""Every action a responder can reach from the card, clicked end to end (real HTTP, sandbox tenant and channel,
real Redis), with its effect checked in the tenant's state; what does not apply is greyed with the reason; a
missing permission is a clear failure that changes nothing."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from sandbox.card_markdown import literal_texts
from tests.conftest import BotFactory, RunningBot
from tests.e2e.card_clicks import (
    ALICE_UPN,
    AUTHENTICATOR_METHOD,
    BREAKGLASS,
    BREAKGLASS_UPN,
    GRANT,
    MAIL_SYNC_PRO,
    MAILBOX_HOLDER,
    PAT_UPN,
    PHONE_METHOD,
    RULE_BENIGN,
    RULE_DELETES,
    RULE_FORWARDS,
    SAM_UPN,
    TEAMS_INSTALL,
    TRANSPORT_RULE,
    CaseThread,
    is_active,
    phases,
)
from tests.e2e.helpers import (
    ALICE,
    RESPONDER,
    audit_entries,
    card_of,
    card_text,
    channel,
    execute_buttons,
    tenant,
    wait_until,
)

MAILBOX_ACTIONS = ("list_inbox_rules", "remove_forwarding", "remove_mailbox_access")


def rule(bot: RunningBot, rule_id: str) -> dict[str, Any] | None:
    return next((r for r in tenant(bot).inbox_rules[ALICE] if r["id"] == rule_id), None)


def listing_labels(thread: CaseThread, title: str) -> list[str]:
    """The item labels of one listing, in card order (each item is a container: label, reason, buttons)."""
    body = thread.card()["body"]
    start = next(i for i, block in enumerate(body) if literal_texts(block) == [title])
    labels = []
    for block in body[start + 1:]:
        if block.get("type") != "Container" or not execute_buttons(block):
            break
        labels.append(literal_texts(block["items"][0])[0])
    return labels


# -- one click, one effect ------------------------------------------------------------------------------


async def test_disable_account_then_only_re_enable_applies(bot: RunningBot, clean_redis: str) -> None:
    thread = await CaseThread.open(bot)
    text = await thread.run("disable_account", done="Disable account: done by Rita Responder")
    assert tenant(bot).users[ALICE]["accountEnabled"] is False
    assert "Disabled the account of Alice Target" in text and "Request id:" in text
    disable = thread.button("disable_account")
    assert not is_active(disable) and disable["tooltip"] == "the account is already disabled"
    assert is_active(thread.button("enable_account"))
    assert is_active(thread.button("enable_account", undo=True))
    entries = await audit_entries(clean_redis, thread.case_id)
    assert phases(entries, "disable_account") == [("intent", "pending"), ("outcome", "ok")]


async def test_block_signin_creates_a_policy_for_the_user_that_spares_break_glass(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    before = set(tenant(bot).ca_policies)
    text = await thread.run("block_signin", done="Block sign-in: done by")
    [new_id] = set(tenant(bot).ca_policies) - before
    policy = tenant(bot).ca_policies[new_id]
    name = f"Riposte block: alice@contoso.com (case {thread.case_id})"
    assert policy["displayName"] == name and policy["state"] == "enabled"
    assert policy["conditions"]["users"] == {"includeUsers": [ALICE], "excludeUsers": [BREAKGLASS]}
    assert policy["conditions"]["applications"] == {"includeApplications": ["All"]}
    assert policy["grantControls"]["builtInControls"] == ["block"]
    assert name in text
    assert is_active(thread.button("unblock_signin", undo=True))


async def test_revoke_sessions(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    assert "signInSessionsValidFromDateTime" not in tenant(bot).users[ALICE]
    await thread.run("revoke_sessions", done="Revoke sessions: done by")
    assert tenant(bot).users[ALICE]["signInSessionsValidFromDateTime"]


async def test_remove_forwarding_clears_the_mailbox_forwarding(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    text = await thread.run("remove_forwarding", done="Remove forwarding: done by")
    assert tenant(bot).mailboxes[ALICE] == {"forwardingSmtpAddress": None, "forwardingAddress": None,
                                            "deliverToMailboxAndForward": False, "fullAccess": [MAILBOX_HOLDER]}
    assert "was forwarding to smtp:invoices@evil.example, keeping a copy in the mailbox" in text


async def test_confirm_compromised_sets_user_risk_high(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.run("confirm_compromised", done="Confirm compromised: done by")
    risky = tenant(bot).risky_users[ALICE]
    assert (risky["riskLevel"], risky["riskState"]) == ("high", "confirmedCompromised")
    assert is_active(thread.button("dismiss_risk", undo=True))


async def test_inbox_rules_are_listed_suspicious_first_with_reasons(bot: RunningBot) -> None:
    tenant(bot).inbox_rules[ALICE][2]["sequence"] = 0  # the benign rule now runs first
    thread = await CaseThread.open(bot)
    await thread.click("list_inbox_rules")
    text = await thread.wait_for("Show inbox rules: done by")
    assert listing_labels(thread, "Inbox rules") == [".", "Security alerts to archive", "Newsletters"]
    assert ("Suspicious: forwards mail outside contoso.com (invoices@evil.example); moves mail to RSS Feeds; "
            "marks mail about invoice, payment, wire as read; has a meaningless name ('.')") in text
    assert "Suspicious: deletes mail" in text
    assert text.count("Suspicious:") == 2
    for rule_id in (RULE_FORWARDS, RULE_DELETES, RULE_BENIGN):
        assert is_active(thread.button("disable_inbox_rule", rule_id))
        assert is_active(thread.button("delete_inbox_rule", rule_id))
    assert tenant(bot).mutations() == []


async def test_disable_one_inbox_rule(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("list_inbox_rules")
    await thread.wait_for("Show inbox rules: done by")
    await thread.run("disable_inbox_rule", RULE_DELETES, done="Disable rule “Security alerts to archive”: done by")
    assert [(r["id"], r["isEnabled"]) for r in tenant(bot).inbox_rules[ALICE]] == [
        (RULE_FORWARDS, True), (RULE_DELETES, False), (RULE_BENIGN, True)]
    assert not is_active(thread.button("disable_inbox_rule", RULE_DELETES))
    assert is_active(thread.button("disable_inbox_rule", RULE_FORWARDS))
    assert is_active(thread.button("enable_inbox_rule", RULE_DELETES, undo=True))


async def test_delete_one_inbox_rule_after_approval(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("list_inbox_rules")
    await thread.wait_for("Show inbox rules: done by")
    answer = await thread.click("delete_inbox_rule", RULE_FORWARDS)
    assert "needs a second person's approval" in card_text(answer)
    assert rule(bot, RULE_FORWARDS) is not None
    await thread.approve()
    text = await thread.wait_for("Delete rule “.”: done by")
    assert "Approved by Avery Approver." in text
    assert [r["id"] for r in tenant(bot).inbox_rules[ALICE]] == [RULE_DELETES, RULE_BENIGN]


# The answer budget (Teams' ~5 s, RIPOSTE_ANSWER_BUDGET_SECONDS) shortened; Graph's listing is held (answers when
# the test releases it) rather than slow for a guessed number of seconds. Budget and step limits work the same at
# any length.
SHORT_BUDGET = 1.0
LISTING = "^/oauth2PermissionGrants"


async def click_answered_within(thread: CaseThread, seconds: float, verb: str) -> dict[str, Any]:
    started = time.monotonic()
    try:
        answer = await asyncio.wait_for(thread.click(verb), seconds)
    except TimeoutError:
        raise AssertionError(f"no answer within {seconds} s: it waited for Graph") from None
    assert time.monotonic() - started < seconds
    return answer


async def test_a_slow_listing_is_answered_in_time_and_lands_on_the_card_later(make_bot: BotFactory) -> None:
    thread = await CaseThread.open(await make_bot(answer_budget_seconds=SHORT_BUDGET))
    tenant(thread.bot).add_fault(status=0, until_released=True, method="GET", path_regex=LISTING)

    answer = await click_answered_within(thread, SHORT_BUDGET + 1, "remove_app")

    assert "Remove app: still listing (Graph is slow)" in card_text(answer)
    tenant(thread.bot).faults.release()
    await thread.wait_for("Mail Sync Pro")
    assert listing_labels(thread, "Consented apps") == ["Mail Sync Pro (Mail.ReadWrite Mail.Send offline_access)"]


async def test_a_slow_role_check_and_a_slow_listing_share_one_answer_budget(make_bot: BotFactory) -> None:
    # A 2.5 s budget, a role check of 1.5 s (within its own 3.5 s limit), a listing that takes longer than its own
    # 3 s limit: with a limit each the answer would come after 4.5 s; sharing the budget, after 2.5 s.
    thread = await CaseThread.open(await make_bot(answer_budget_seconds=2.5))
    tenant(thread.bot).add_fault(status=0, delay=1.5, method="POST",
                                 path_regex=f"^/users/{RESPONDER}/checkMemberGroups$")
    tenant(thread.bot).add_fault(status=0, until_released=True, method="GET", path_regex=LISTING)

    answer = await click_answered_within(thread, 3.5, "remove_app")

    assert "still listing" in card_text(answer)
    tenant(thread.bot).faults.release()
    await thread.wait_for("Mail Sync Pro")


async def test_a_slow_listing_that_then_fails_says_so_in_the_thread(make_bot: BotFactory) -> None:
    thread = await CaseThread.open(await make_bot(answer_budget_seconds=SHORT_BUDGET))
    tenant(thread.bot).add_fault(status=403, until_released=True, method="GET", path_regex=LISTING)

    answer = await click_answered_within(thread, SHORT_BUDGET + 1, "remove_app")
    tenant(thread.bot).faults.release()

    assert "still listing" in card_text(answer)
    reply = await wait_until(lambda: [r for r in thread.replies() if "Could not list them" in card_text(card_of(r))],
                             what="the listing's failure in the thread")
    assert "the app needs the Directory.Read.All (or DelegatedPermissionGrant.ReadWrite.All) application permission" \
        in card_text(card_of(reply[0]))


@pytest.mark.parametrize("mode", ["grant", "app"])
async def test_remove_app_in_both_modes(bot: RunningBot, mode: str, clean_redis: str) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("remove_app")
    assert listing_labels(thread, "Consented apps") == ["Mail Sync Pro (Mail.ReadWrite Mail.Send offline_access)"]
    assert "can read and change mail, send mail as the user" in thread.text()
    assert [i["id"] for i in thread.card()["body"] if i.get("type") == "Input.ChoiceSet"] == ["app_mode"]
    await thread.run("remove_app", GRANT, inputs={"app_mode": mode}, approval=True,
                     done="Remove app “Mail Sync Pro (Mail.ReadWrite Mail.Send offline_access)”: done by")
    assert GRANT not in tenant(bot).oauth2_grants
    # The intent, written before anything changed, says which app and how far the removal goes.
    [intent] = [e for e in await audit_entries(clean_redis, thread.case_id) if e["phase"] == "intent"]
    assert f"item: Mail Sync Pro (Mail.ReadWrite Mail.Send offline_access) ({GRANT})" in intent["detail"]
    assert f"mode: {mode}" in intent["detail"]
    if mode == "grant":
        assert MAIL_SYNC_PRO in tenant(bot).service_principals
        assert "Revoked Alice Target (alice@contoso.com)'s consent to “Mail Sync Pro”" in thread.text()
    else:
        assert MAIL_SYNC_PRO not in tenant(bot).service_principals
        assert MAIL_SYNC_PRO in tenant(bot).deleted_items
        assert "Deleted the enterprise application “Mail Sync Pro” from the tenant" in thread.text()


async def test_remove_teams_app(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("remove_teams_app")
    assert listing_labels(thread, "Teams apps") == ["Sketchy Notes"]
    assert "Suspicious: sideloaded" in thread.text()
    await thread.run("remove_teams_app", TEAMS_INSTALL, done="Remove Teams app “Sketchy Notes”: done by")
    assert tenant(bot).teams_apps[ALICE] == []


async def test_remove_mailbox_access(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("remove_mailbox_access")
    assert listing_labels(thread, "Mailbox FullAccess holders") == [f"{MAILBOX_HOLDER}: FullAccess"]
    await thread.run("remove_mailbox_access", MAILBOX_HOLDER, done="Remove access “mallory@contoso.com")
    assert tenant(bot).mailboxes[ALICE]["fullAccess"] == []


async def test_remove_transport_rule_after_approval(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("remove_transport_rule")
    assert listing_labels(thread, "Transport rules") == [f"{TRANSPORT_RULE} (Enabled)"]
    assert "copies or redirects mail outside the tenant (archive@evil.example)" in thread.text()
    await thread.run("remove_transport_rule", TRANSPORT_RULE, approval=True,
                     done=f"Remove transport rule “{TRANSPORT_RULE} (Enabled)”: done by")
    assert tenant(bot).transport_rules == []


async def test_remove_auth_method_lists_newest_first_and_removes_the_attacker_phone(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("remove_auth_method")
    assert listing_labels(thread, "Authentication methods (newest first)") == [
        "Phone (mobile) +1 2065550199", "Microsoft Authenticator: Alice's iPhone"]  # never the password
    await thread.run("remove_auth_method", PHONE_METHOD, done="Remove MFA method “Phone (mobile) +1 2065550199”: done")
    assert [m["id"] for m in tenant(bot).auth_methods[ALICE]] == [
        "28c10230-6103-485e-b985-444c60001490", AUTHENTICATOR_METHOD]


TAP = "d9b0ca5a-46a5-4c5e-9a0e-0fb1b9b8e7c2"


async def test_an_attacker_temporary_access_pass_is_flagged_and_removed(bot: RunningBot) -> None:
    tenant(bot).auth_methods[ALICE].append({
        "id": TAP, "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
        "createdDateTime": "2020-01-01T00:00:00Z", "lifetimeInMinutes": 480, "isUsableOnce": False,
        "isUsable": True, "methodUsabilityReason": "EnabledByPolicy",
    })
    thread = await CaseThread.open(bot)
    await thread.click("remove_auth_method")
    labels = listing_labels(thread, "Authentication methods (newest first)")
    assert "Temporary Access Pass (reusable, 480 min)" in labels
    assert "signs in without the password or MFA while it is valid" in thread.text()
    await thread.run("remove_auth_method", TAP,
                     done="Remove MFA method “Temporary Access Pass (reusable, 480 min)”: done")
    assert TAP not in [m["id"] for m in tenant(bot).auth_methods[ALICE]]
    assert any(r.method == "DELETE" and r.path == f"/users/{ALICE}/authentication/temporaryAccessPassMethods/{TAP}"
               for r in tenant(bot).requests)


async def test_removing_the_default_phone_is_refused_with_what_to_do(bot: RunningBot) -> None:
    tenant(bot).default_methods[ALICE] = PHONE_METHOD
    thread = await CaseThread.open(bot)
    await thread.click("remove_auth_method")
    await thread.click("remove_auth_method", PHONE_METHOD)
    text = await thread.wait_for("❌ Remove MFA method “Phone (mobile) +1 2065550199”")
    assert "is the user's default sign-in method" in text
    assert "Change the default sign-in method first" in text and "then remove it" in text
    assert PHONE_METHOD in [m["id"] for m in tenant(bot).auth_methods[ALICE]]


# -- block_user: the bundle ---------------------------------------------------------------------------


def assert_steps(text: str, expected: list[str]) -> None:
    """The bundle's outcome lists exactly `expected` steps: the bullets under its "Block user: …" headline (not the
    watcher's "missing: …" bullets, which its first check adds to the card whenever it finishes)."""
    lines = text.splitlines()
    headline = next(n for n, line in enumerate(lines) if "Block user: done by" in line)
    steps: list[str] = []
    for line in lines[headline + 1:]:
        if line[:1] in "✅❌⏳🕒↩⚠🚫⌛":  # the next block's headline
            break
        if line.startswith("• "):
            steps.append(line)
    lines = steps
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(f"• {start}"), (line, start)


async def test_block_user_runs_every_step(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    assert [i["id"] for i in thread.card()["body"] if i.get("type") == "Input.Toggle"] == [
        "step_disable_account", "step_revoke_sessions", "step_remove_forwarding", "step_disable_inbox_rule"]
    text = await thread.run("block_user", done="Block user: done by")
    alice = tenant(bot).users[ALICE]
    assert alice["accountEnabled"] is False and alice["signInSessionsValidFromDateTime"]
    assert tenant(bot).mailboxes[ALICE]["forwardingSmtpAddress"] is None
    assert [(r["id"], r["isEnabled"]) for r in tenant(bot).inbox_rules[ALICE]] == [
        (RULE_FORWARDS, False), (RULE_DELETES, False), (RULE_BENIGN, True)]
    assert "4 of 4 steps succeeded." in text
    assert_steps(text, ["✓ Disabled the account", "✓ Revoked every sign-in session", "✓ Removed mailbox forwarding",
                        "✓ Disabled 2 suspicious inbox rule(s): “.”, “Security alerts to archive”."])
    assert is_active(thread.button("restore_forwarding", undo=True))
    # Each rule the bundle disabled has its own "Re-enable rule" button.
    assert is_active(thread.button("enable_inbox_rule", RULE_DELETES, undo=True))
    await thread.run("enable_inbox_rule", RULE_DELETES, undo=True,
                     done="Re-enable rule “Security alerts to archive”: done by")
    assert [(r["id"], r["isEnabled"]) for r in tenant(bot).inbox_rules[ALICE]] == [
        (RULE_FORWARDS, False), (RULE_DELETES, True), (RULE_BENIGN, True)]


async def test_block_user_with_a_step_unticked_skips_only_that_step(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    text = await thread.run("block_user", inputs={"step_revoke_sessions": "false"}, done="Block user: done by")
    assert "signInSessionsValidFromDateTime" not in tenant(bot).users[ALICE]
    assert not [r for r in tenant(bot).requests if r.path.endswith("/revokeSignInSessions")]
    assert tenant(bot).users[ALICE]["accountEnabled"] is False
    assert tenant(bot).mailboxes[ALICE]["forwardingSmtpAddress"] is None
    assert "3 of 3 steps succeeded." in text
    assert_steps(text, ["✓ Disabled the account", "✓ Removed mailbox forwarding", "✓ Disabled 2 suspicious"])


async def test_block_user_with_one_step_refused_runs_the_others(bot: RunningBot, clean_redis: str) -> None:
    thread = await CaseThread.open(bot)
    tenant(bot).add_fault(method="PATCH", path_regex=f"^/users/{ALICE}$", status=403, times=None)
    text = await thread.run("block_user", done="Block user: done by")
    assert tenant(bot).users[ALICE]["accountEnabled"] is True
    assert tenant(bot).users[ALICE]["signInSessionsValidFromDateTime"]
    assert tenant(bot).mailboxes[ALICE]["forwardingSmtpAddress"] is None
    assert [r["isEnabled"] for r in tenant(bot).inbox_rules[ALICE]] == [False, False, True]
    assert "3 of 4 steps succeeded; failed: Disable account." in text
    assert_steps(text, ["✗ Graph refused to enable or disable the account", "✓ Revoked", "✓ Removed mailbox",
                        "✓ Disabled 2 suspicious"])
    assert "the app needs the User.EnableDisableAccount.All and User.Read.All application permission" in text
    entries = await audit_entries(clean_redis, thread.case_id)
    assert phases(entries, "block_user") == [("intent", "pending"), ("outcome", "ok")]


# -- what does not apply is greyed, with the reason ----------------------------------------------------


async def test_disabled_account_offers_re_enable_not_disable(bot: RunningBot) -> None:
    tenant(bot).users[ALICE]["accountEnabled"] = False
    thread = await CaseThread.open(bot)
    disable = thread.button("disable_account")
    assert not is_active(disable) and disable["tooltip"] == "the account is already disabled"
    assert is_active(thread.button("enable_account"))
    await thread.run("enable_account", done="Re-enable account: done by")
    assert tenant(bot).users[ALICE]["accountEnabled"] is True
    assert is_active(thread.button("disable_account", undo=True))


async def test_guest_without_mailbox_has_mailbox_actions_greyed(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot, PAT_UPN)
    assert "guest, no mailbox" in thread.text()
    for verb in MAILBOX_ACTIONS:
        button = thread.button(verb)
        assert not is_active(button), verb
        assert button["tooltip"] == "guest account: their mailbox (if any) is in their home tenant", verb
    reset = thread.button("reset_password")
    assert not is_active(reset) and reset["tooltip"] == "guest account: the password is managed by their home tenant"
    assert is_active(thread.button("disable_account"))


async def test_guest_revoke_sessions_is_greyed_with_what_to_do_and_a_click_is_refused(bot: RunningBot) -> None:
    """Graph answers 200 to revokeSignInSessions on an external user and revokes nothing (the sandbox too)."""
    thread = await CaseThread.open(bot, PAT_UPN)
    revoke = thread.button("revoke_sessions")
    assert not is_active(revoke)
    assert "Graph cannot revoke its sessions" in revoke["tooltip"]
    assert "“Block sign-in” or “Disable account” instead" in revoke["tooltip"]
    assert is_active(thread.button("block_signin")) and is_active(thread.button("disable_account"))
    # A click from a stale or forged card is refused by the same check, before anything is sent to Graph.
    _, answer = await channel(bot).send_invoke(RESPONDER, thread.conversation_id, thread.root_id, "revoke_sessions",
                                               revoke["data"])
    assert "Revoke sessions does not apply: external (guest) account" in card_text(answer["value"])
    assert not [r for r in tenant(bot).requests if r.path.endswith("/revokeSignInSessions")]


async def test_synced_user_cannot_have_the_password_reset_here(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot, SAM_UPN)
    reset = thread.button("reset_password")
    assert not is_active(reset)
    assert reset["tooltip"].startswith("password is managed on-premises")
    assert is_active(thread.button("disable_account")) and is_active(thread.button("remove_forwarding"))


async def test_break_glass_has_every_button_greyed(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot, BREAKGLASS_UPN)
    main = execute_buttons(thread.card()["actions"])  # every one greyed, so all behind “More actions”
    assert len(main) >= 10
    for button in main:
        assert not is_active(button), button["title"]
        assert "protected break-glass account" in button["tooltip"], button["title"]
    assert not [i for i in thread.card()["body"] if i.get("type") == "Input.Toggle"]


# -- a missing permission: a clear failure, nothing changed, intent and failure audited ----------------


@dataclass(frozen=True)
class Refusal:
    verb: str
    fault: dict[str, Any]
    permission: str
    done: str  # the status headline's start, up to “: failed”
    item: str = ""
    show: str = ""  # the click that lists the items first
    approval: bool = False
    inputs: dict[str, str] = field(default_factory=dict)


EXCHANGE = "the app needs the Exchange.ManageAsApp permission and the Exchange Administrator role"
REFUSALS = [
    Refusal("revoke_sessions", {"method": "POST", "path_regex": "/revokeSignInSessions$"},
            "User.RevokeSessions.All", "Revoke sessions"),
    Refusal("disable_account", {"method": "PATCH", "path_regex": f"^/users/{ALICE}$"},
            "User.EnableDisableAccount.All", "Disable account"),
    Refusal("block_signin", {"method": "POST", "path_regex": "/conditionalAccess/policies$"},
            "Policy.Read.All + Policy.ReadWrite.ConditionalAccess + Application.Read.All", "Block sign-in"),
    Refusal("list_inbox_rules", {"method": "GET", "path_regex": "/messageRules$"},
            "MailboxSettings.Read", "Show inbox rules"),
    Refusal("disable_inbox_rule", {"method": "PATCH", "path_regex": "/messageRules/"}, "MailboxSettings.ReadWrite",
            "Disable rule “.”", item=RULE_FORWARDS, show="list_inbox_rules"),
    Refusal("delete_inbox_rule", {"method": "DELETE", "path_regex": "/messageRules/"}, "MailboxSettings.ReadWrite",
            "Delete rule “.”", item=RULE_FORWARDS, show="list_inbox_rules", approval=True),
    Refusal("remove_forwarding", {"cmdlet": "Set-Mailbox"}, EXCHANGE, "Remove forwarding"),
    Refusal("reset_password", {"method": "PATCH", "path_regex": f"^/users/{ALICE}$"},
            "User-PasswordProfile.ReadWrite.All", "Reset password", approval=True),
    Refusal("remove_app", {"method": "DELETE", "path_regex": "^/oauth2PermissionGrants/"},
            "DelegatedPermissionGrant.ReadWrite.All", "Remove app “Mail Sync Pro", item=GRANT, show="remove_app",
            approval=True, inputs={"app_mode": "grant"}),
    Refusal("remove_app", {"method": "DELETE", "path_regex": "^/servicePrincipals/"}, "Application.ReadWrite.All",
            "Remove app “Mail Sync Pro", item=GRANT, show="remove_app", approval=True, inputs={"app_mode": "app"}),
    Refusal("remove_teams_app", {"method": "DELETE", "path_regex": "/installedApps/"},
            "TeamsAppInstallation.ReadWriteForUser.All", "Remove Teams app “Sketchy Notes”", item=TEAMS_INSTALL,
            show="remove_teams_app"),
    Refusal("remove_mailbox_access", {"cmdlet": "Remove-MailboxPermission"}, EXCHANGE,
            "Remove access “mallory@contoso.com", item=MAILBOX_HOLDER, show="remove_mailbox_access"),
    Refusal("remove_transport_rule", {"cmdlet": "Remove-TransportRule"}, EXCHANGE,
            f"Remove transport rule “{TRANSPORT_RULE}", item=TRANSPORT_RULE, show="remove_transport_rule",
            approval=True),
    Refusal("confirm_compromised", {"method": "POST", "path_regex": "/riskyUsers/confirmCompromised$"},
            "IdentityRiskyUser.ReadWrite.All", "Confirm compromised"),
    Refusal("remove_auth_method", {"method": "DELETE", "path_regex": "/authentication/phoneMethods/"},
            "UserAuthenticationMethod.ReadWrite.All", "Remove MFA method “Phone", item=PHONE_METHOD,
            show="remove_auth_method"),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda r: f"{r.verb}-{r.inputs.get('app_mode', '')}".rstrip("-"))
async def test_missing_permission_is_named_and_changes_nothing(
    bot: RunningBot, clean_redis: str, refusal: Refusal
) -> None:
    thread = await CaseThread.open(bot)
    if refusal.show:
        await thread.click(refusal.show)
        if refusal.show == "list_inbox_rules":
            await thread.wait_for("Show inbox rules: done by")
    before = tenant(bot).snapshot()
    tenant(bot).add_fault(status=403, **refusal.fault)
    await thread.click(refusal.verb, refusal.item, inputs=refusal.inputs)
    if refusal.approval:
        await thread.approve()
    text = await thread.wait_for(f"❌ {refusal.done}")
    assert "failed by Rita Responder" in text
    assert refusal.permission in text and "Nothing else was changed." in text
    assert tenant(bot).faults == [], "the fault was never reached"
    assert tenant(bot).snapshot() == before
    entries = await audit_entries(clean_redis, thread.case_id)
    assert phases(entries, refusal.verb) == [("intent", "pending"), ("outcome", "failed")]
    outcome = next(e for e in entries if e["action"] == refusal.verb and e["phase"] == "outcome")
    assert refusal.permission in outcome["detail"] and outcome["actor_id"] == RESPONDER
    assert outcome["target_upn"] == ALICE_UPN
    if refusal.verb != "list_inbox_rules":  # the claim is released: the action may be tried again
        assert is_active(thread.button(refusal.verb, refusal.item))
