"""The policy file's [verbs] tables: who may use each verb besides the actions, and what a bad file is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.spec import Role
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
