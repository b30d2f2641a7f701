"""The typed-command grammar: what a responder may type to the bot (the commands of bot/commands/table.py),
parsed into a `Command` or a `CommandError`.

Pure text in, value out: no I/O and no botbuilder, so it can be tested exhaustively. `parse_command` never
raises. Every `CommandError.message` is plain text that is safe to post back: any piece of the responder's
input in it went through `safe_echo`. A `CommandError.suggestion` is a literal command (for a button or a
code span); it only ever contains command words, placeholders and a user that passed validation.
"""

from __future__ import annotations

import difflib
import html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from bot.commands.table import AUDIT_PLACEHOLDER, BY_VERB, COMMANDS, USER_PLACEHOLDER, Argument, CommandSpec

MAX_COMMAND_CHARS = 1_000
# Above this, the raw text is not even looked at (no mention or tag stripping): it cannot be a command.
_MAX_RAW_CHARS = 8 * MAX_COMMAND_CHARS
ECHO_CHARS = 80

EMPTY_MESSAGE = "Type a command, for example `help`."
# Only if the parser itself has a bug: the property tests assert it is never answered.
UNREADABLE_MESSAGE = "Sorry, I could not read that command. Type `help` for the list."


@dataclass(frozen=True)
class Command:
    verb: str  # a CommandSpec.verb (bot/commands/table.py)
    user: str | None  # lower-cased UPN/mail or lower-cased object id; None for help, use_channel, audit of a case
    case_id: str | None  # only for `audit <case id>`

    @property
    def spec(self) -> CommandSpec:
        return BY_VERB[self.verb]


@dataclass(frozen=True)
class CommandError:
    message: str  # what was not understood: plain text, input echoed only through safe_echo
    suggestion: str | None  # the closest valid command, a literal to offer as a button or in a code span
    missing_user: str | None = None  # the command as typed ("revoke") when the only problem is the missing user


def _forms_by_first_word() -> dict[str, list[tuple[list[str], CommandSpec]]]:
    """Each typed form as words, keyed by its first word, longest first (a two-word form before a one-word one)."""
    forms: dict[str, list[tuple[list[str], CommandSpec]]] = {}
    for spec in COMMANDS:
        for form in spec.forms:
            forms.setdefault(form.split(" ")[0], []).append((form.split(" "), spec))
    return {first: sorted(candidates, key=lambda c: -len(c[0])) for first, candidates in forms.items()}


_FORMS = _forms_by_first_word()
# Words a mistyped verb is compared with, and the command each one stands for: each form's first word and the
# hints; not "?" (a word typed later in a sentence, "what?", is no request for help).
# A first word several commands share (automation) stands for the first of them in the table.
_SUGGESTABLE: dict[str, CommandSpec] = {}
for _spec in COMMANDS:
    for _word in (*(form.split(" ")[0] for form in _spec.forms), *_spec.hints):
        if _word != "?":
            _SUGGESTABLE.setdefault(_word, _spec)

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CASE_ID = re.compile(r"[0-9]{8}-[0-9a-f]{8}")
# Entra UPN characters (letters, digits, ' . - _ ! # ^ ~) plus + and % seen in mail addresses; # for guest UPNs.
_LOCAL_PART = re.compile(r"[a-z0-9'_!#^~+%-]+(?:\.[a-z0-9'_!#^~+%-]+)*")
_DOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TOP_LEVEL = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]")
# An HTML tag as Teams may wrap text in it (<p>, </div>, <span class="x">, <br/>); never matches "<alice@x.com>".
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_TRAILING_PUNCTUATION = ".,;:!?"
_ESCAPED = {
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
    **{char: "\\" + char for char in "\\`*_[]()#|~"},
}
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}


def safe_echo(text: str, limit: int = ECHO_CHARS) -> str:
    """A piece of untrusted input made safe to show: at most `limit` characters of it (… when cut), markdown
    metacharacters backslash-escaped, < > & as HTML entities, invisible and control characters as �."""
    out: list[str] = []
    shown = 0
    size = 0
    for char in text:
        if shown >= limit or size >= 2 * limit:
            out.append("…")
            break
        if char.isspace():
            piece = " "
        elif unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            piece = "\N{REPLACEMENT CHARACTER}"
        else:
            piece = _ESCAPED.get(char, char)
        out.append(piece)
        shown += 1
        size += len(piece)
    return "".join(out)


def strip_mentions(text: str) -> str:
    """The text a responder typed: <at>…</at> mentions and HTML tags removed, entities decoded, whitespace
    collapsed to single spaces. Linear in the length of the text (no backtracking on hostile markup)."""
    lower = text.lower()
    pieces: list[str] = []
    position = 0
    search = 0
    while True:
        start = lower.find("<at", search)
        if start < 0:
            break
        after = lower[start + 3 : start + 4]
        if after != ">" and not after.isspace():
            search = start + 3
            continue
        end = lower.find("</at>", start)
        if end < 0:
            break
        pieces.append(text[position:start])
        pieces.append(" ")
        position = search = end + len("</at>")
    pieces.append(text[position:])
    without_tags = _TAG.sub(" ", "".join(pieces))
    return " ".join(html.unescape(without_tags).split())


def _quoted(text: str) -> str:
    return f'"{safe_echo(text)}"'


def for_chat(text: str) -> str:
    """Placeholders without angle brackets: Teams would take `<user>` for an HTML tag and drop or escape it."""
    return text.replace(AUDIT_PLACEHOLDER, "USER-OR-CASE-ID").replace(USER_PLACEHOLDER, "USER")


def help_text(enabled: Callable[[str], bool] = lambda action: True) -> str:
    """The answer to `help` (and the welcome): every command of the table with its help line, except one whose
    actions the policy all switches off (`enabled`: the policy's test of an action name)."""
    lines = [f"- `{for_chat(spec.usage)}`: {spec.help}" for spec in COMMANDS
             if not spec.actions or any(enabled(action) for action in spec.actions)]
    return ("Riposte commands (in a channel, mention me first: `@Riposte revoke alice@contoso.com`):\n\n"
            + "\n".join(lines))


def parse_command(text: str) -> Command | CommandError:
    """Parse what a responder typed (raw activity text: mentions and HTML are stripped here). Never raises."""
    try:
        return _parse(text)
    except Exception:  # a bug here must not take the turn down: answer something useful instead
        return CommandError(UNREADABLE_MESSAGE, "help")


def _parse(text: str) -> Command | CommandError:
    if not isinstance(text, str):
        return CommandError(EMPTY_MESSAGE, "help")
    if len(text) > _MAX_RAW_CHARS:
        return _too_long(len(text))
    cleaned = strip_mentions(text)
    if len(cleaned) > MAX_COMMAND_CHARS:
        return _too_long(len(cleaned))
    words = cleaned.split(" ") if cleaned else []
    if not words:
        return CommandError(EMPTY_MESSAGE, "help")
    lowered = [word.lower() for word in words]
    for form, spec in _FORMS.get(lowered[0], ()):
        if lowered[: len(form)] == form:
            return _parse_argument(spec, words[len(form) :])
    phrases = [spec for spec in COMMANDS if spec.argument is Argument.NONE and any(
        len(form.split(" ")) > 1 and form.split(" ")[0] == lowered[0] for form in spec.forms)]
    if len(phrases) > 1:  # "automation": one of several commands that start with this word
        typed = " ".join(lowered)
        close = difflib.get_close_matches(typed, [spec.words for spec in phrases], n=1, cutoff=0.9) if len(
            lowered) > 1 else []
        choices = ", ".join(f"`{spec.words}`" for spec in phrases)
        return CommandError(f"I did not understand {_quoted(' '.join(words))}. Type one of {choices}.",
                            close[0] if close else phrases[0].usage)
    if phrases:  # "use this channel": the start of a phrase, not all of it
        return CommandError(f"I did not understand {_quoted(' '.join(words))}. Type the whole phrase.",
                            phrases[0].usage)
    return _unknown_verb(words)


def _parse_argument(spec: CommandSpec, rest: list[str]) -> Command | CommandError:
    if spec.argument is Argument.USER:
        return _parse_user_command(spec, rest)
    if spec.argument is Argument.USER_OR_CASE:
        return _parse_audit(spec, rest)
    if rest and spec.argument is Argument.NONE:
        return _trailing(rest, spec.usage)
    return Command(verb=spec.verb, user=None, case_id=None)


def _too_long(length: int) -> CommandError:
    return CommandError(
        f"That message is too long to be a command ({length:,} characters). Type `help` for the list.", "help"
    )


def _parse_user_command(spec: CommandSpec, rest: list[str]) -> Command | CommandError:
    if not rest:
        return CommandError(
            f"`{spec.words}` needs a user: a UPN (alice@contoso.com) or an Entra object id.",
            spec.usage,
            missing_user=spec.words,
        )
    user, message, fixed = _check_user(rest[0])
    if user is None:
        if len(rest) > 1 and "@" in "".join(rest) and "@" not in rest[0]:
            message = f"An address cannot contain spaces: {_quoted(' '.join(rest))}. {_WANTED_USER}"
        return CommandError(message, f"{spec.words} {fixed or USER_PLACEHOLDER}")
    if len(rest) > 1:
        return _trailing(rest[1:], f"{spec.words} {user}")
    return Command(verb=spec.verb, user=user, case_id=None)


def _parse_audit(spec: CommandSpec, rest: list[str]) -> Command | CommandError:
    if not rest:
        return CommandError(
            f"`{spec.words}` needs a user (alice@contoso.com or an Entra object id) or a case id (20261123-1a2b3c4d).",
            spec.usage,
        )
    token = rest[0]
    if token.isascii() and _CASE_ID.fullmatch(token.lower()):
        case_id = token.lower()
        if len(rest) > 1:
            return _trailing(rest[1:], f"{spec.words} {case_id}")
        return Command(verb=spec.verb, user=None, case_id=case_id)
    if token.isascii() and re.fullmatch(r"[0-9]{8}-[^@]*", token):
        return CommandError(
            f"{_quoted(token)} is not a case id: case ids are 8 digits, a dash and 8 hex digits (20261123-1a2b3c4d).",
            spec.usage,
        )
    user, message, fixed = _check_user(token, case_ids=True)
    if user is None:
        return CommandError(message, f"{spec.words} {fixed or AUDIT_PLACEHOLDER}")
    if len(rest) > 1:
        return _trailing(rest[1:], f"{spec.words} {user}")
    return Command(verb=spec.verb, user=user, case_id=None)


def _trailing(extra: list[str], suggestion: str) -> CommandError:
    extra_text = " ".join(extra)
    message = f"Unexpected text after the command: {_quoted(extra_text)}. Send just the command."
    if any("@" in word or _GUID.fullmatch(word.lower()) for word in extra):
        message += " One user per command: send another message for the next user."
    return CommandError(message, suggestion)


_WANTED_USER = "Give a UPN or mail address (alice@contoso.com) or an Entra object id."
_WANTED_USER_OR_CASE = (
    "Give a UPN or mail address (alice@contoso.com), an Entra object id or a case id (20261123-1a2b3c4d)."
)


def _check_user(token: str, case_ids: bool = False) -> tuple[str | None, str, str | None]:
    """(normalised user, "", None) when valid, else (None, what is wrong, a corrected user when there is one)."""
    shown = _quoted(token)
    odd = next((char for char in token if not char.isascii() or not char.isprintable()), None)
    if odd is not None:
        name = unicodedata.name(odd, "")[:60]
        described = f"U+{ord(odd):04X}" + (f" {name}" if name else "")
        return None, f"{shown} contains look-alike or non-ASCII characters ({described}): type it in plain ASCII.", None
    lowered = token.lower()
    if _GUID.fullmatch(lowered):
        return lowered, "", None
    wanted = _WANTED_USER_OR_CASE if case_ids else _WANTED_USER
    stripped = lowered.rstrip(_TRAILING_PUNCTUATION)
    if stripped != lowered and stripped and _valid_address(stripped):
        return None, f"{shown} ends with punctuation: type the address alone.", stripped
    if _valid_address(lowered):
        return lowered, "", None
    return None, f"That is not a user: {_address_problem(lowered, shown)}. {wanted}", None


def _valid_address(address: str) -> bool:
    if len(address) > 254 or address.count("@") != 1:
        return False
    local, domain = address.split("@")
    if len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        return False
    return _TOP_LEVEL.fullmatch(labels[-1]) is not None


def _address_problem(address: str, shown: str) -> str:
    if "@" not in address:
        if re.fullmatch(r"[0-9a-f-]{20,}", address):
            return f"{shown} looks like an object id but is not a GUID (8-4-4-4-12 hex digits)"
        return f"{shown} has no @domain"
    if address.count("@") > 1:
        return f"{shown} has more than one @"
    local, domain = address.split("@")
    if not local:
        return f"{shown} has nothing before the @"
    if not domain:
        return f"{shown} has no domain after the @"
    if "." not in domain:
        return f"{shown} has no dot in its domain"
    return f"{shown} is not a valid address"


def _unknown_verb(words: list[str]) -> CommandError:
    typed = words[0]
    closest: CommandSpec | None = None
    start = 1
    # "please revoke alice@contoso.com": a command word later in the message beats a near miss of the first word
    # ("please" is close to "release").
    for index, word in enumerate(words[1:], start=1):
        if word.lower() in _SUGGESTABLE:
            closest, start = _SUGGESTABLE[word.lower()], index + 1
            break
    if closest is None:
        closest = _closest_command(typed)
    message = f"I don't know the command {_quoted(typed)}."
    if typed.lower() == "reset":
        message = "Did you mean `reset password`?"
    elif not typed.isascii():
        message = f"I don't know the command {_quoted(typed)}: commands are plain ASCII words."
    if closest is None:
        return CommandError(message + " Type `help` for the list.", "help")
    return CommandError(message + " Type `help` for the list.", _suggest(closest, words[start:]))


def _closest_command(typed: str) -> CommandSpec | None:
    candidate = unicodedata.normalize("NFKC", typed).lower()
    if candidate in _SUGGESTABLE:
        return _SUGGESTABLE[candidate]
    if len(candidate) > 40:
        return None
    matches = difflib.get_close_matches(candidate, list(_SUGGESTABLE), n=1, cutoff=0.6)
    return _SUGGESTABLE[matches[0]] if matches else None


def _suggest(spec: CommandSpec, rest: list[str]) -> str:
    """The suggested command line: with the user the responder typed when it is valid, else a placeholder."""
    if spec.argument in (Argument.NONE, Argument.IGNORED):
        return spec.usage
    # "resett password alice@…": the rest of a several-word command was typed right.
    form = spec.words.split(" ")
    if len(form) > 1 and [word.lower() for word in rest[: len(form) - 1]] == form[1:]:
        rest = rest[len(form) - 1 :]
    if not rest:
        return spec.usage
    token = rest[0]
    if spec.argument is Argument.USER_OR_CASE and token.isascii() and _CASE_ID.fullmatch(token.lower()):
        return f"{spec.words} {token.lower()}"
    user, _problem, fixed = _check_user(token)
    return f"{spec.words} {user or fixed or spec.usage.removeprefix(spec.words + ' ')}"
