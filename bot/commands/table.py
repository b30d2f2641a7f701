"""Every typed command, declared once: how it is typed, its help line, what its card offers, who may use it and
which Teams command lists show it. The parser (bot/commands/parse.py), `help`, the suggestions for a mistyped command,
the command flow (bot/commands/handle.py), the policy's verbs (bot/access/policy.py) and the manifest's command lists
(manifest/build.py) are all read from this table; tests/bot/test_command_table.py fails if one of them drifts.

To add a command: one `CommandSpec` here, its handling in bot/commands/handle.py if it is not a confirm card, and a
parser test in tests/bot/test_commands.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from actions import ACTIONS
from actions.spec import Role
from bot.access.levels import Access, Requirement

USER_PLACEHOLDER = "<user>"
AUDIT_PLACEHOLDER = "<user | case id>"
Scope = Literal["team", "personal"]  # the manifest's two command lists: team and group chat; personal chat
BOTH: tuple[Scope, ...] = ("team", "personal")


class Argument(StrEnum):
    NONE = "none"  # the words alone: anything after them is refused
    USER = "user"  # one user: a UPN, a mail address or an Entra object id
    USER_OR_CASE = "user_or_case"  # a user or a case id
    IGNORED = "ignored"  # anything after the word is ignored (`help me`)


_PLACEHOLDERS = {Argument.USER: USER_PLACEHOLDER, Argument.USER_OR_CASE: AUDIT_PLACEHOLDER}


@dataclass(frozen=True)
class CommandSpec:
    verb: str  # Command.verb, and the command's name in the policy file ([verbs.<verb>])
    forms: tuple[str, ...]  # how it is typed, lower case; the first is the one shown
    argument: Argument
    help: str  # one line: `help` and the manifest (at most 128 characters there)
    role: Requirement  # the default; the policy file may change it
    actions: tuple[str, ...] = ()  # the registry actions its card offers (nothing runs before Confirm)
    scopes: tuple[Scope, ...] = BOTH  # the manifest command lists that show it (Teams allows ten per list)
    hints: tuple[str, ...] = ()  # more words a mistyped command is matched against
    label: str = ""  # how a refusal names it; default the command in backticks

    @property
    def words(self) -> str:
        return self.forms[0]

    @property
    def usage(self) -> str:
        placeholder = _PLACEHOLDERS.get(self.argument)
        return f"{self.words} {placeholder}" if placeholder else self.words

    @property
    def refusal_label(self) -> str:
        return self.label or f"`{self.words}`"


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("block", ("block",), Argument.USER,
                "contain the account in one step: disable it, sign out everywhere, remove mail forwarding and turn "
                "off suspicious inbox rules", Role.RESPONDER, ("block_user",)),
    # What a responder expects after `block`: the account back and Riposte's sign-in block gone. The card offers
    # both; one that does not apply (an account already enabled, no block policy) is greyed out with the reason.
    CommandSpec("unblock", ("unblock",), Argument.USER,
                "undo a block: re-enable the account and remove Riposte's sign-in block", Role.RESPONDER,
                ("enable_account", "unblock_signin")),
    CommandSpec("revoke", ("revoke",), Argument.USER, "sign the user out of every session and device",
                Role.RESPONDER, ("revoke_sessions",)),
    CommandSpec("disable", ("disable",), Argument.USER, "disable the account so nobody can sign in with it",
                Role.RESPONDER, ("disable_account",)),
    # Left out of the team list (eleven commands, ten slots): typing it still works.
    CommandSpec("enable", ("enable",), Argument.USER, "re-enable a disabled account", Role.RESPONDER,
                ("enable_account",), scopes=("personal",)),
    CommandSpec("rules", ("rules",), Argument.USER,
                "list the mailbox's inbox rules (look for forwarding or hiding rules)", Role.RESPONDER,
                ("list_inbox_rules",)),
    CommandSpec("reset_password", ("reset password", "reset-password"), Argument.USER,
                "reset the account's password", Role.RESPONDER, ("reset_password",),
                hints=("reset", "resetpassword", "password")),
    CommandSpec("status", ("status",), Argument.USER, "show the account's current state and open case",
                Role.RESPONDER, tuple(ACTIONS)),
    CommandSpec("audit", ("audit",), Argument.USER_OR_CASE,
                "show the audit trail of a user or of a case (e.g. 20261123-1a2b3c4d)", Access.ANY_ROLE),
    # Redirects every alert: an admin responder's decision. Meaningless in a personal chat, so not listed there.
    CommandSpec("use_channel", ("use this channel for alerts",), Argument.NONE, "post new alerts in this channel",
                Role.ADMIN_RESPONDER, scopes=("team",), label="Choosing the alert channel"),
    # Ends containment and watching knowingly. Typed only: both manifest lists are full (ten each).
    CommandSpec("release", ("release",), Argument.USER,
                "end containment of a user knowingly: stop watching the account for reverts", Role.RESPONDER,
                scopes=()),
    # Automation's switch (bot/automation/chat.py), shared by every replica through Redis. Stopping it must be easy
    # (any responder); starting it, or a dry run, is an admin responder's decision. Not in the manifest's lists
    # (both are full): typing them works. `automation` alone is answered with the status's suggestion.
    CommandSpec("automation_status", ("automation status",), Argument.NONE,
                "show whether automation is on, since when and by whom, its rules and today's counts",
                Access.ANY_ROLE, scopes=()),
    CommandSpec("automation_off", ("automation off",), Argument.NONE,
                "stop automatic containment at once, on every replica", Role.RESPONDER, scopes=(),
                label="Switching automation off"),
    CommandSpec("automation", ("automation on",), Argument.NONE,
                "let the automation rules contain matching alerts' users without a click", Role.ADMIN_RESPONDER,
                scopes=(), label="Switching automation on"),
    CommandSpec("automation_dry_run", ("automation dry-run", "automation dry run", "automation dryrun"),
                Argument.NONE, "rules say on each case what they would have done, and change nothing",
                Role.ADMIN_RESPONDER, scopes=(), label="Starting an automation dry run"),
    # Delegated mode: forget the speaker's own sign-in at the token service (a shared device, the wrong account).
    # Anyone may sign themselves out. Typed only: both manifest lists are full.
    CommandSpec("sign_out", ("sign out", "sign-out", "signout", "log out", "logout"), Argument.NONE,
                "forget your sign-in: actions that run with your own Entra rights ask you to sign in again",
                Access.ANYONE, scopes=(), hints=("signoff", "logoff")),
    CommandSpec("help", ("help", "?"), Argument.IGNORED, "show this list", Access.ANYONE),
)
AUTOMATION_VERBS = frozenset({"automation_status", "automation_off", "automation", "automation_dry_run"})
BY_VERB: Mapping[str, CommandSpec] = {spec.verb: spec for spec in COMMANDS}
