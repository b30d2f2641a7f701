"""The Redis connection: the shared store when REDIS_URL is set, otherwise an in-process stand-in."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

STAND_IN_WARNING = (
    "\n" + "!" * 78 + "\n"
    "!! REDIS_URL is not set: using an IN-PROCESS Redis stand-in (fakeredis).\n"
    "!! Cases, audit trail and pending approvals are LOST when this process exits,\n"
    "!! and replicas cannot share them. Set REDIS_URL for anything but a local try-out.\n"
    + "!" * 78
)


# After a restart or failover every pooled connection is dead and fails its next command once; Redis.from_url
# retries nothing by default, so each would turn one request into a 503. A retry on a fresh connection mends that.
# A Redis really down must still fail closed fast (a click has ~4.5 s to be answered, /healthz and intake answer
# 503): refused connections fail at once, so a try costs at most the connect timeout, and the two retries' backoff
# stays under ~0.5 s.
RETRIES = 2
CONNECT_TIMEOUT_SECONDS = 1.0
COMMAND_TIMEOUT_SECONDS = 2.0  # Riposte issues no blocking commands; a reply this late means Redis is in trouble
HEALTH_CHECK_SECONDS = 15  # a connection idle this long is PINGed (and reopened) before it is used


def connect_redis(redis_url: str) -> Redis:
    if redis_url:
        return Redis.from_url(
            redis_url,
            decode_responses=True,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.25), RETRIES),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            socket_timeout=COMMAND_TIMEOUT_SECONDS,
            socket_keepalive=True,
            health_check_interval=HEALTH_CHECK_SECONDS,
        )
    import fakeredis  # only needed for the local try-out

    log.warning(STAND_IN_WARNING)
    client: Redis = fakeredis.FakeAsyncRedis(decode_responses=True)
    return client
