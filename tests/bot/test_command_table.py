"""The command table is the only declaration of the commands: the parser, `help`, the suggestions, the command
flow's cards, the policy's verbs and the manifest's command lists all follow it. Each test here fails when one
of them says something the table does not."""

from __future__ import annotations

from actions import ACTIONS
from actions.spec import Role
from bot.access.levels import Access
from bot.access.policy import VERBS, default_policy
from bot.commands.parse import Command, CommandError, for_chat, help_text, parse_command
from bot.commands.table import BY_VERB, COMMANDS, Argument
from bot.config import Settings
from manifest.build import MAX_COMMANDS, manifest

ALICE = "alice@contoso.com"
CASE_ID = "20261123-1a2b3c4d"


def filled(text: str) -> str:
    return text.replace("<user | case id>", CASE_ID).replace("<user>", ALICE)


def test_every_typed_form_of_every_command_parses_to_that_command() -> None:
    for spec in COMMANDS:
        for form in spec.forms:
            typed = filled(f"{form} <user>" if spec.argument is Argument.USER else form)
            if spec.argument is Argument.USER_OR_CASE:
                typed = f"{form} {ALICE}"
            parsed = parse_command(typed.upper())
            assert isinstance(parsed, Command) and parsed.verb == spec.verb, (typed, parsed)
            assert parsed.spec is spec


def test_help_is_the_table_line_for_line() -> None:
    lines = help_text().split("\n\n", 1)[1].split("\n")
    assert lines == [f"- `{for_chat(spec.usage)}`: {spec.help}" for spec in COMMANDS]


def test_a_mistyped_command_is_offered_the_table_command() -> None:
    for spec in COMMANDS:
        first = spec.words.split(" ")[0]
        if not first.isalpha():
            continue
        # Commands sharing their first word (automation on/off/…): the first of them in the table is offered.
        offered = next(other for other in COMMANDS if other.words.split(" ")[0] == first)
        typo = parse_command(f"{first}x {ALICE}")
        assert isinstance(typo, CommandError) and typo.suggestion is not None, (spec.verb, typo)
        assert typo.suggestion.startswith(offered.words), (spec.verb, typo.suggestion)
        assert isinstance(parse_command(filled(typo.suggestion)), Command), typo.suggestion


def test_the_manifest_lists_what_the_table_lists_within_teams_limits() -> None:
    app = Settings(_env_file=None, MicrosoftAppId="3c5a0b5e-1111-4000-8000-000000000b07")  # type: ignore[call-arg]
    document = manifest(app)
    for command_list in document["bots"][0]["commandLists"]:
        scope = "personal" if "personal" in command_list["scopes"] else "team"
        expected = [{"title": spec.usage, "description": spec.help} for spec in COMMANDS if scope in spec.scopes]
        assert command_list["commands"] == expected
        assert 0 < len(expected) <= MAX_COMMANDS


def test_each_command_offers_the_actions_a_responder_expects() -> None:
    offered = {spec.verb: spec.actions for spec in COMMANDS if spec.actions and spec.verb != "status"}
    assert offered == {
        "block": ("block_user",),
        # the account back and Riposte's sign-in block gone: what a responder undoing `block` expects
        "unblock": ("enable_account", "unblock_signin"),
        "revoke": ("revoke_sessions",),
        "disable": ("disable_account",),
        "enable": ("enable_account",),
        "rules": ("list_inbox_rules",),
        "reset_password": ("reset_password",),
    }
    assert BY_VERB["status"].actions == tuple(ACTIONS)
    assert all(name in ACTIONS for spec in COMMANDS for name in spec.actions)


def test_the_policy_has_a_rule_for_every_command_and_every_other_verb() -> None:
    policy = default_policy()
    assert {spec.verb for spec in COMMANDS} <= set(VERBS)
    assert {"cancel", "approve", "reject", "release", "automation", "audit", "use_channel"} <= set(VERBS)
    assert all(policy.requirement(spec.verb) == spec.role for spec in COMMANDS)
    assert policy.requirement("use_channel") is Role.ADMIN_RESPONDER
    assert policy.requirement("approve") is policy.requirement("reject") is Role.APPROVER
    assert policy.requirement("cancel") is Role.RESPONDER
    assert policy.requirement("help") is Access.ANYONE
