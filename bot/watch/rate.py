"""The watcher's Graph budget: at most RIPOSTE_WATCH_MAX_RPS requests per second across every replica and worker
(the `limits` library's moving window in the same Redis storage as bot/pipeline/limiter.py), and a shared pause
after Graph answers 429.

The watcher calls Graph with kiota's retries off (actions.graph.without_retries), so every request it makes goes
through this budget: a throttled read fails at once, the pause grows (doubling, at most MAX_BACKOFF_SECONDS) and
every replica waits it out before its next watcher request; a check that gets through resets it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from actions.spec import Exchange, Tenant

BACKOFF_KEY = "riposte:watch:graph-backoff"  # value: the current pause in seconds; expires when it is over
BACKOFF_LEVEL_KEY = "riposte:watch:graph-backoff-level"
FIRST_BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 300.0
MIN_WAIT_SECONDS = 0.01


def limits_storage(redis_url: str) -> Storage:
    """The storage bot/pipeline/limiter.py uses: Redis when there is one, memory for the in-process stand-in."""
    if not redis_url:
        return MemoryStorage()
    url = redis_url.replace("redis://", "async+redis://", 1).replace("rediss://", "async+rediss://", 1)
    return RedisStorage(url, implementation="redispy", key_prefix="riposte:limits")


class GraphBudget:
    def __init__(self, storage: Storage, redis: Redis, per_second: int) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._limit = RateLimitItemPerSecond(per_second, 1)
        self._redis = redis
        self.requests = 0  # taken by this process (for tests and /metrics-like checks)

    async def acquire(self) -> None:
        """Wait for a slot in the shared window (and out any shared 429 pause), then take it."""
        while True:
            pause = await self._redis.pttl(BACKOFF_KEY)
            if pause and pause > 0:
                await asyncio.sleep(pause / 1000)
                continue
            if await self._limiter.hit(self._limit, "watch-graph"):
                self.requests += 1
                return
            stats = await self._limiter.get_window_stats(self._limit, "watch-graph")
            await asyncio.sleep(max(MIN_WAIT_SECONDS, stats.reset_time - time.time()))

    async def throttled(self) -> float:
        """Graph said 429: pause every replica's watcher, longer each time in a row. Returns the pause."""
        level = int(await self._redis.incr(BACKOFF_LEVEL_KEY))
        await self._redis.expire(BACKOFF_LEVEL_KEY, int(MAX_BACKOFF_SECONDS * 4))
        pause = float(min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2.0 ** (level - 1)))
        await self._redis.set(BACKOFF_KEY, str(pause), px=int(pause * 1000))
        return pause

    async def recovered(self) -> None:
        await self._redis.delete(BACKOFF_LEVEL_KEY)


class _Budgeted:
    """Every coroutine method of the wrapped object takes a slot of the budget before it calls through."""

    def __init__(self, inner: object, budget: GraphBudget) -> None:
        self._inner = inner
        self._budget = budget

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute
        method = cast(Callable[..., Awaitable[Any]], attribute)

        async def call(*args: Any, **kwargs: Any) -> Any:
            await self._budget.acquire()
            return await method(*args, **kwargs)

        return call


def budgeted_tenant(tenant: Tenant, budget: GraphBudget) -> Tenant:
    return cast(Tenant, _Budgeted(tenant, budget))


def budgeted_exchange(exchange: Exchange | None, budget: GraphBudget) -> Exchange | None:
    return None if exchange is None else cast(Exchange, _Budgeted(exchange, budget))
