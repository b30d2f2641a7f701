"""The typed-command grammar: every command and its spellings, and what each bad input is told."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands.parse import (
    EMPTY_MESSAGE,
    UNREADABLE_MESSAGE,
    Command,
    CommandError,
    for_chat,
    help_text,
    parse_command,
    safe_echo,
    strip_mentions,
)
from bot.commands.table import COMMANDS

ALICE = "alice@contoso.com"
OBJECT_ID = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
CASE_ID = "20261123-1a2b3c4d"


def user_command(verb: str, user: str) -> Command:
    return Command(verb=verb, user=user, case_id=None)


PARSED: list[tuple[str, Command]] = [
    # every command
    (f"block {ALICE}", user_command("block", ALICE)),
    (f"unblock {ALICE}", user_command("unblock", ALICE)),
    (f"revoke {ALICE}", user_command("revoke", ALICE)),
    (f"disable {ALICE}", user_command("disable", ALICE)),
    (f"enable {ALICE}", user_command("enable", ALICE)),
    (f"rules {ALICE}", user_command("rules", ALICE)),
    (f"reset password {ALICE}", user_command("reset_password", ALICE)),
    (f"reset-password {ALICE}", user_command("reset_password", ALICE)),
    (f"status {ALICE}", user_command("status", ALICE)),
    (f"audit {ALICE}", user_command("audit", ALICE)),
    (f"audit {CASE_ID}", Command(verb="audit", user=None, case_id=CASE_ID)),
    ("use this channel for alerts", Command(verb="use_channel", user=None, case_id=None)),
    ("help", Command(verb="help", user=None, case_id=None)),
    ("?", Command(verb="help", user=None, case_id=None)),
    # case and spacing
    (f"REVOKE {ALICE}", user_command("revoke", ALICE)),
    ("Revoke Alice@Contoso.COM", user_command("revoke", ALICE)),
    (f"  revoke \t  {ALICE}  \n", user_command("revoke", ALICE)),
    (f"RESET   Password {ALICE}", user_command("reset_password", ALICE)),
    (f"Reset-Password {ALICE}", user_command("reset_password", ALICE)),
    ("Use  THIS channel For   Alerts", Command(verb="use_channel", user=None, case_id=None)),
    ("HELP", Command(verb="help", user=None, case_id=None)),
    ("help me", Command(verb="help", user=None, case_id=None)),
    (f"audit {CASE_ID.upper()}", Command(verb="audit", user=None, case_id=CASE_ID)),
    # Teams markup: mentions, paragraphs, entities, auto-linked addresses
    (f"<at>Riposte</at> revoke {ALICE}", user_command("revoke", ALICE)),
    (f'<at id="0">Riposte</at>&nbsp;revoke {ALICE}', user_command("revoke", ALICE)),
    (f"<p><at>Riposte</at> revoke {ALICE}</p>", user_command("revoke", ALICE)),
    (f"<div><p>block&nbsp;{ALICE}</p></div>", user_command("block", ALICE)),
    (f'revoke <a href="mailto:{ALICE}">{ALICE}</a>', user_command("revoke", ALICE)),
    (f"<at>Riposte</at> <at>Riposte</at> status {ALICE}", user_command("status", ALICE)),
    ("<p><at>Riposte</at> help</p>", Command(verb="help", user=None, case_id=None)),
    ("<at>Riposte</at> use this channel for alerts", Command(verb="use_channel", user=None, case_id=None)),
    # object ids, mail vs UPN forms
    (f"revoke {OBJECT_ID}", user_command("revoke", OBJECT_ID)),
    (f"disable {OBJECT_ID.upper()}", user_command("disable", OBJECT_ID)),
    (f"audit {OBJECT_ID}", user_command("audit", OBJECT_ID)),
    ("revoke alice.smith@contoso.com", user_command("revoke", "alice.smith@contoso.com")),
    (
        "revoke alice@contoso.onmicrosoft.com",
        user_command("revoke", "alice@contoso.onmicrosoft.com"),
    ),
    ("block alice_smith@mail.contoso.co.uk", user_command("block", "alice_smith@mail.contoso.co.uk")),
    ("block alice+alerts@contoso.com", user_command("block", "alice+alerts@contoso.com")),
    ("block o'brien@contoso.com", user_command("block", "o'brien@contoso.com")),
    (
        "block Alice_Fabrikam.com#EXT#@contoso.onmicrosoft.com",
        user_command("block", "alice_fabrikam.com#ext#@contoso.onmicrosoft.com"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_commands_are_understood(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


# (input, words the message must contain, the suggestion)
REFUSED: list[tuple[str, list[str], str | None]] = [
    # nothing to do
    ("", [EMPTY_MESSAGE], "help"),
    ("   ", [EMPTY_MESSAGE], "help"),
    ("<at>Riposte</at>", [EMPTY_MESSAGE], "help"),
    ("<p><at>Riposte</at>&nbsp;</p>", [EMPTY_MESSAGE], "help"),
    # unknown verbs: the closest command, with the user when it is valid
    (f"revok {ALICE}", ['"revok"', "`help`"], f"revoke {ALICE}"),
    ("blok", ['"blok"'], "block <user>"),
    (f"unblok {ALICE}", ['"unblok"'], f"unblock {ALICE}"),
    (f"dissable {OBJECT_ID}", ['"dissable"'], f"disable {OBJECT_ID}"),
    (f"staus {ALICE}", ['"staus"'], f"status {ALICE}"),
    ("aduit 20261123-1a2b3c4d", ['"aduit"'], "audit 20261123-1a2b3c4d"),
    ("revok alice", ['"revok"'], "revoke <user>"),
    (f"reset {ALICE}", ["`reset password`"], f"reset password {ALICE}"),
    (f"resetpassword {ALICE}", ['"resetpassword"'], f"reset password {ALICE}"),
    (f"resett password {ALICE}", ['"resett"'], f"reset password {ALICE}"),
    (f"please revoke {ALICE}", ['"please"'], f"revoke {ALICE}"),
    ("hello there", ['"hello"', "`help`"], "help"),
    ("halp", ['"halp"'], "help"),
    # non-ASCII verbs are unknown, with the ASCII command as the suggestion
    ("\uff32\uff25\uff36\uff2f\uff2b\uff25 " + ALICE, ["plain ASCII"], f"revoke {ALICE}"),
    (f"r\u0435voke {ALICE}", ["plain ASCII"], f"revoke {ALICE}"),  # Cyrillic ie
    # missing user
    ("revoke", ["`revoke` needs a user: a UPN (alice@contoso.com) or an Entra object id"], "revoke <user>"),
    ("<at>Riposte</at> block", ["`block` needs a user"], "block <user>"),
    ("reset password", ["`reset password` needs a user"], "reset password <user>"),
    ("status", ["`status` needs a user"], "status <user>"),
    ("audit", ["`audit` needs a user", "case id"], "audit <user | case id>"),
    # invalid users
    ("revoke alice", ['"alice" has no @domain', "alice@contoso.com"], "revoke <user>"),
    ("revoke alice@", ['"alice@" has no domain after the @'], "revoke <user>"),
    ("revoke @contoso.com", ["nothing before the @"], "revoke <user>"),
    ("revoke a@b", ['"a@b" has no dot in its domain'], "revoke <user>"),
    ("revoke alice@@contoso.com", ["more than one @"], "revoke <user>"),
    ("revoke alice@contoso..com", ["not a valid address"], "revoke <user>"),
    ("revoke .alice@contoso.com", ["not a valid address"], "revoke <user>"),
    ("revoke alice smith@contoso.com", ["cannot contain spaces", '"alice smith@contoso.com"'], "revoke <user>"),
    ("revoke 6f9619ff-8b86-d011-b42d-00c04fc964f", ["not a GUID"], "revoke <user>"),
    (f"revoke {ALICE}.", ["ends with punctuation"], f"revoke {ALICE}"),
    (f"revoke {ALICE},", ["ends with punctuation"], f"revoke {ALICE}"),
    ("audit 20261123-xyz", ['"20261123-xyz" is not a case id'], "audit <user | case id>"),
    ("audit alice", ['"alice" has no @domain', "case id"], "audit <user | case id>"),
    # unicode look-alikes
    ("revoke \u0430lice@contoso.com", ["look-alike", "U+0430 CYRILLIC SMALL LETTER A"], "revoke <user>"),
    ("revoke alice\uff20contoso.com", ["look-alike", "U+FF20 FULLWIDTH COMMERCIAL AT"], "revoke <user>"),
    ("revoke alice\u200b@contoso.com", ["look-alike", "U+200B ZERO WIDTH SPACE"], "revoke <user>"),
    ("revoke alice@contoso.com\u200d", ["look-alike", "U+200D ZERO WIDTH JOINER"], "revoke <user>"),
    ("block alice@contoso.c\u043em", ["look-alike", "CYRILLIC SMALL LETTER O"], "block <user>"),
    ("audit \uff41lice@contoso.com", ["look-alike", "FULLWIDTH LATIN SMALL LETTER A"], "audit <user | case id>"),
    # trailing junk
    (f"revoke {ALICE} now please", ["Unexpected text after the command", '"now please"'], f"revoke {ALICE}"),
    (f"block {ALICE} {OBJECT_ID}", ["Unexpected text", "One user per command"], f"block {ALICE}"),
    (f"revoke {ALICE} bob@contoso.com", ["One user per command"], f"revoke {ALICE}"),
    (f"audit {CASE_ID} please", ['"please"'], f"audit {CASE_ID}"),
    ("use this channel for alerts now", ['"now"'], "use this channel for alerts"),
    # an incomplete phrase
    ("use this channel", ['"use this channel"', "whole phrase"], "use this channel for alerts"),
    ("use", ["whole phrase"], "use this channel for alerts"),
]


@pytest.mark.parametrize(("text", "expected_words", "suggestion"), REFUSED)
def test_bad_commands_say_what_was_wrong(text: str, expected_words: list[str], suggestion: str | None) -> None:
    result = parse_command(text)
    assert isinstance(result, CommandError), result
    for words in expected_words:
        assert words in result.message
    assert result.suggestion == suggestion
    assert len(result.message) <= 400


def test_a_suggestion_is_itself_a_valid_command_once_the_placeholder_is_filled() -> None:
    for text, _words, suggestion in REFUSED:
        if suggestion is None:
            continue
        filled = suggestion.replace("<user | case id>", CASE_ID).replace("<user>", ALICE)
        assert isinstance(parse_command(filled), Command), (text, suggestion)


def test_ten_kilobytes_of_text_are_refused_quickly() -> None:
    for text in ("x" * 10_240, "revoke " * 1_500, "<at" * 4_000, "<at>" * 2_600, "<p " * 4_000, "&amp;" * 2_100):
        started = time.process_time()
        result = parse_command(text)
        assert time.process_time() - started < 0.1
        assert isinstance(result, CommandError)
        assert result.message != UNREADABLE_MESSAGE
        assert result.message.startswith("That message is too long to be a command (")
        assert f"({len(text):,} characters)" in result.message


def test_the_length_cap_counts_what_was_typed_not_the_markup() -> None:
    short = parse_command("<p>" + "<at>Riposte</at> " * 60 + f"revoke {ALICE}</p>")
    assert short == user_command("revoke", ALICE)
    long = parse_command("revoke " + "a" * 1_001)
    assert isinstance(long, CommandError)
    assert "(1,008 characters)" in long.message


def test_hostile_mention_markup_is_stripped_in_linear_time() -> None:
    for text in ("<at>" * 1_900, "<at " * 1_900 + "</at", "<a" * 3_900, "<p" + " x" * 3_900):
        started = time.process_time()
        strip_mentions(text)
        assert time.process_time() - started < 0.1


INJECTIONS = [
    "revoke <script>alert(1)</script>@contoso.com",
    "revoke &lt;script&gt;alert(1)&lt;/script&gt;",
    "revoke [click](http://evil.example)",
    "[click](http://evil.example) alice@contoso.com",
    f"revoke {ALICE} [click](http://evil.example)",
    "revoke ![img](http://evil.example/x.png)",
    "revoke **bold**_x_`code`",
    "audit <img src=x onerror=alert(1)>",
    "audit &lt;img src=x onerror=alert(1)&gt;",
    "use this channel &lt;b&gt;",
    "revoke alice\u202e@contoso.com",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_echoed_input_cannot_render_as_markup(text: str) -> None:
    result = parse_command(text)
    assert isinstance(result, CommandError)
    for raw in ("<script", "<img", "<b>", "](", "**", "`code`", "\u202e"):
        assert raw not in result.message
    if result.suggestion is not None:
        assert "<script" not in result.suggestion
        assert "](" not in result.suggestion


def test_safe_echo() -> None:
    assert safe_echo("<script>") == "&lt;script&gt;"
    assert safe_echo("[click](http://evil)") == "\\[click\\]\\(http://evil\\)"
    assert safe_echo("a_b*c`d#e|f~g\\h") == "a\\_b\\*c\\`d\\#e\\|f\\~g\\\\h"
    assert safe_echo("AT&T") == "AT&amp;T"
    assert safe_echo("line\nbreak\u200bzero") == "line break\N{REPLACEMENT CHARACTER}zero"
    assert safe_echo("x" * 200) == "x" * 80 + "…"
    assert len(safe_echo("<" * 200)) <= 161
    assert safe_echo("") == ""


def test_strip_mentions() -> None:
    assert strip_mentions("<at>Riposte</at> revoke  alice") == "revoke alice"
    assert strip_mentions("<AT>Riposte Bot</AT>\u00a0help") == "help"
    assert strip_mentions("<p>a</p><p>b</p>") == "a b"
    assert strip_mentions("a &amp; b &lt;c&gt;") == "a & b <c>"
    assert strip_mentions("<atom>x</atom>") == "x"
    assert strip_mentions("<at>unclosed") == "unclosed"  # an unclosed mention is just a tag
    assert strip_mentions("keep <alice@contoso.com>") == "keep <alice@contoso.com>"


def test_help_lists_every_command() -> None:
    text = help_text()
    for spec in COMMANDS:
        assert f"`{for_chat(spec.usage)}`: {spec.help}" in text
        # each documented form parses once its placeholders are filled in
        filled = spec.usage.replace("<user | case id>", CASE_ID).replace("<user>", ALICE)
        assert isinstance(parse_command(filled), Command), spec.usage
    typed = {spec.usage.split(" <")[0] for spec in COMMANDS}
    assert typed == {
        "block", "unblock", "revoke", "disable", "enable", "rules", "reset password", "status", "audit",
        "use this channel for alerts", "release", "automation status", "automation off", "automation on",
        "automation dry-run", "sign out", "help",
    }


def check(result: Command | CommandError) -> None:
    assert isinstance(result, Command | CommandError)
    if isinstance(result, CommandError):
        assert result.message
        assert result.message != UNREADABLE_MESSAGE  # the parser's own safety net never fired
        assert len(result.message) <= 400
        if result.suggestion is not None:
            assert len(result.suggestion) <= 400
            assert result.suggestion.isascii()
    else:
        assert result.user is None or (result.user.isascii() and result.user == result.user.lower())


@given(st.text())
def test_any_text_gets_an_answer(text: str) -> None:
    check(parse_command(text))


WORDS = [
    "block", "unblock", "revoke", "disable", "enable", "rules", "reset", "password", "reset-password", "status",
    "audit", "use", "this", "channel", "for", "alerts", "help", "?", ALICE, OBJECT_ID, CASE_ID, "<at>Riposte</at>",
    "<p>", "</p>", "&nbsp;", "&lt;", "@", ".", "[x](y)", "<at>", "</at>",
    "\uff32\uff25\uff36\uff2f\uff2b\uff25", "\u0430lice@contoso.com", "\u200b",
]


@settings(max_examples=500)
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=20)), max_size=12), st.sampled_from([" ", "", "  "]))
def test_command_words_and_junk_get_an_answer(parts: list[str], separator: str) -> None:
    check(parse_command(separator.join(parts)))


@given(st.sampled_from([spec.usage for spec in COMMANDS]), st.text(max_size=30))
def test_a_command_with_junk_after_it_is_never_run_silently(syntax: str, junk: str) -> None:
    filled = syntax.replace("<user | case id>", CASE_ID).replace("<user>", ALICE)
    result = parse_command(f"{filled} {junk}")
    check(result)
    if isinstance(result, Command) and result.verb != "help":
        # only whitespace or markup could have been added
        assert strip_mentions(junk) == ""
