"""The intake's one Redis script against a real Redis: what it keeps, and that the job it queues is one saq itself
reads, de-duplicates and hands to a worker exactly as if saq's own enqueue had stored it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis as sync_redis
from redis.asyncio import Redis

from bot.intake.alert_channel import ALERT_CHANNEL_KEY
from bot.intake.alerts import Alert
from bot.intake.handle import new_case_id
from bot.intake.script import NO_CHANNEL, keep_alert
from bot.pipeline.enqueue import POST_CASE, REFRESH_CARD, version_key
from bot.pipeline.queues import RETRIES, Queues, build_queues
from bot.state.cases import Case, CaseStore
from bot.state.store import connect_redis


@dataclass
class Stores:
    redis: Redis
    queues: Queues


@pytest.fixture
async def stores(clean_redis: str) -> AsyncIterator[Stores]:
    redis = connect_redis(clean_redis)
    queues = build_queues(connect_redis(clean_redis, decode_responses=False), heartbeat_seconds=7)
    yield Stores(redis, queues)
    await queues.close()
    await redis.aclose()


def new_case(alert_id: str, user: str = "alice@contoso.com") -> Case:
    alert = Alert(id=alert_id, source="test", title="Impossible travel", severity="high", user=user)
    return Case(id=new_case_id(), alert=alert, nonce="n", created_at="2026-11-24T10:00:00+00:00", offered=("a", "b"))


async def test_a_new_alert_is_kept_with_a_job_saq_reads_dedupes_and_hands_to_a_worker(stores: Stores) -> None:
    case = new_case("a1")
    assert await keep_alert(stores.redis, stores.queues, case, 1800, channel_configured=True) == (case.id, "accepted")

    kept = await CaseStore(stores.redis).get(case.id)
    assert kept == case
    queue = stores.queues.alerts
    job = await queue.job(f"post:{case.id}")
    assert job is not None
    assert (job.function, job.kwargs, job.status) == (POST_CASE, {"case_id": case.id}, "queued")
    options = stores.queues.job_options()
    assert {name: getattr(job, name) for name in options} == options and job.retries == RETRIES
    assert job.queued > 0
    # saq's own enqueue sees the job as queued already.
    assert not await stores.queues.enqueue(queue, POST_CASE, key=f"post:{case.id}", case_id=case.id)
    taken = await queue.dequeue(timeout=1)
    assert taken is not None and taken.key == f"post:{case.id}" and taken.kwargs == {"case_id": case.id}


async def test_grouped_and_repeated_alerts_queue_the_right_job_once(stores: Stores) -> None:
    first = new_case("b1")
    await keep_alert(stores.redis, stores.queues, first, 1800, channel_configured=True)
    grouped = await keep_alert(stores.redis, stores.queues, new_case("b2", "ALICE@contoso.com"), 1800, True)
    again = await keep_alert(stores.redis, stores.queues, new_case("b2"), 1800, channel_configured=True)
    repeat = await keep_alert(stores.redis, stores.queues, new_case("b1"), 1800, channel_configured=True)

    assert (grouped, again, repeat) == ((first.id, "grouped"), (first.id, "duplicate"), (first.id, "duplicate"))
    refresh = await stores.queues.alerts.job(f"card:bulk:{first.id}")
    assert refresh is not None
    assert (refresh.function, refresh.kwargs) == (REFRESH_CARD, {"case_id": first.id, "lane": "bulk"})
    assert await stores.redis.get(version_key(first.id)) == "1"
    assert await stores.queues.alerts.count("queued") == 2  # the post and the update, each once


async def test_without_an_alert_channel_nothing_is_kept(stores: Stores, clean_redis: str) -> None:
    case = new_case("c1")
    assert await keep_alert(stores.redis, stores.queues, case, 1800, channel_configured=False) == ("", NO_CHANNEL)
    assert sync_redis.Redis.from_url(clean_redis).keys("*") == []

    await stores.redis.set(ALERT_CHANNEL_KEY, '{"channel_id": "19:chosen@thread.tacv2"}')  # chosen in chat
    assert await keep_alert(stores.redis, stores.queues, case, 1800, channel_configured=False) == (case.id, "accepted")
