"""Teams' documented send limits, shared by every replica and worker (the `limits` library's moving windows in
Redis; in memory for the single-process stand-in).

Per bot per thread: 7 per second, 8 per 2 s, 60 per 30 s, 1,800 per hour; per app per tenant: 50 per second
(msteams-docs bots/how-to/rate-limit.md). We take the strict reading that a channel is one thread, so every thread
of a channel shares the channel's budget. A send goes only when every window has room, so the limits are never
exceeded; storm traffic (bulk) also leaves a small reserve in each thread window so that the updates a responder's
click causes go ahead of it.
"""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from actions.errors import RiposteError

BULK_RESERVE = 2  # sends per thread window that storm traffic leaves free for interactive updates
MIN_WAIT_SECONDS = 0.01
# A send that waited for a window to free up goes this much after the window's edge, not on it: Teams counts a
# send when it arrives, and the moment between taking the slot and the request arriving varies (measured in
# bench/storm.py: released on the edge, 8-11 % of storm sends came back 429).
EDGE_MARGIN_SECONDS = 0.1


class Priority(StrEnum):
    INTERACTIVE = "interactive"  # what a responder is waiting for: a click's card update, an approval card
    BULK = "bulk"  # storm traffic: new alert threads, grouped-alert card updates


class Throttled(RiposteError):
    """No send slot before the caller's deadline (a click's answer cannot wait): try again later."""


def thread_of(conversation_id: str) -> str:
    """The budget a conversation draws on: a channel thread `19:…@thread.tacv2;messageid=…` counts as its channel."""
    return conversation_id.split(";", 1)[0]


def parse_limits(text: str) -> list[RateLimitItem]:
    """`7/1second;8/2seconds` → limits; raises ValueError naming what is wrong."""
    try:
        return list(parse_many(text))
    except ValueError as error:
        raise ValueError(f"{text!r} is not a list of rate limits like '7/1second;60/30seconds': {error}") from None


class TeamsLimiter:
    def __init__(self, storage: Storage, thread_limits: list[RateLimitItem], tenant_limits: list[RateLimitItem],
                 tenant_id: str) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._storage = storage
        self._thread_limits = thread_limits
        self._tenant_limits = tenant_limits
        self._tenant = tenant_id or "tenant"
        self.waits = 0  # how often a send had to wait for a slot (for /metrics)

    @classmethod
    def build(cls, redis_url: str, thread_limits: str, tenant_limits: str, tenant_id: str) -> TeamsLimiter:
        storage: Storage = (
            RedisStorage(redis_url.replace("redis://", "async+redis://", 1).replace("rediss://", "async+rediss://", 1),
                         implementation="redispy", key_prefix="riposte:limits")
            if redis_url else MemoryStorage()
        )
        return cls(storage, parse_limits(thread_limits), parse_limits(tenant_limits), tenant_id)

    def _windows(self, conversation_id: str) -> list[tuple[RateLimitItem, str, str]]:
        thread = thread_of(conversation_id)
        return ([(limit, "thread", thread) for limit in self._thread_limits]
                + [(limit, "tenant", self._tenant) for limit in self._tenant_limits])

    async def acquire(self, conversation_id: str, priority: Priority, deadline: float | None = None) -> None:
        """Wait until a send to `conversation_id` fits every window, and take it. Raises Throttled when that would
        be after `deadline` (time.monotonic())."""
        windows = self._windows(conversation_id)
        while True:
            wait = await self._wait_needed(windows, priority)
            if wait <= 0 and await self._take(windows):
                return
            wait = max(wait + EDGE_MARGIN_SECONDS, MIN_WAIT_SECONDS)
            self.waits += 1
            if deadline is not None and time.monotonic() + wait > deadline:
                raise Throttled("Teams' send limit for this channel is reached; the card will be updated shortly.")
            await asyncio.sleep(wait)

    async def _wait_needed(self, windows: list[tuple[RateLimitItem, str, str]], priority: Priority) -> float:
        reserve = BULK_RESERVE if priority is Priority.BULK else 0
        longest = 0.0
        for limit, scope, key in windows:
            stats = await self._limiter.get_window_stats(limit, scope, key)
            keep = reserve if scope == "thread" else 0
            if stats.remaining <= keep:
                longest = max(longest, stats.reset_time - time.time())
        return longest

    async def _take(self, windows: list[tuple[RateLimitItem, str, str]]) -> bool:
        # Each hit is atomic; a later window refusing after earlier ones counted wastes a slot (never over-sends).
        for limit, scope, key in windows:
            if not await self._limiter.hit(limit, scope, key):
                return False
        return True
