"""The Redis connection: the shared store when REDIS_URL is set, otherwise an in-process stand-in."""

from __future__ import annotations

import logging

from redis.asyncio import Redis

log = logging.getLogger(__name__)

STAND_IN_WARNING = (
    "\n" + "!" * 78 + "\n"
    "!! REDIS_URL is not set: using an IN-PROCESS Redis stand-in (fakeredis).\n"
    "!! Cases, audit trail and pending approvals are LOST when this process exits,\n"
    "!! and replicas cannot share them. Set REDIS_URL for anything but a local try-out.\n"
    + "!" * 78
)


def connect_redis(redis_url: str) -> Redis:
    if redis_url:
        return Redis.from_url(redis_url, decode_responses=True, health_check_interval=30)
    import fakeredis  # only needed for the local try-out

    log.warning(STAND_IN_WARNING)
    client: Redis = fakeredis.FakeAsyncRedis(decode_responses=True)
    return client
