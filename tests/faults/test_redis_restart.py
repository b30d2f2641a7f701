"""Redis restarted (or failed over) under a running bot: the first requests after it succeed, and what was written
before survives (AOF). Redis really down: /healthz and intake fail closed with 503 at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from bot.endpoints import SERVICES
from sandbox.redis_server import RedisServer
from tests.conftest import BotFactory, RunningBot
from tests.e2e.helpers import (
    RESPONDER,
    SAMPLE_ALERT,
    audit_entries,
    buttons,
    card_of,
    card_text,
    channel,
    post_alert,
    posted_card,
    wait_until,
)


@pytest.fixture
def aof_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own with the append-only file on, stopped and started on one port and dir."""
    with RedisServer(appendonly=True) as server:
        yield server


async def healthz(bot: RunningBot) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/healthz") as response:
        return response.status, await response.json()


async def fill_the_pool(bot: RunningBot, concurrent: int = 20) -> None:
    """Many requests at once, so the bot's pool holds many connections opened before the restart."""
    answers = await asyncio.gather(*(healthz(bot) for _ in range(concurrent)))
    assert all(status == 200 for status, _ in answers)


async def test_first_requests_after_a_redis_restart_succeed_and_state_survives(
    make_bot: BotFactory, aof_redis: RedisServer
) -> None:
    bot = await make_bot(redis_url=aof_redis.url)
    case_id, root = await posted_card(bot)
    data = buttons(card_of(root))["revoke_sessions"]["data"]
    conversation_id = channel(bot).threads()[-1]["id"]
    status, _ = await channel(bot).send_invoke(RESPONDER, conversation_id, root["id"], "revoke_sessions", data)
    assert status == 200
    await wait_until(lambda: "Revoke sessions: done by" in card_text(card_of(channel(bot).find_activity(root["id"]))),
                     what="the revoke's outcome on the card")
    audit_before = await audit_entries(aof_redis.url, case_id)
    assert [e["phase"] for e in audit_before] == ["intent", "outcome"]
    await fill_the_pool(bot)

    aof_redis.stop()
    aof_redis.start()

    status, body = await healthz(bot)
    assert (status, body["status"], body["redis"]) == (200, "ok", "ok"), "the first /healthz after the restart"
    assert body["persistence"]["aof_enabled"] is True and "warning" not in body["persistence"]
    answers = await asyncio.gather(*(post_alert(bot, {**SAMPLE_ALERT, "id": f"after-restart-{n}"}) for n in range(20)))
    assert [status for status, _ in answers] == [202] * 20, answers

    # What was written before the restart is still there: the case (with its card's place) and its audit.
    case = await bot.app[SERVICES].cases.get(case_id)
    assert case is not None and case.activity_id == root["id"]
    assert await audit_entries(aof_redis.url, case_id) == audit_before
    # And the card's buttons still work on it: a second click is told it was already done.
    status, answer = await channel(bot).send_invoke(RESPONDER, conversation_id, root["id"], "revoke_sessions", data)
    assert status == 200 and "case is unknown here" not in card_text(answer["value"])


@pytest.mark.timeout(30)  # "promptly": a Redis that is down must not hold requests for long
async def test_with_redis_down_healthz_and_intake_answer_503(
    make_bot: BotFactory, aof_redis: RedisServer
) -> None:
    bot = await make_bot(redis_url=aof_redis.url)
    await fill_the_pool(bot)
    aof_redis.stop()

    status, body = await healthz(bot)
    assert (status, body) == (503, {"status": "unhealthy", "redis": "unreachable"})
    status, answer = await post_alert(bot, SAMPLE_ALERT)
    assert status == 503 and "state store (Redis) is unreachable" in answer["error"]
    status, body = await healthz(bot)
    assert status == 503
