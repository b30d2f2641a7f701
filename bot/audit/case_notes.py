"""Case notes: after an action's outcome, an approval decision and a release, a short note in the case's thread
(who, what, when, outcome, Graph request id), so that the channel is the case's record; the card keeps the current
state. (A revert the watcher finds gets its own reply, bot/watch: that reply is its note.)

Notes that come within RIPOSTE_CASE_NOTES_SECONDS of each other go out as one reply (a bundle's outcome and the
next click, an approval and the action it runs). Each note is pushed onto the case's pending list in Redis, and a
delayed job on the interactive queue, keyed by the case and the oldest pending note, posts the list a few seconds
after that note. The job posts what is pending in one reply, records the ids it posted, then removes exactly
those: run twice (saq delivers at least once), it posts nothing twice; a note added while it ran is left for the
job it queues next. A note never stops what it records: a failure to queue one is logged.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from actions import ACTIONS
from actions.errors import RiposteError
from bot.cards.notes_card import NoteLine, notes_card
from bot.pipeline.limiter import Priority
from bot.services import Services
from bot.state.cases import CASE_TTL_SECONDS, ActionRecord
from bot.state.states import RunState

log = logging.getLogger(__name__)
CASE_NOTES = "case_notes"
MAX_PER_REPLY = 20  # notes in one reply at most, and at most REPLY_BYTES of card (Teams takes 28 KB): more
REPLY_BYTES = 20 * 1024  # pending go in the next reply, at once
LONGEST = 600  # characters kept of any one string of a note (a summary, a reason), so that one always fits

# KEYS: the pending list. ARGV: the note's JSON, the list's TTL. Returns the oldest pending note.
_ADD = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('LINDEX', KEYS[1], 0)
"""
# KEYS: the pending list. ARGV: the posted notes' JSON. Removes exactly those; returns the oldest note left.
_REMOVE = """
for i = 1, #ARGV do redis.call('LREM', KEYS[1], 1, ARGV[i]) end
return redis.call('LINDEX', KEYS[1], 0)
"""


class NotPostedYet(RiposteError):
    """The case's card is not in a thread yet: the notes wait (the job is retried)."""


def pending_key(case_id: str) -> str:
    return f"riposte:case:{case_id}:notes"


def posted_key(case_id: str) -> str:
    return f"riposte:case:{case_id}:notes-posted"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def add(services: Services, case_id: str, note: NoteLine) -> None:
    """Queue `note` for the case's thread (never raises: the note is logged instead when it cannot be queued)."""
    try:
        payload = {"id": secrets.token_hex(8), "queued": time.time(), **dataclasses.asdict(_clipped(note))}
        oldest = await services.redis.eval(_ADD, 1, pending_key(case_id), json.dumps(payload),  # type: ignore[misc]
                                           str(CASE_TTL_SECONDS))
        await _schedule(services, case_id, str(oldest))
    except Exception:
        log.exception("case note for case %s not queued: %s", case_id, note)


def _clipped(note: NoteLine) -> NoteLine:
    def clip(value: str) -> str:
        return value if len(value) <= LONGEST else value[: LONGEST - 1] + "…"

    return NoteLine(icon=note.icon, at=note.at, who=clip(note.who), what=clip(note.what), outcome=clip(note.outcome),
                    request_id=clip(note.request_id), lines=tuple(clip(line) for line in note.lines[:12]))


async def _schedule(services: Services, case_id: str, oldest: str) -> None:
    """The job that posts the notes pending since `oldest`, a few seconds after it (once: keyed by that note)."""
    first = json.loads(oldest)
    window = services.settings.case_notes_seconds
    at = round(float(first["queued"]) + window, 3) if window > 0 else 0  # saq keeps it as a float score
    await services.queues.enqueue(services.queues.interactive, CASE_NOTES, key=f"notes:{case_id}:{first['id']}",
                                  scheduled=at, case_id=case_id)


async def run_notes(services: Services, case_id: str) -> None:
    """Post the case's pending notes in one reply and remove exactly those (idempotent; see the module's doc)."""
    pending = [str(raw) for raw in  # type: ignore[misc]
               await services.redis.lrange(pending_key(case_id), 0, MAX_PER_REPLY - 1)]
    if not pending:
        return
    case = await services.cases.get(case_id)
    if case is None:  # expired with its notes: nothing to post them under
        await services.redis.delete(pending_key(case_id))
        return
    if not case.conversation:
        raise NotPostedYet(f"notes of case {case_id} wait for its card to be posted")
    posted = {str(note_id) for note_id in await services.redis.smembers(posted_key(case_id))}  # type: ignore[misc]
    handled, fresh = _batch(pending, posted)
    if fresh:
        await services.channel.reply(case.conversation, notes_card([_line(note) for note in fresh]),
                                     Priority.INTERACTIVE)
        async with services.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(posted_key(case_id), *(note["id"] for note in fresh))
            pipe.expire(posted_key(case_id), CASE_TTL_SECONDS)
            await pipe.execute()
        services.metrics.count("riposte_case_note_replies_total")
    oldest = await services.redis.eval(_REMOVE, 1, pending_key(case_id), *handled)  # type: ignore[misc]
    if oldest:  # added while this ran, or more than one reply holds: the next job (queued here too, in case
        # their adder's was refused)
        await _schedule(services, case_id, str(oldest))


def _batch(pending: list[str], posted: set[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """The oldest notes that fit one reply: (what this run removes, what it posts). A note posted already (the job
    ran before and died before removing it) is removed, not posted again."""
    handled: list[str] = []
    fresh: list[dict[str, Any]] = []
    for raw in pending:
        note = json.loads(raw)
        if note["id"] not in posted:
            size = len(json.dumps(notes_card([_line(each) for each in [*fresh, note]])).encode())
            if fresh and size > REPLY_BYTES:
                break
            fresh.append(note)
        handled.append(raw)
    return handled, fresh


def _line(note: dict[str, Any]) -> NoteLine:
    return NoteLine(icon=str(note["icon"]), at=str(note["at"]), who=str(note["who"]), what=str(note["what"]),
                    outcome=str(note.get("outcome") or ""), request_id=str(note.get("request_id") or ""),
                    lines=tuple(str(line) for line in note.get("lines") or ()))


def job_functions(services: Services) -> dict[str, Any]:
    async def post(ctx: dict[str, Any], *, case_id: str) -> None:
        await run_notes(services, case_id)

    return {CASE_NOTES: post}


# What is noted


def _what(action: str, item_label: str) -> str:
    spec = ACTIONS.get(action)
    title = spec.title if spec else action
    return f"{title} “{item_label}”" if item_label else title


ENDINGS = {RunState.DONE: ("✅", "done"), RunState.FAILED: ("❌", "failed"),
           RunState.INTERRUPTED: ("⚠", "interrupted")}


async def action_ended(services: Services, case_id: str, record: ActionRecord) -> None:
    """An action's outcome (its read-back and, for a bundle, its steps with it)."""
    icon, word = ENDINGS.get(record.state, ("•", record.state))
    if record.state == RunState.DONE and not record.verified:
        icon = "⚠"  # Graph accepted it, but the read-back did not show the change
    who = record.actor_name + (f" (approved by {record.approved_by})" if record.approved_by else "")
    lines = (*record.steps, *([record.verification] if record.verification else []))
    await add(services, case_id, NoteLine(
        icon=icon, at=record.finished_at or now_iso(), who=who, what=_what(record.action, record.item_label),
        outcome=f"{word}: {record.summary}" if record.summary else word, request_id=record.request_id,
        lines=lines,
    ))


DECISIONS = {"approved": ("👍", "approved"), "rejected": ("👎", "rejected"), "expired": ("⌛", "approval expired for")}


async def approval_decided(services: Services, case_id: str, phase: str, action: str, item_label: str,
                           actor_name: str, reason: str = "") -> None:
    """An approval request ended: approved, rejected (with the reason) or expired."""
    if phase not in DECISIONS:
        return
    icon, verb = DECISIONS[phase]
    outcome = {"rejected": f"not run; reason: {reason}", "expired": "nobody approved in time; nothing ran"}
    await add(services, case_id, NoteLine(icon=icon, at=now_iso(), who=actor_name or "Riposte",
                                          what=f"{verb} {_what(action, item_label)}", outcome=outcome.get(phase, "")))


async def released(services: Services, case_id: str, actor_name: str, user_label: str) -> None:
    await add(services, case_id, NoteLine(icon="🔓", at=now_iso(), who=actor_name, what=f"released {user_label}",
                                          outcome="Riposte no longer watches the user for reverts"))
