"""Every action refused with a 403 fails clearly, naming the permission, and changes nothing; the block_user
bundle runs every step even when one fails."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from actions import ACTIONS
from actions.spec import Item
from tests.actions.conftest import ALICE, BREAKGLASS_UPN, Env

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXCHANGE = "Exchange.ManageAsApp permission and the Exchange Administrator role"
RULE = {"displayName": "Restored", "sequence": 4, "isEnabled": True, "conditions": {"subjectContains": ["x"]},
        "actions": {"delete": True}}


@dataclass(frozen=True)
class Refusal:
    action: str
    fault: Mapping[str, Any]
    permission: str
    item: tuple[str, str] | None = None  # (kind, label substring) listed before the fault
    saved: Mapping[str, Any] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    setup: Callable[[Env], Awaitable[Mapping[str, Any]]] | None = None  # returns the saved state to use


async def _blocked(env: Env) -> Mapping[str, Any]:
    result = await env.run("block_signin")
    assert result.ok and result.outcome and result.outcome.saved
    return result.outcome.saved


def graph(method: str, path: str) -> dict[str, Any]:
    return {"method": method, "path_regex": path}


def cmdlet(name: str) -> dict[str, Any]:
    return {"method": "POST", "path_regex": "/InvokeCommand$", "cmdlet": name}


REFUSALS = [
    Refusal("revoke_sessions", graph("POST", "/revokeSignInSessions$"), "User.RevokeSessions.All"),
    Refusal("disable_account", graph("PATCH", f"^/users/{ALICE}$"), "User.EnableDisableAccount.All"),
    Refusal("enable_account", graph("PATCH", f"^/users/{ALICE}$"), "User.EnableDisableAccount.All"),
    Refusal("block_signin", graph("POST", "/conditionalAccess/policies$"), "Policy.ReadWrite.ConditionalAccess"),
    Refusal("unblock_signin", graph("DELETE", "/conditionalAccess/policies/"), "Policy.ReadWrite.ConditionalAccess",
            setup=_blocked),
    Refusal("list_inbox_rules", graph("GET", "/messageRules$"), "MailboxSettings.Read"),
    Refusal("disable_inbox_rule", graph("PATCH", "/messageRules/"), "MailboxSettings.ReadWrite",
            item=("inbox_rule", "Newsletters")),
    Refusal("enable_inbox_rule", graph("PATCH", "/messageRules/"), "MailboxSettings.ReadWrite",
            saved={"rule_id": "AQAAAJ5dZqC="}),
    Refusal("delete_inbox_rule", graph("DELETE", "/messageRules/"), "MailboxSettings.ReadWrite",
            item=("inbox_rule", "Newsletters")),
    Refusal("restore_inbox_rule", graph("POST", "/messageRules$"), "MailboxSettings.ReadWrite", saved=RULE),
    Refusal("remove_forwarding", cmdlet("Set-Mailbox"), EXCHANGE),
    Refusal("restore_forwarding", cmdlet("Set-Mailbox"), EXCHANGE,
            saved={"ForwardingSmtpAddress": "smtp:x@evil.example", "ForwardingAddress": None,
                   "DeliverToMailboxAndForward": False}),
    Refusal("reset_password", graph("PATCH", f"^/users/{ALICE}$"), "User-PasswordProfile.ReadWrite.All"),
    Refusal("remove_app", graph("DELETE", "/servicePrincipals/"), "Application.ReadWrite.All",
            item=("app", "Mail Sync Pro"), options={"mode": "app"}),
    Refusal("remove_app", graph("DELETE", "/oauth2PermissionGrants/"), "DelegatedPermissionGrant.ReadWrite.All",
            item=("app", "Mail Sync Pro"), options={"mode": "grant"}),
    Refusal("remove_teams_app", graph("DELETE", "/installedApps/"), "TeamsAppInstallation.ReadWriteForUser.All",
            item=("teams_app", "Sketchy")),
    Refusal("remove_mailbox_access", cmdlet("Remove-MailboxPermission"), EXCHANGE,
            item=("mailbox_permission", "mallory")),
    Refusal("restore_mailbox_access", cmdlet("Add-MailboxPermission"), EXCHANGE,
            saved={"user": "rita.responder@contoso.com"}),
    Refusal("remove_transport_rule", cmdlet("Remove-TransportRule"), EXCHANGE,
            item=("transport_rule", "Copy finance")),
    Refusal("restore_transport_rule", cmdlet("New-TransportRule"), EXCHANGE,
            saved={"rule": {"Name": "Again", "State": "Enabled", "BlindCopyTo": ["x@evil.example"]}}),
    Refusal("confirm_compromised", graph("POST", "/confirmCompromised$"), "IdentityRiskyUser.ReadWrite.All"),
    Refusal("dismiss_risk", graph("POST", "/riskyUsers/dismiss$"), "IdentityRiskyUser.ReadWrite.All"),
    Refusal("remove_auth_method", graph("DELETE", "/phoneMethods/"), "UserAuthenticationMethod.ReadWrite.All",
            item=("auth_method", "Phone")),
]


async def test_every_action_has_a_refusal_case() -> None:
    assert {case.action for case in REFUSALS} | {"block_user"} == set(ACTIONS)


@pytest.mark.parametrize("case", REFUSALS, ids=[f"{c.action}-{c.fault['path_regex']}" for c in REFUSALS])
async def test_forbidden_fails_naming_the_permission_and_changes_nothing(env: Env, case: Refusal) -> None:
    saved = await case.setup(env) if case.setup else case.saved
    item: Item | None = None
    if case.item:
        item = await env.item(*case.item)
    before, writes_before = env.snapshot(), len(env.state.mutations())

    env.state.add_fault(status=403, times=1, **case.fault)
    result = await env.run(case.action, item=item, saved=saved, options=case.options)

    assert not result.ok and result.outcome is None
    assert case.permission in result.error, result.error
    assert "Nothing else was changed." in result.error
    assert result.request_id, "the refused request's id, for Microsoft support"
    assert env.snapshot() == before
    refused = env.state.mutations()[writes_before:]
    assert len(refused) == (0 if case.fault["method"] == "GET" else 1), "only the refused request"
    assert not env.state.faults, "the fault was hit"
    assert env.audit.entries[-1].result == "failed" and case.permission in env.audit.entries[-1].detail


# --- block_user -----------------------------------------------------------------------------------


async def test_block_user_runs_every_step(env: Env) -> None:
    result = await env.run("block_user")
    assert result.ok and result.outcome, result.error
    outcome = result.outcome
    assert [s.action for s in outcome.steps] == ["disable_account", "revoke_sessions", "remove_forwarding",
                                                 "disable_inbox_rule"]
    assert all(s.ok for s in outcome.steps) and "4 of 4 steps succeeded" in outcome.summary
    user = env.state.users[ALICE]
    assert user["accountEnabled"] is False and user["signInSessionsValidFromDateTime"]
    assert env.state.mailboxes[ALICE]["forwardingSmtpAddress"] is None
    enabled = {r["displayName"]: r["isEnabled"] for r in env.state.inbox_rules[ALICE]}
    assert enabled == {".": False, "Security alerts to archive": False, "Newsletters": True}
    assert outcome.saved == {
        "remove_forwarding": {"ForwardingSmtpAddress": "smtp:invoices@evil.example", "ForwardingAddress": None,
                              "DeliverToMailboxAndForward": True},
        # per rule, what disable_inbox_rule itself saves: each rule gets its own "Re-enable rule" (BundleStep)
        "disable_inbox_rule": {"items": [
            {"id": "AQAAAJ5dZqA=", "label": ".", "saved": {"rule_id": "AQAAAJ5dZqA=", "displayName": "."}},
            {"id": "AQAAAJ5dZqB=", "label": "Security alerts to archive",
             "saved": {"rule_id": "AQAAAJ5dZqB=", "displayName": "Security alerts to archive"}}]},
    }


async def test_block_user_keeps_going_when_one_step_fails(env: Env) -> None:
    env.state.add_fault(status=403, times=1, **cmdlet("Set-Mailbox"))
    result = await env.run("block_user")
    assert result.ok and result.outcome
    steps = {s.action: s for s in result.outcome.steps}
    assert list(steps) == ["disable_account", "revoke_sessions", "remove_forwarding", "disable_inbox_rule"]
    assert not steps["remove_forwarding"].ok and EXCHANGE in steps["remove_forwarding"].summary
    assert steps["remove_forwarding"].request_id
    assert all(steps[name].ok for name in ("disable_account", "revoke_sessions", "disable_inbox_rule"))
    assert "3 of 4 steps succeeded" in result.outcome.summary and "Remove mailbox forwarding" in result.outcome.summary
    # The steps after the failed one ran; the failed one changed nothing.
    assert env.state.users[ALICE]["accountEnabled"] is False
    assert env.state.mailboxes[ALICE]["forwardingSmtpAddress"] == "smtp:invoices@evil.example"
    assert not any(r["isEnabled"] for r in env.state.inbox_rules[ALICE] if r["displayName"] != "Newsletters")


async def test_block_user_with_every_step_refused_fails_and_names_each_permission(env: Env) -> None:
    before = env.snapshot()
    for fault in (graph("PATCH", f"^/users/{ALICE}$"), graph("POST", "/revokeSignInSessions$"),
                  cmdlet("Set-Mailbox"), graph("PATCH", "/messageRules/")):
        env.state.add_fault(status=403, times=None, **fault)
    result = await env.run("block_user")
    assert not result.ok
    for permission in ("User.EnableDisableAccount.All", "User.RevokeSessions.All", EXCHANGE,
                       "MailboxSettings.ReadWrite"):
        assert permission in result.error
    assert env.snapshot() == before


async def test_block_user_runs_only_the_selected_steps_and_skips_what_does_not_apply(env: Env) -> None:
    result = await env.run("block_user", options={"steps": ["revoke_sessions"]})
    assert result.ok and result.outcome
    assert [s.action for s in result.outcome.steps] == ["revoke_sessions"]
    assert env.state.users[ALICE]["accountEnabled"] is True

    result = await env.run("block_user", BREAKGLASS_UPN)  # no mailbox
    assert result.ok and result.outcome
    skipped = [s for s in result.outcome.steps if s.summary.startswith("Skipped")]
    assert [s.action for s in skipped] == ["remove_forwarding", "disable_inbox_rule"]
    assert "(2 skipped as not applicable)" in result.outcome.summary

    result = await env.run("block_user", options={"steps": ["format_disk"]})
    assert not result.ok and "Unknown block_user step" in result.error
