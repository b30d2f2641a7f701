"""Redis restarted (or failed over) under a running bot: the first requests after it succeed, and what was written
before survives (AOF). Redis really down: /healthz and intake fail closed with 503 at once."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import redis as sync_redis

from bot.endpoints import SERVICES
from tests.conftest import BotFactory, RunningBot, free_port
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


class PersistentRedis:
    """A redis-server of this test's own with the append-only file on, stopped and started on one port and dir."""

    def __init__(self) -> None:
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="riposte-redis-restart-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server is not installed"
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", self.workdir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = sync_redis.Redis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    if client.ping():
                        return
                except sync_redis.exceptions.BusyLoadingError:
                    pass  # replaying the AOF
                except sync_redis.ConnectionError:
                    pass
                time.sleep(0.05)
        finally:
            client.close()
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()  # SIGTERM: a clean shutdown, the AOF flushed
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def aof_redis() -> Iterator[PersistentRedis]:
    server = PersistentRedis()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.workdir, ignore_errors=True)


async def healthz(bot: RunningBot) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/healthz") as response:
        return response.status, await response.json()


async def fill_the_pool(bot: RunningBot, concurrent: int = 20) -> None:
    """Many requests at once, so the bot's pool holds many connections opened before the restart."""
    answers = await asyncio.gather(*(healthz(bot) for _ in range(concurrent)))
    assert all(status == 200 for status, _ in answers)


async def test_first_requests_after_a_redis_restart_succeed_and_state_survives(
    make_bot: BotFactory, aof_redis: PersistentRedis
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
    make_bot: BotFactory, aof_redis: PersistentRedis
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
