"""The policy file (bot/access/policy.py): the defaults from the registry and the command table, overrides in
[actions], [approval] and [verbs], and what a bad file is told."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from actions import ACTIONS
from actions.spec import Role, TargetUser
from app import main
from bot.access.levels import Access, holds
from bot.access.policy import PolicyError, load_policy


def policy_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_verb_role_is_overridden_and_the_others_keep_their_defaults(tmp_path: Path) -> None:
    policy = load_policy(policy_file(tmp_path, '[verbs.use_channel]\nrole = "responder"\n'
                                               '[verbs.audit]\nrole = "admin_responder"\n'
                                               '[verbs.help]\nrole = "any_role"\n'))
    assert policy.requirement("use_channel") is Role.RESPONDER
    assert policy.requirement("audit") is Role.ADMIN_RESPONDER
    assert policy.requirement("help") is Access.ANY_ROLE
    assert policy.requirement("approve") is Role.APPROVER and policy.requirement("cancel") is Role.RESPONDER
    assert load_policy("").requirement("use_channel") is Role.ADMIN_RESPONDER


@pytest.mark.parametrize(("toml", "problem"), [
    ('[verbs.use_channel\nrole = "responder"\n', r"RIPOSTE_POLICY_FILE .*policy\.toml: .*line 1"),  # not TOML
    ('[verbs.use_channel]\nrole = "owner"\n',
     r"\[verbs.use_channel\] role must be one of responder, approver, admin_responder, anyone, any_role"),
    ('[verbs.use_channel]\nrole = 3\n', r"\[verbs.use_channel\] role must be one of"),
    ('[verbs.launch_missiles]\nrole = "responder"\n', r"\[verbs.launch_missiles\]: unknown verb; known: .*cancel"),
    ('[verbs.cancel]\nrole = "responder"\nrequester = false\n', r"must set role, and only role"),
    ('[verbs]\ncancel = "responder"\n', r"\[verbs.cancel\] must set role"),
    ('[verb.cancel]\nrole = "approver"\n', r"unknown table\(s\) verb; known: "),
])
def test_a_bad_policy_file_is_refused_saying_what_is_wrong(tmp_path: Path, toml: str, problem: str) -> None:
    with pytest.raises(PolicyError, match=problem):
        load_policy(policy_file(tmp_path, toml))


def test_riposte_does_not_start_with_a_bad_policy_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RIPOSTE_POLICY_FILE", policy_file(tmp_path, '[verbs.use_channel]\nrole = "root"\n'))
    assert main([]) == 2
    assert "Riposte will not start: [verbs.use_channel] role must be one of" in capsys.readouterr().err


def test_an_admin_responder_counts_as_a_responder_but_never_as_an_approver() -> None:
    admin = frozenset({Role.ADMIN_RESPONDER})
    assert holds(Role.RESPONDER, admin) and holds(Role.ADMIN_RESPONDER, admin)
    assert not holds(Role.APPROVER, admin)
    assert not holds(Role.ADMIN_RESPONDER, frozenset({Role.RESPONDER}))
    assert holds(Access.ANY_ROLE, frozenset({Role.APPROVER})) and not holds(Access.ANY_ROLE, frozenset())
    assert holds(Access.ANYONE, frozenset())


# -- [actions], [approval] and the defaults -------------------------------------------------------------------

ALICE = TargetUser(id="a", upn="alice@contoso.com", display_name="Alice", account_enabled=True)
GLOBAL_ADMIN = dataclasses.replace(ALICE, id="g", admin_roles=("Global Administrator",))


def test_without_a_file_every_action_keeps_the_role_and_approval_its_spec_declares() -> None:
    policy = load_policy("")
    assert set(policy.rules) == set(ACTIONS)
    for name, spec in ACTIONS.items():
        assert policy.role_for(name) is spec.role
        assert policy.needs_approval(name, ALICE) is spec.needs_approval, name
    assert policy.approval_for_privileged_targets and policy.automation_rules == ()
    assert policy.needs_approval("revoke_sessions", GLOBAL_ADMIN), "any action on an administrator is approved"


def test_an_action_is_overridden_and_the_others_keep_their_defaults(tmp_path: Path) -> None:
    policy = load_policy(policy_file(tmp_path, '[actions.reset_password]\nrole = "admin_responder"\napproval = false\n'
                                               '[actions.revoke_sessions]\napproval = true\n'
                                               '[approval]\nprivileged_targets = false\n'))
    assert policy.role_for("reset_password") is Role.ADMIN_RESPONDER
    assert not policy.needs_approval("reset_password", ALICE)
    assert policy.role_for("revoke_sessions") is ACTIONS["revoke_sessions"].role
    assert policy.needs_approval("revoke_sessions", None)
    assert not policy.needs_approval("disable_account", GLOBAL_ADMIN), "privileged targets no longer need it"
    untouched = load_policy("")
    assert {name: rule for name, rule in policy.rules.items() if name not in ("reset_password", "revoke_sessions")} \
        == {name: rule for name, rule in untouched.rules.items() if name not in ("reset_password", "revoke_sessions")}


def test_an_empty_file_is_the_built_in_policy(tmp_path: Path) -> None:
    assert load_policy(policy_file(tmp_path, "")) == load_policy("")


@pytest.mark.parametrize(("toml", "problem"), [
    ('[actions.nuke_tenant]\nrole = "responder"\n', r"unknown action 'nuke_tenant'; known: .*revoke_sessions"),
    ('[actions.revoke_sessions]\nrole = "root"\n',
     r"\[actions.revoke_sessions\] role must be one of responder, approver, admin_responder$"),
    ('[actions.revoke_sessions]\napproval = "yes"\n', r"\[actions.revoke_sessions\] approval must be true or false"),
    ('[actions.revoke_sessions]\nrole = "responder"\nwho = "me"\n', r"may set only role, approval and enabled"),
    ('[actions]\nrevoke_sessions = "responder"\n', r"may set only role, approval and enabled"),
    ('[approval]\nprivileged_targets = "sometimes"\n', r"\[approval\] privileged_targets must be true or false"),
    ("recommendations = 3\n", r"\[recommendations\] must be a table of \[recommendations.<kind>\] tables"),
    ("verbs = 3\n", r"\[verbs\] must be a table of \[verbs.<verb>\] tables"),
    ("[[automation.rules]]\ntitle = \"travel\"\n", r"needs a name"),
])
def test_a_bad_action_approval_or_table_is_refused_saying_what_is_wrong(tmp_path: Path, toml: str,
                                                                        problem: str) -> None:
    with pytest.raises(PolicyError, match=problem):
        load_policy(policy_file(tmp_path, toml))


def test_a_missing_policy_file_is_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere.toml")
    with pytest.raises(PolicyError, match=rf"RIPOSTE_POLICY_FILE {re.escape(missing)}: .*No such file"):
        load_policy(missing)


def test_an_unknown_verb_needs_a_role_rather_than_nothing() -> None:
    assert load_policy("").requirement("a_verb_added_later") is Access.ANY_ROLE
