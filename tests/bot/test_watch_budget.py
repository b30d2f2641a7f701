"""The watcher's shared Graph budget (bot/watch/rate.py) on a real Redis: a 429 seen by one replica pauses all."""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis

from bot.watch import rate
from bot.watch.rate import GraphBudget, limits_storage


async def test_a_429_pauses_every_replica_longer_each_time(clean_redis: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate, "FIRST_BACKOFF_SECONDS", 0.2)
    redis = Redis.from_url(clean_redis, decode_responses=True)
    try:
        one = GraphBudget(limits_storage(clean_redis), redis, 100)
        other = GraphBudget(limits_storage(clean_redis), redis, 100)
        assert await one.throttled() == pytest.approx(0.2)
        assert await one.throttled() == pytest.approx(0.4)
        started = time.monotonic()
        await other.acquire()
        assert time.monotonic() - started >= 0.3
        await other.recovered()
        assert await one.throttled() == pytest.approx(0.2)
    finally:
        await redis.aclose()


async def test_the_budget_is_shared_across_replicas(clean_redis: str) -> None:
    redis = Redis.from_url(clean_redis, decode_responses=True)
    try:
        replicas = [GraphBudget(limits_storage(clean_redis), redis, 3) for _ in range(2)]
        started = time.monotonic()
        for index in range(7):  # 3 in the first second, 3 in the next, the 7th in the third
            await replicas[index % 2].acquire()
        assert time.monotonic() - started >= 1.9
        assert sum(replica.requests for replica in replicas) == 7
    finally:
        await redis.aclose()
