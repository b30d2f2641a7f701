"""reset_password through the card: requested by a responder, approved by an approver, and the temporary
password shown once, in the approver's own answer, and nowhere else: not in Redis (any key, any type), the
audit, the channel (every thread, reply and card update), the tenant's recorded requests, or the log."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
import redis.asyncio as redis_async

from sandbox.card_markdown import literal_texts, markdown_texts
from tests.conftest import RunningBot
from tests.e2e.card_clicks import CaseThread, phases
from tests.e2e.helpers import ALICE, APPROVER, audit_entries, card_text, channel, execute_buttons, tenant

SECRET_BANNER = "Temporary password (shown once, only to you; it is not stored anywhere):"


async def redis_dump(url: str) -> str:
    """Every key and every value in Redis, whatever its type."""
    client = redis_async.Redis.from_url(url, decode_responses=True)
    parts: list[str] = []
    try:
        async for key in client.scan_iter(count=500):
            kind = await client.type(key)
            value: Any
            if kind == "string":
                value = await client.get(key)
            elif kind == "hash":
                value = await client.hgetall(key)  # type: ignore[misc]
            elif kind == "stream":
                value = await client.xrange(key)
            elif kind == "set":
                value = sorted(await client.smembers(key))  # type: ignore[misc]
            elif kind == "zset":
                value = await client.zrange(key, 0, -1, withscores=True)
            elif kind == "list":
                value = await client.lrange(key, 0, -1)  # type: ignore[misc]
            elif kind == "none":  # gone since the scan (a job emptied it meanwhile): nothing in it to check
                continue
            else:
                raise AssertionError(f"unexpected Redis type {kind!r} for {key!r}")
            parts.append(f"{key!r} ({kind!r}): {json.dumps(value, default=str)}")
    finally:
        await client.aclose()
    assert parts, "Redis is empty: the dump looked in the wrong place"
    return "\n".join(parts)


def password_in(answer: dict[str, Any]) -> str:
    """The literal text (TextRuns, never markdown) right after the banner in the approver's answer."""
    texts = literal_texts(answer)
    if SECRET_BANNER in texts:
        return texts[texts.index(SECRET_BANNER) + 1]
    raise AssertionError("the approver's answer shows no temporary password")


async def test_reset_password_shows_the_password_once_to_the_approver_only(
    bot: RunningBot, clean_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    thread = await CaseThread.open(bot)
    requested = await thread.click("reset_password")
    assert "needs a second person's approval" in card_text(requested)
    assert "passwordResetAt" not in tenant(bot).users[ALICE]

    answer = await thread.approve(user=APPROVER)
    password = password_in(answer)
    assert len(password) == 20
    assert not any(password in shown for shown in markdown_texts(answer)), "markdown could garble the password"
    assert card_text(answer).count(password) == 1
    text = await thread.wait_for("Reset password: done by Rita Responder")
    assert "Approved by Avery Approver." in text and "shown once, only to the person who clicked" in text
    alice = tenant(bot).users[ALICE]
    assert alice["passwordResetAt"] and alice["forceChangePasswordNextSignIn"] is True
    [patch] = [r for r in tenant(bot).requests if r.method == "PATCH" and r.path == f"/users/{ALICE}"]
    assert patch.body["passwordProfile"] == {"forceChangePasswordNextSignIn": True, "password": "***"}

    # Nowhere else.
    assert password not in await redis_dump(clean_redis)
    entries = await audit_entries(clean_redis, thread.case_id)
    assert phases(entries, "reset_password") == [("intent", "pending"), ("outcome", "ok")]
    assert password not in json.dumps(entries)
    state = channel(bot)
    stored = [activity for conversation in state.conversations.values() for activity in conversation.activities]
    assert any(execute_buttons(a.get("attachments") or []) for a in stored), "no cards stored: wrong place"
    assert password not in json.dumps(stored)
    assert sum(1 for r in state.received if r["method"] == "PUT") >= 2  # the alert card and the approval card
    assert password not in json.dumps(state.received)  # every post, reply and PUT version of every card
    # The sandbox keeps each invoke answer as that person's view of the card: only the approver's has it.
    approval = next(r["id"] for r in thread.replies() if (r["id"], APPROVER) in state.overrides)  # not a note
    assert password in json.dumps(state.overrides[(approval, APPROVER)])
    assert password not in json.dumps([card for card in state.overrides.values() if card is not answer])
    assert password not in json.dumps([r.to_json() for r in tenant(bot).requests])
    assert password not in json.dumps(tenant(bot).snapshot())
    logged = caplog.text + "".join(str(r.args) + (r.exc_text or "") for r in caplog.records)
    assert caplog.records and password not in logged
    # The shared card, as everyone sees it now, says it was done and shows no password.
    assert password not in json.dumps(thread.card()) and SECRET_BANNER not in thread.text()


async def test_a_throttled_reset_fails_at_once_rather_than_after_teams_stopped_waiting(bot: RunningBot) -> None:
    # Waiting out Retry-After would answer after Teams gave up (~5 s): the password would be changed and shown
    # to nobody. The reset fails clearly instead, with nothing changed, and can be asked for again.
    thread = await CaseThread.open(bot)
    await thread.click("reset_password")
    tenant(bot).add_fault(status=429, retry_after="7", method="PATCH", path_regex=f"^/users/{ALICE}$")
    started = time.monotonic()

    answer = await thread.approve(user=APPROVER)

    assert time.monotonic() - started < 3.0, "the approver's answer waited out the throttle"
    assert "Graph is throttling requests (429); nothing was changed" in card_text(answer)
    assert SECRET_BANNER not in card_text(answer)
    assert "passwordResetAt" not in tenant(bot).users[ALICE]
    await thread.wait_for("Reset password: failed")
