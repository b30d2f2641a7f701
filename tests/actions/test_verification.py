"""Every state-changing action reads back what it changed, against the sandbox tenant over real HTTP: a normal run
says "Verified: …" with what it read; a change the tenant accepted but did not apply (the sandbox's `unapplied`
fault) says "Graph accepted the change but the tenant shows …". One test per action family, both ways."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from actions import ACTIONS, block_signin, disable_account
from actions.runner import ActionResult
from actions.spec import Verification
from tests.actions.conftest import ALICE, ALICE_UPN, IDS, READ_BACK_DELAYS, Env

pytestmark = pytest.mark.asyncio(loop_scope="module")

ACCEPTED = "Graph accepted the change but the tenant shows "


def verification(result: ActionResult) -> Verification:
    assert result.ok, result.error
    assert result.outcome is not None and result.outcome.verification is not None
    return result.outcome.verification


def unapplied(env: Env, **match: Any) -> None:
    """The next matching request is answered as a success and changes nothing."""
    env.state.add_fault(status=0, unapplied=True, **match)


async def test_every_state_changing_action_reads_back() -> None:
    missing = [name for name, spec in ACTIONS.items() if not spec.read_only and spec.read_back is None]
    assert not missing, f"actions without a read-back: {missing}"
    assert [name for name, spec in ACTIONS.items() if spec.read_only] == ["list_inbox_rules"]


# --- identity -------------------------------------------------------------------------------------


async def test_disable_account_verified(env: Env) -> None:
    found = verification(await env.run("disable_account"))
    assert found.ok and found.message == "Verified: account disabled (accountEnabled false)."
    outcome = env.audit.entries[-1]
    assert outcome.phase == "outcome" and outcome.detail.endswith(found.message)


async def test_the_outcome_records_the_state_before_and_after_from_the_read_back(env: Env) -> None:
    result = await env.run("disable_account")
    assert (result.state_before, result.state_after) == ("accountEnabled true", "accountEnabled false")
    outcome = env.audit.entries[-1]
    assert (outcome.state_before, outcome.state_after) == ("accountEnabled true", "accountEnabled false")


async def test_a_state_before_that_cannot_be_read_is_unknown_and_the_action_still_runs(env: Env) -> None:
    env.state.add_fault(status=403, method="GET", path_regex=f"^/users/{ALICE}$", times=1)  # not retried
    result = await env.run("disable_account")
    assert result.ok and env.state.users[ALICE]["accountEnabled"] is False
    assert result.state_before.startswith("unknown (the read failed: ")
    assert result.state_after == "accountEnabled false"


async def test_disable_account_accepted_but_not_applied_warns(env: Env) -> None:
    unapplied(env, method="PATCH", path_regex=f"^/users/{ALICE}$")
    found = verification(await env.run("disable_account"))
    assert env.state.users[ALICE]["accountEnabled"] is True
    assert not found.ok and found.checked
    # Graph is eventually consistent: the read-back was tried again after each pause before warning.
    patched = next(n for n, r in enumerate(env.state.requests) if r.method == "PATCH")
    reads = [r for r in env.state.requests[patched:] if r.method == "GET" and r.path == f"/users/{ALICE}"]
    assert len(reads) == 1 + len(READ_BACK_DELAYS)
    assert found.message.startswith(f"{ACCEPTED}the account still enabled")
    assert ACCEPTED in env.audit.entries[-1].detail


async def test_revoke_and_reset_read_the_timestamps_graph_moves(env: Env) -> None:
    revoked = verification(await env.run("revoke_sessions"))
    assert revoked.ok and "signInSessionsValidFromDateTime" in revoked.observed
    reset = verification(await env.run("reset_password"))
    assert reset.ok and "lastPasswordChangeDateTime" in reset.observed
    unapplied(env, method="POST", path_regex="revokeSignInSessions$")
    other = IDS["nolan.norole"]
    env.targets.clear()
    found = verification(await env.run("revoke_sessions", "nolan.norole@contoso.com"))
    assert not found.ok and "sessions not revoked since the click" in found.message
    assert "signInSessionsValidFromDateTime" not in env.state.users[other]


async def test_read_back_alone_answers_whether_it_happened(env: Env) -> None:
    """Crash recovery's question, without any run's outcome: is the change in place?"""
    ctx = env.context(await env.target())
    assert not (await disable_account.read_back(ctx)).done
    await env.run("disable_account")
    back = await disable_account.read_back(ctx)
    assert back.done and back.observed == "account disabled (accountEnabled false)"


async def test_a_read_back_that_cannot_read_says_so(env: Env) -> None:
    env.state.add_fault(status=403, method="GET", path_regex=f"^/users/{ALICE}$", times=None)
    found = verification(await env.run("disable_account"))
    assert not found.checked and found.message.startswith("Not verified: Riposte could not read the change back")


# --- Conditional Access --------------------------------------------------------------------------


async def test_block_signin_verifies_the_policy(env: Env) -> None:
    protected = [IDS["breakglass"]]
    found = verification(await env.run("block_signin", options={"protected_user_ids": protected}))
    assert found.ok and "present and enabled, blocking the user, 1 break-glass account(s) excluded" in found.message
    # Found again by its name alone (what recovery has): no policy id needed.
    ctx = replace(env.context(await env.target()), options={"protected_user_ids": protected})
    back = await block_signin.read_back(ctx)
    assert back.done


async def test_block_signin_accepted_but_not_created_warns(env: Env) -> None:
    unapplied(env, method="POST", path_regex="conditionalAccess/policies$")
    found = verification(await env.run("block_signin", options={"protected_user_ids": [IDS["breakglass"]]}))
    assert not found.ok and found.message.startswith(f"{ACCEPTED}no policy named “Riposte block: {ALICE_UPN}")


# --- inbox rules ---------------------------------------------------------------------------------


async def test_disable_inbox_rule_verified_and_warned(env: Env) -> None:
    rule = await env.item("inbox_rule", "Security alerts")
    found = verification(await env.run("disable_inbox_rule", item=rule))
    assert found.ok and found.message == "Verified: rule “Security alerts to archive” disabled (isEnabled false)."
    env.state.reset()
    unapplied(env, method="PATCH", path_regex="messageRules/")
    found = verification(await env.run("disable_inbox_rule", item=rule))
    assert not found.ok and found.message == f"{ACCEPTED}the rule “Security alerts to archive” still enabled " \
                                             "(isEnabled true)."


# --- forwarding (Exchange) -----------------------------------------------------------------------


async def test_remove_forwarding_verified_and_warned(env: Env) -> None:
    found = verification(await env.run("remove_forwarding"))
    assert found.ok and "forwarding empty" in found.message
    env.state.reset()
    unapplied(env, cmdlet="Set-Mailbox")
    found = verification(await env.run("remove_forwarding"))
    assert not found.ok and f"{ACCEPTED}the mailbox still forwarding to smtp:invoices@evil.example" in found.message


# --- apps and consent ----------------------------------------------------------------------------


async def test_remove_app_consent_verified_and_warned(env: Env) -> None:
    app = await env.item("app", "Mail Sync Pro")
    found = verification(await env.run("remove_app", item=app, options={"mode": "grant"}))
    assert found.ok and found.message == "Verified: consent to “Mail Sync Pro” gone."
    env.state.reset()
    unapplied(env, method="DELETE", path_regex="^/oauth2PermissionGrants/")
    found = verification(await env.run("remove_app", item=app, options={"mode": "grant"}))
    assert not found.ok and "the user's consent to “Mail Sync Pro” still granted" in found.message


async def test_remove_app_from_the_tenant_verified(env: Env) -> None:
    app = await env.item("app", "Mail Sync Pro")
    found = verification(await env.run("remove_app", item=app, options={"mode": "app"}))
    assert found.ok and "enterprise application “Mail Sync Pro” gone" in found.message


# --- MFA methods ---------------------------------------------------------------------------------


async def test_remove_auth_method_verified_and_warned(env: Env) -> None:
    phone = (await env.items("auth_method"))[0]
    found = verification(await env.run("remove_auth_method", item=phone))
    assert found.ok and "no longer registered" in found.message
    env.state.reset()
    unapplied(env, method="DELETE", path_regex="/authentication/")
    found = verification(await env.run("remove_auth_method", item=phone))
    assert not found.ok and f"{ACCEPTED}the method “{phone.label}” still registered" in found.message


# --- mailbox access and transport rules (Exchange) -----------------------------------------------


async def test_remove_mailbox_access_verified_and_warned(env: Env) -> None:
    holder = await env.item("mailbox_permission", "mallory")
    found = verification(await env.run("remove_mailbox_access", item=holder))
    assert found.ok and found.message == "Verified: FullAccess of mallory@contoso.com gone."
    env.state.reset()
    unapplied(env, cmdlet="Remove-MailboxPermission")
    found = verification(await env.run("remove_mailbox_access", item=holder))
    assert not found.ok and "mallory@contoso.com still with FullAccess" in found.message


async def test_remove_transport_rule_verified_and_warned(env: Env) -> None:
    rule = await env.item("transport_rule", "Copy finance mail out")
    found = verification(await env.run("remove_transport_rule", item=rule))
    assert found.ok and "transport rule “Copy finance mail out” gone" in found.message
    env.state.reset()
    unapplied(env, cmdlet="Remove-TransportRule")
    found = verification(await env.run("remove_transport_rule", item=rule))
    assert not found.ok and "the transport rule “Copy finance mail out” still there" in found.message


# --- Identity Protection -------------------------------------------------------------------------


async def test_confirm_compromised_verified_and_warned(env: Env) -> None:
    found = verification(await env.run("confirm_compromised"))
    assert found.ok and "risk state confirmedCompromised" in found.message
    env.state.reset()
    unapplied(env, method="POST", path_regex="confirmCompromised$")
    found = verification(await env.run("confirm_compromised"))
    assert not found.ok and found.message.startswith(ACCEPTED)


# --- the bundle ----------------------------------------------------------------------------------


async def test_block_user_verifies_each_step(env: Env) -> None:
    found = verification(await env.run("block_user"))
    assert found.ok, found.message
    for part in ("Disable account: account disabled (accountEnabled false)", "Revoke sessions: sessions revoked",
                 "Remove mailbox forwarding: forwarding empty", "Disable suspicious inbox rules: no suspicious inbox "
                 "rule enabled"):
        assert part in found.message


async def test_block_user_warns_about_the_step_that_did_not_take(env: Env) -> None:
    unapplied(env, method="PATCH", path_regex=f"^/users/{ALICE}$")
    found = verification(await env.run("block_user"))
    assert not found.ok and found.message.startswith(ACCEPTED)
    assert "Disable account: the account still enabled" in found.message
    assert "Revoke sessions: sessions revoked" in found.message  # the other steps are read back too
