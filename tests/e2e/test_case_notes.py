"""Case notes (bot/audit/case_notes.py): what was done goes into the case's thread as short replies, several
within the window in one reply, each exactly once, and still after the app that queued them stopped."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp import web

from app import create_app
from bot.audit import case_notes as notes
from bot.audit.case_notes import pending_key
from bot.cards.notes_card import NoteLine
from bot.endpoints import SERVICES
from sandbox.launcher import start_server
from tests.conftest import BotFactory, RunningBot
from tests.e2e.card_clicks import SAM_UPN, CaseThread
from tests.e2e.helpers import audit_entries, card_of, card_text, channel, jobs_done, wait_until
from tests.e2e.test_watch import FAST, SAM, checks_after, revert, undone_replies

HEADING = "Case record"


def note_replies(thread: CaseThread) -> list[dict[str, Any]]:
    return [reply for reply in thread.replies()
            if reply.get("attachments") and HEADING in card_text(card_of(reply))]


def note_texts(thread: CaseThread) -> list[str]:
    """Each note reply as a person reads it: one line per paragraph (the runs of a RichTextBlock joined)."""
    return ["\n".join("".join(run["text"] for run in block["inlines"])
                      for block in _nodes(card_of(reply)) if block.get("type") == "RichTextBlock")
            for reply in note_replies(thread)]


async def outcome_request_id(bot: RunningBot, case_id: str, action: str) -> str:
    entries = await audit_entries(bot.app[SERVICES].settings.redis_url, case_id)
    request_id = next(e["request_id"] for e in entries if e["action"] == action and e["phase"] == "outcome")
    assert request_id, f"the outcome of {action} has no Graph request id to note"
    return request_id


async def test_an_action_is_noted_once_with_who_what_outcome_and_request_id(make_bot: BotFactory) -> None:
    bot = await make_bot(case_notes_seconds=1)
    thread = await CaseThread.open(bot)
    await thread.run("revoke_sessions", done="Revoke sessions: done by")

    [note] = await wait_until(lambda: note_texts(thread), seconds=10, what="the note in the thread")
    assert "Rita Responder" in note and "Revoke sessions — done:" in note and "UTC" in note
    assert await outcome_request_id(bot, thread.case_id, "revoke_sessions") in note
    assert "Verified" in note  # the read-back is part of the outcome's note
    await jobs_done(bot)
    assert len(note_replies(thread)) == 1
    # Plain text only: every string of the note is a TextRun (Teams reads TextBlocks as markdown).
    blocks = [node for node in _nodes(card_of(note_replies(thread)[0])) if node.get("type") == "TextBlock"]
    assert blocks == []


def _nodes(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found.extend(_nodes(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_nodes(value))
    return found


async def test_a_bundle_and_a_quick_second_action_are_one_reply(make_bot: BotFactory) -> None:
    bot = await make_bot(case_notes_seconds=2.5)  # long enough for the second click, quick as it is
    thread = await CaseThread.open(bot)
    await thread.run("block_user", done="Block user: done by")
    await thread.run("confirm_compromised", done="Confirm compromised: done by")

    [note] = await wait_until(lambda: note_texts(thread), seconds=15, what="the batched note")
    await jobs_done(bot)
    assert len(note_replies(thread)) == 1
    assert "Block user — done:" in note and "Confirm compromised — done:" in note
    assert note.index("Block user") < note.index("Confirm compromised")
    for step in ("Disable", "Revoke", "forwarding", "rule"):  # the bundle's steps, one line each
        assert step in note, step
    for action in ("block_user", "confirm_compromised"):
        assert await outcome_request_id(bot, thread.case_id, action) in note
    assert not await bot.app[SERVICES].redis.exists(pending_key(thread.case_id))  # nothing left pending


async def test_a_revert_the_watcher_found_is_not_noted_twice(make_bot: BotFactory) -> None:
    bot = await make_bot(**FAST, case_notes_seconds=0.5)
    thread = await CaseThread.open(bot, SAM_UPN)
    await thread.run("disable_account", done="Disable account: done")
    await thread.wait_for("Containment: contained")
    await wait_until(lambda: note_texts(thread), seconds=10, what="the note of the disable")
    await revert(bot, "sync_enable", SAM_UPN)

    await wait_until(lambda: undone_replies(thread), seconds=10, what="the watcher's reply")
    await checks_after(bot, SAM, 2)
    await jobs_done(bot, but_watch_checks=True)
    assert len(undone_replies(thread)) == 1  # the watcher's reply is the revert's note
    notes = note_texts(thread)
    assert len(notes) == 1 and "Disable account — done:" in notes[0]
    assert not any("re-enabled" in text for text in notes)


async def test_notes_survive_a_restart_of_the_app_that_queued_them(make_bot: BotFactory) -> None:
    first = await make_bot(case_notes_seconds=3, shutdown_grace_seconds=0.2)
    thread = await CaseThread.open(first)
    await thread.run("revoke_sessions", done="Revoke sessions: done by")
    await first.server.runner.cleanup()  # stops before the note is due: it stays pending in Redis
    assert note_replies(thread) == []

    app: web.Application = create_app(first.sandbox.settings, credential=first.sandbox.credential)
    second = await start_server(app, "127.0.0.1", 0)
    channel(first).bot_base_url = second.url
    try:
        [note] = await wait_until(lambda: note_texts(thread), seconds=15, what="the note after the restart")
        assert "Revoke sessions — done:" in note
        await jobs_done(RunningBot(second, first.sandbox))
        assert len(note_replies(thread)) == 1
    finally:
        await second.runner.cleanup()


async def test_the_job_run_again_posts_nothing_twice_and_leaves_a_note_added_meanwhile(
    make_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The window is long: the scheduled job does not come due; this test runs the job's function itself.
    bot = await make_bot(case_notes_seconds=120, shutdown_grace_seconds=0.5)
    services = bot.app[SERVICES]
    thread = await CaseThread.open(bot)
    case_id = thread.case_id
    await notes.add(services, case_id, NoteLine("✅", "2026-11-21T10:32:00+00:00", "Tess Tester", "first note"))
    [first_raw] = await services.redis.lrange(pending_key(case_id), 0, -1)
    real_reply = services.channel.reply

    async def reply_then_note(reference: dict[str, Any], card: dict[str, Any], *args: Any) -> str:
        posted: str = await real_reply(reference, card, *args)  # another note comes while the job posts
        await notes.add(services, case_id, NoteLine("✅", "2026-11-21T10:33:00+00:00", "Tess Tester", "second note"))
        return posted

    monkeypatch.setattr(services.channel, "reply", reply_then_note)
    await notes.run_notes(services, case_id)
    monkeypatch.undo()
    [note] = note_texts(thread)
    assert "first note" in note and "second note" not in note
    assert len(await services.redis.lrange(pending_key(case_id), 0, -1)) == 1  # the second waits for its job

    # The first job delivered again, as after a crash between posting and removing: the first note is not posted
    # twice; the second goes out.
    await services.redis.lpush(pending_key(case_id), first_raw)
    await notes.run_notes(services, case_id)
    await notes.run_notes(services, case_id)
    assert len(note_texts(thread)) == 2
    assert "second note" in note_texts(thread)[1] and "first note" not in note_texts(thread)[1]
    assert not await services.redis.exists(pending_key(case_id))


async def test_many_pending_notes_go_out_in_replies_that_fit_teams(make_bot: BotFactory) -> None:
    bot = await make_bot(case_notes_seconds=120, shutdown_grace_seconds=0.5)
    services = bot.app[SERVICES]
    thread = await CaseThread.open(bot)
    steps = tuple(f"✓ step {n}: " + "x" * 150 for n in range(5))
    for n in range(30):
        await notes.add(services, thread.case_id, NoteLine("✅", "2026-11-21T10:32:00+00:00", "Tess Tester " * 5,
                                                           f"note {n:02d} " + "y" * 200, "done: " + "z" * 300,
                                                           "0" * 36, steps))
    for _ in range(30):
        if not await services.redis.exists(pending_key(thread.case_id)):
            break
        await notes.run_notes(services, thread.case_id)
    texts = note_texts(thread)
    counts = [len(re.findall(r"note \d\d", text)) for text in texts]
    assert len(counts) > 1 and max(counts) <= notes.MAX_PER_REPLY, counts
    assert re.findall(r"note (\d\d)", "".join(texts)) == [f"{n:02d}" for n in range(30)]
    assert max(len(json.dumps(card_of(reply)).encode()) for reply in note_replies(thread)) < 28 * 1024
