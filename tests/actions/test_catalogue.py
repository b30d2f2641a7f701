"""Every action against the sandbox tenant: its effect in the tenant's state, its undo restoring that state
exactly, and the cases where it does not apply."""

from __future__ import annotations

import pytest

from actions import ACTIONS
from actions.errors import BadRequest
from actions.spec import Item
from actions.transport_rule_parameters import RESTORABLE
from tests.actions.conftest import (
    ACTOR,
    ALICE,
    ALICE_UPN,
    BREAKGLASS_UPN,
    IDS,
    PAT_UPN,
    SAM_UPN,
    Env,
    without,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

PHONE_METHOD = "3179e48a-750b-4051-897c-87b9720928f7"
MALICIOUS_RULES = {"AQAAAJ5dZqA=", "AQAAAJ5dZqB="}


# --- accounts -------------------------------------------------------------------------------------


async def test_revoke_sessions_stamps_the_user(env: Env) -> None:
    result = await env.run("revoke_sessions")
    assert result.ok and result.request_id
    assert env.state.users[ALICE]["signInSessionsValidFromDateTime"]
    assert ACTIONS["revoke_sessions"].reversible is False


async def test_disable_then_enable_restores_the_user_exactly(env: Env) -> None:
    before = env.snapshot()["users"]
    result = await env.run("disable_account")
    assert result.ok and result.outcome and result.request_id
    assert env.state.users[ALICE]["accountEnabled"] is False
    assert result.outcome.undo == "enable_account"
    assert ACTIONS["disable_account"].undo_title == "Re-enable account"

    undo = await env.run("enable_account")
    assert undo.ok and undo.outcome and undo.outcome.undo == "disable_account"
    assert env.snapshot()["users"] == before
    assert ACTIONS["enable_account"].undo_title == "Disable again"


async def test_enable_then_disable_restores_a_disabled_user(env: Env) -> None:
    env.state.users[ALICE]["accountEnabled"] = False
    before = env.snapshot()["users"]
    assert (await env.run("enable_account")).ok
    assert env.state.users[ALICE]["accountEnabled"] is True
    assert (await env.run("disable_account")).ok
    assert env.snapshot()["users"] == before


async def test_account_applicability(env: Env) -> None:
    enabled = await env.target()
    assert ACTIONS["disable_account"].not_applicable(enabled) is None
    assert ACTIONS["enable_account"].not_applicable(enabled) == "the account is enabled"
    assert ACTIONS["enable_account"].offered_on_alert, "offered on the alert card too, greyed while enabled"
    env.state.users[ALICE]["accountEnabled"] = False
    disabled = await env.target()
    assert ACTIONS["disable_account"].not_applicable(disabled) == "the account is already disabled"
    assert ACTIONS["enable_account"].not_applicable(disabled) is None


async def test_disabling_a_synced_user_warns_that_sync_may_revert_it(env: Env) -> None:
    result = await env.run("disable_account", SAM_UPN)
    assert result.ok and result.outcome
    assert env.state.users[IDS["sam.synced"]]["accountEnabled"] is False
    assert "directory sync may re-enable" in result.outcome.summary
    assert ACTIONS["block_signin"].title in result.outcome.summary


# --- Conditional Access -----------------------------------------------------------------------------


async def test_block_signin_creates_the_policy_and_unblock_deletes_it(env: Env) -> None:
    before = env.snapshot()["conditionalAccessPolicies"]
    protected = [IDS["breakglass"]]
    result = await env.run("block_signin", options={"protected_user_ids": protected})
    assert result.ok and result.outcome and result.outcome.saved
    saved = result.outcome.saved
    policy = env.state.ca_policies[saved["policy_id"]]
    name = f"Riposte block: {ALICE_UPN} (case case-1)"
    assert saved == {"policy_id": policy["id"], "displayName": name}
    assert policy["displayName"] == name and policy["state"] == "enabled"
    assert policy["conditions"] == {
        "users": {"includeUsers": [ALICE], "excludeUsers": protected},
        "applications": {"includeApplications": ["All"]},
        "clientAppTypes": ["all"],
    }
    assert policy["grantControls"] == {"operator": "OR", "builtInControls": ["block"]}
    assert "Protection › Conditional Access › Policies" in result.outcome.reversal
    assert result.outcome.undo == "unblock_signin"

    undo = await env.run("unblock_signin", saved=saved)
    assert undo.ok, undo.error
    assert env.snapshot()["conditionalAccessPolicies"] == before


async def test_block_signin_refuses_a_second_block_while_the_first_blocks_and_replaces_a_disabled_one(
    env: Env,
) -> None:
    """The policy is kept per user (ActionSpec.kept_per_user): the next run gets it as ctx.previous."""
    target = await env.target()
    first = await env.run("block_signin")
    assert first.ok and first.outcome and first.outcome.saved
    previous = dict(first.outcome.saved)
    second = await env.runner.execute(ACTIONS["block_signin"], ACTOR, target, "case-2", previous=previous)
    assert not second.ok and "already blocked by the Riposte policy" in second.error
    assert len([p for p in env.state.ca_policies.values() if p["displayName"].startswith("Riposte")]) == 1

    env.state.ca_policies[previous["policy_id"]]["state"] = "disabled"  # someone switched it off
    third = await env.runner.execute(ACTIONS["block_signin"], ACTOR, target, "case-2", previous=previous)
    assert third.ok and third.outcome and third.outcome.saved, third.error
    assert "that one was deleted" in third.outcome.summary
    riposte = [p for p in env.state.ca_policies.values() if p["displayName"].startswith("Riposte")]
    assert [p["id"] for p in riposte] == [third.outcome.saved["policy_id"]] and riposte[0]["state"] == "enabled"


async def test_block_signin_never_blocks_a_protected_account(env: Env) -> None:
    before = env.snapshot()
    result = await env.run("block_signin", options={"protected_user_ids": [ALICE]})
    assert not result.ok and "protected account" in result.error
    assert env.snapshot() == before


async def test_unblock_refuses_a_policy_riposte_did_not_create(env: Env) -> None:
    before = env.snapshot()
    result = await env.run("unblock_signin", saved={"policy_id": "ca000000-0000-4000-8000-000000000001"})
    assert not result.ok
    assert "not created by Riposte" in result.error and "Require MFA for admins" in result.error
    assert env.snapshot() == before
    assert not env.state.mutations()


async def test_undo_without_what_was_saved_is_refused(env: Env) -> None:
    for action in ("unblock_signin", "enable_inbox_rule", "restore_inbox_rule", "restore_forwarding",
                   "restore_mailbox_access", "restore_transport_rule"):
        assert ACTIONS[action].needs_saved and not ACTIONS[action].offered_on_alert
        result = await env.run(action, saved={})
        assert not result.ok and "Nothing to restore" in result.error, action
    assert not env.state.mutations()


# --- inbox rules ----------------------------------------------------------------------------------


async def test_list_inbox_rules_puts_the_malicious_ones_first_and_says_why(env: Env) -> None:
    result = await env.run("list_inbox_rules")
    assert result.ok and result.outcome
    items = result.outcome.items
    assert [item.id for item in items[:2]] == ["AQAAAJ5dZqA=", "AQAAAJ5dZqB="]
    forward, delete, benign = items
    assert "invoices@evil.example" in forward.suspicious and "RSS Feeds" in forward.suspicious
    assert "as read" in forward.suspicious and "meaningless name" in forward.suspicious
    assert "deletes mail" in delete.suspicious
    assert benign.label == "Newsletters" and benign.suspicious == ""
    assert all(item.kind == "inbox_rule" for item in items)
    assert "2 look malicious" in result.outcome.summary
    assert not env.state.mutations()


def _move_benign_rule_to(env: Env, folder_id: str) -> None:
    rule = next(r for r in env.state.inbox_rules[ALICE] if r["displayName"] == "Newsletters")
    rule["actions"]["moveToFolder"] = folder_id


async def test_a_rule_moving_mail_to_the_archive_is_flagged_by_folder_id_whatever_its_language(env: Env) -> None:
    # Graph names the folder by id; a German mailbox calls its archive "Archiv".
    archive = next(f for f in env.state.mail_folders[ALICE] if f.get("wellKnownName") == "archive")
    archive["displayName"] = "Archiv"
    _move_benign_rule_to(env, archive["id"])

    newsletters = await env.item("inbox_rule", "Newsletters")

    assert newsletters.suspicious == "moves mail to Archiv"


async def test_a_rule_moving_mail_to_an_ordinary_folder_is_not_flagged(env: Env) -> None:
    sent = next(f for f in env.state.mail_folders[ALICE] if f.get("wellKnownName") == "sentitems")
    _move_benign_rule_to(env, sent["id"])

    assert (await env.item("inbox_rule", "Newsletters")).suspicious == ""


async def test_a_rule_forwarding_inside_the_tenant_is_flagged_too(env: Env) -> None:
    rule = next(r for r in env.state.inbox_rules[ALICE] if r["displayName"] == "Newsletters")
    rule["actions"] = {"forwardTo": [{"emailAddress": {"address": "mallory@contoso.com"}}]}

    newsletters = await env.item("inbox_rule", "Newsletters")

    assert newsletters.suspicious == "forwards mail to mallory@contoso.com"


async def test_without_permission_to_read_folder_names_rules_are_still_listed(env: Env) -> None:
    env.state.add_fault(status=403, method="GET", path_regex="/mailFolders/[^/]+$", times=None)

    result = await env.run("list_inbox_rules")

    assert result.ok and result.outcome
    forward = result.outcome.items[0]
    assert "invoices@evil.example" in forward.suspicious and "RSS Feeds" not in forward.suspicious
    assert "2 look malicious" in result.outcome.summary


@pytest.mark.parametrize(
    "action", ["list_inbox_rules", "disable_inbox_rule", "delete_inbox_rule", "remove_forwarding",
               "restore_forwarding", "remove_mailbox_access", "restore_mailbox_access"],
)
async def test_mailbox_actions_do_not_apply_without_a_mailbox(env: Env, action: str) -> None:
    spec = ACTIONS[action]
    assert spec.not_applicable(await env.target(BREAKGLASS_UPN)) == "no Exchange Online mailbox"
    assert "guest account" in str(spec.not_applicable(await env.target(PAT_UPN)))
    assert spec.not_applicable(await env.target()) is None


async def test_disable_then_enable_inbox_rule(env: Env) -> None:
    before = env.snapshot()["inboxRules"]
    rule = await env.item("inbox_rule", "Security alerts")
    result = await env.run("disable_inbox_rule", item=rule)
    assert result.ok and result.outcome
    assert result.outcome.saved == {"rule_id": rule.id, "displayName": "Security alerts to archive"}
    rules = {r["id"]: r for r in env.state.inbox_rules[ALICE]}
    assert rules[rule.id]["isEnabled"] is False
    assert all(r["isEnabled"] for rid, r in rules.items() if rid != rule.id)

    undo = await env.run(result.outcome.undo or "", saved=result.outcome.saved)
    assert undo.ok
    assert env.snapshot()["inboxRules"] == before


async def test_delete_inbox_rule_keeps_a_full_copy_and_restore_recreates_it(env: Env) -> None:
    original = without(next(r for r in env.state.inbox_rules[ALICE] if r["id"] == "AQAAAJ5dZqA="))
    rule = await env.item("inbox_rule", ".")
    result = await env.run("delete_inbox_rule", item=rule)
    assert result.ok and result.outcome and result.outcome.saved is not None
    assert dict(result.outcome.saved) == {"rule_id": rule.id, **without(original, "id")}
    assert rule.id not in {r["id"] for r in env.state.inbox_rules[ALICE]}
    spec = ACTIONS["delete_inbox_rule"]
    assert spec.needs_approval and spec.destructive

    undo = await env.run("restore_inbox_rule", saved=result.outcome.saved)
    assert undo.ok, undo.error
    restored = next(r for r in env.state.inbox_rules[ALICE] if r["displayName"] == ".")
    assert without(restored, "id") == without(original, "id"), "the same rule, under the new id Exchange gives it"


# --- Exchange: forwarding, mailbox permissions, transport rules ----------------------------------


async def test_remove_forwarding_then_restore(env: Env) -> None:
    before = env.snapshot()["mailboxes"]
    result = await env.run("remove_forwarding")
    assert result.ok and result.outcome and result.request_id
    assert result.outcome.saved == {"ForwardingSmtpAddress": "smtp:invoices@evil.example", "ForwardingAddress": None,
                                    "DeliverToMailboxAndForward": True}
    box = env.state.mailboxes[ALICE]
    assert (box["forwardingSmtpAddress"], box["forwardingAddress"], box["deliverToMailboxAndForward"]) == (
        None, None, False)
    assert f"Recipients › Mailboxes › {ALICE_UPN} › Mail flow settings › Email forwarding" in result.outcome.reversal
    # the state before (the audit's), the action's own read of what to save, the change, the read-back
    assert [r.cmdlet for r in env.state.writes()] == ["Get-Mailbox", "Get-Mailbox", "Set-Mailbox", "Get-Mailbox"]

    undo = await env.run("restore_forwarding", saved=result.outcome.saved)
    assert undo.ok, undo.error
    assert env.snapshot()["mailboxes"] == before


async def test_remove_forwarding_when_there_is_none_changes_nothing(env: Env) -> None:
    result = await env.run("remove_forwarding", "rita.responder@contoso.com")
    assert result.ok and result.outcome and "nothing to remove" in result.outcome.summary
    assert not env.state.mutations()


async def test_remove_mailbox_access_then_restore(env: Env) -> None:
    before = env.snapshot()["mailboxes"]
    holder = await env.item("mailbox_permission", "mallory")
    assert holder.id == "mallory@contoso.com"
    result = await env.run("remove_mailbox_access", item=holder)
    assert result.ok and result.outcome and result.outcome.saved == {"user": "mallory@contoso.com"}
    assert env.state.mailboxes[ALICE]["fullAccess"] == []

    # The seed names mallory as a FullAccess holder without a directory user; Exchange resolves -User, so add one.
    env.state.users["1a000000-0000-4000-8000-0000000000ff"] = {
        "id": "1a000000-0000-4000-8000-0000000000ff", "userPrincipalName": "mallory@contoso.com",
        "displayName": "Mallory", "mail": "mallory@contoso.com", "accountEnabled": True, "userType": "Member",
    }
    undo = await env.run("restore_mailbox_access", saved=result.outcome.saved)
    assert undo.ok, undo.error
    assert env.snapshot()["mailboxes"] == before


async def test_remove_transport_rule_keeps_its_definition_and_restore_recreates_it(env: Env) -> None:
    original = without(env.state.transport_rules[0])
    rule = await env.item("transport_rule", "Copy finance mail out")
    assert "archive@evil.example" in rule.suspicious
    result = await env.run("remove_transport_rule", item=rule)
    assert result.ok and result.outcome and result.outcome.saved
    kept = result.outcome.saved["rule"]  # Get-TransportRule's whole output, read-only properties and all
    assert {"Guid", "DlpPolicyId", "HasSenderOverride", "UseLegacyRegex", "Conditions"} <= set(kept)
    assert env.state.transport_rules == []
    spec = ACTIONS["remove_transport_rule"]
    assert spec.needs_approval and spec.destructive

    undo = await env.run("restore_transport_rule", saved=result.outcome.saved)
    assert undo.ok, undo.error  # the sandbox, like Exchange, refuses any parameter New-TransportRule lacks
    [sent] = [r.body["CmdletInput"]["Parameters"] for r in env.state.requests if r.cmdlet == "New-TransportRule"]
    assert set(sent) <= RESTORABLE | {"Enabled"}
    assert not {"Guid", "DlpPolicyId", "HasSenderOverride", "MessageContainsDataClassifications"} & set(sent)
    [restored], _ = await env.exchange.invoke("Get-TransportRule", {})
    assert without(restored, "Guid", "ImmutableId") == without(kept, "Guid", "ImmutableId"), (
        "the same rule as Exchange describes it; Exchange gives it a new Guid")
    assert original["BlindCopyTo"] == restored["BlindCopyTo"] == ["archive@evil.example"]


async def test_new_transport_rule_refuses_a_property_it_does_not_take(env: Env) -> None:
    with pytest.raises(BadRequest) as refused:
        await env.exchange.invoke("New-TransportRule", {"Name": "x", "DlpPolicyId": "0", "BlindCopyTo": ["a@b.c"]})
    assert "A parameter cannot be found that matches parameter name 'DlpPolicyId'" in str(refused.value)
    assert env.state.transport_rules[0]["Name"] == "Copy finance mail out" and len(env.state.transport_rules) == 1


async def test_an_exchange_warning_shows_on_the_outcome(env: Env) -> None:
    """Set-Mailbox that changes nothing succeeds with a warning (someone restored the forwarding already)."""
    saved = {"ForwardingSmtpAddress": "smtp:invoices@evil.example", "ForwardingAddress": None,
             "DeliverToMailboxAndForward": True}
    result = await env.run("restore_forwarding", saved=saved)
    assert result.ok and result.outcome
    assert ("Exchange warned: “The command completed successfully but no settings of 'alice@contoso.com' have been "
            "modified.”") in result.outcome.summary


async def test_mailbox_permission_cmdlets_are_anchored_on_the_mailbox(env: Env) -> None:
    holder = await env.item("mailbox_permission", "mallory")
    result = await env.run("remove_mailbox_access", item=holder)
    assert result.ok, result.error
    await env.items("transport_rule")  # an organization-wide cmdlet keeps the system mailbox anchor
    anchors = {r.cmdlet: r.anchor for r in env.state.requests if r.cmdlet}
    assert anchors["Get-MailboxPermission"] == anchors["Remove-MailboxPermission"] == f"UPN:{ALICE_UPN}"
    assert str(anchors["Get-TransportRule"]).startswith("APP:SystemMailbox{")


# --- password -------------------------------------------------------------------------------------


async def test_reset_password_gives_the_password_only_to_the_clicker(env: Env) -> None:
    result = await env.run("reset_password")
    assert result.ok and result.outcome
    password = result.outcome.secret_for_clicker
    assert password and len(password) >= 16
    assert any(c.isupper() for c in password) and any(c.islower() for c in password)
    assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)
    user = env.state.users[ALICE]
    assert user["forceChangePasswordNextSignIn"] is True and user["passwordResetAt"]
    outcome_elsewhere = repr((result.outcome.summary, result.outcome.reversal, result.outcome.saved,
                              result.outcome.items, result.outcome.steps, result.error))
    assert password not in outcome_elsewhere
    assert password not in repr(env.audit.entries)
    assert password not in repr(env.state.requests) and password not in repr(env.snapshot())
    [patch] = env.state.mutations()
    assert patch.body["passwordProfile"] == {"password": "***", "forceChangePasswordNextSignIn": True}
    spec = ACTIONS["reset_password"]
    assert spec.inline and spec.needs_approval and not spec.reversible


async def test_reset_password_applicability(env: Env) -> None:
    spec = ACTIONS["reset_password"]
    assert spec.not_applicable(await env.target()) is None
    assert "managed on-premises" in str(spec.not_applicable(await env.target(SAM_UPN)))
    assert spec.not_applicable(await env.target(PAT_UPN)) == (
        "guest account: the password is managed by their home tenant")


# --- apps -----------------------------------------------------------------------------------------


async def test_remove_app_grant_mode_revokes_only_the_consent(env: Env) -> None:
    app = await env.item("app", "Mail Sync Pro")
    assert app.detail["servicePrincipalId"] == "5a000000-0000-4000-8000-000000000001"
    result = await env.run("remove_app", item=app, options={"mode": "grant"})
    assert result.ok, result.error
    assert app.detail["grantId"] not in env.state.oauth2_grants
    assert app.detail["servicePrincipalId"] in env.state.service_principals
    assert result.outcome and "consent to the app again" in result.outcome.reversal


async def test_remove_app_deletes_the_service_principal(env: Env) -> None:
    app = await env.item("app", "Mail Sync Pro")
    refused = await env.run("remove_app", item=app)
    assert not refused.ok and "Choose what Remove app does" in refused.error, "tenant-wide deletion is never a default"
    result = await env.run("remove_app", item=app, options={"mode": "app"})
    assert result.ok and result.outcome, result.error
    sp_id = app.detail["servicePrincipalId"]
    assert sp_id not in env.state.service_principals and sp_id in env.state.deleted_items
    assert app.detail["grantId"] not in env.state.oauth2_grants
    assert "Enterprise applications › Deleted applications" in result.outcome.reversal
    spec = ACTIONS["remove_app"]
    assert spec.needs_approval and spec.destructive


async def test_remove_teams_app(env: Env) -> None:
    app = await env.item("teams_app", "Sketchy Notes")
    assert "sideloaded" in app.suspicious
    result = await env.run("remove_teams_app", item=app)
    assert result.ok and result.outcome
    assert env.state.teams_apps[ALICE] == []
    assert "Teams admin centre › Teams apps › Manage apps" in result.outcome.reversal


# --- identity protection and MFA ------------------------------------------------------------------


async def test_confirm_compromised_then_dismiss(env: Env) -> None:
    result = await env.run("confirm_compromised")
    assert result.ok and result.outcome and result.outcome.undo == "dismiss_risk"
    risky = env.state.risky_users[ALICE]
    assert (risky["riskState"], risky["riskLevel"]) == ("confirmedCompromised", "high")

    undo = await env.run("dismiss_risk")
    assert undo.ok
    risky = env.state.risky_users[ALICE]
    # Identity Protection keeps a record once a user was risky: the undo leaves it dismissed, with no risk.
    assert (risky["riskState"], risky["riskLevel"]) == ("dismissed", "none")


async def test_remove_auth_method_removes_the_attackers_phone(env: Env) -> None:
    methods = await env.items("auth_method")
    assert methods[0].id == PHONE_METHOD, "newest first"
    assert "registered recently" in methods[0].suspicious
    assert all("password" not in str(m.detail.get("odata_type")) for m in methods)
    result = await env.run("remove_auth_method", item=methods[0])
    assert result.ok, result.error
    remaining = {m["id"] for m in env.state.auth_methods[ALICE]}
    assert PHONE_METHOD not in remaining and len(remaining) == 2


async def test_remove_auth_method_never_removes_the_password(env: Env) -> None:
    before = env.snapshot()
    password_method = Item(kind="auth_method", id="28c10230-6103-485e-b985-444c60001490", label="Password",
                           detail={"odata_type": "#microsoft.graph.passwordAuthenticationMethod"})
    result = await env.run("remove_auth_method", item=password_method)
    assert not result.ok and "never removes the password" in result.error
    assert env.snapshot() == before and not env.state.mutations()


async def test_item_actions_need_an_item_of_their_kind(env: Env) -> None:
    for name, spec in ACTIONS.items():
        if spec.item_kind is None or spec.needs_saved:  # undos take their item from what the original saved
            continue
        assert not spec.offered_on_alert, name
        result = await env.run(name, item=None)
        assert not result.ok and "pick one from the list" in result.error, name
    assert not env.state.mutations()
