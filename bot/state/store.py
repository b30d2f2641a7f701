"""The Redis connection: the shared store when REDIS_URL is set, otherwise an in-process stand-in."""

from __future__ import annotations

import logging

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.driver_info import DriverInfo
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
MAX_CONNECTIONS = 64
POOL_WAIT_SECONDS = 2.0
HEALTH_CHECK_SECONDS = 15  # a connection idle this long is PINGed (and reopened) before it is used
# redis-py reads its own package metadata for every new connection unless told (~1 ms of CPU each): read it once.
DRIVER = DriverInfo()


def connect_redis(redis_url: str, *, decode_responses: bool = True, socket_timeout: float | None = None,
                  stand_in: Redis | None = None) -> Redis:
    """The shared store, or the in-process stand-in. `stand_in` is an existing stand-in whose data a second client
    must share (the job queue speaks bytes, the rest of the bot text); `socket_timeout` for blocking commands."""
    if redis_url:
        # A bounded pool that waits for a free connection: redis-py's default pool raises "Too many connections"
        # past 100, which a burst of alerts reaches; waiting a moment is better than a 503.
        pool = BlockingConnectionPool.from_url(
            redis_url,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_WAIT_SECONDS,
            decode_responses=decode_responses,
            retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.25), RETRIES),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            socket_timeout=socket_timeout or COMMAND_TIMEOUT_SECONDS,
            socket_keepalive=True,
            health_check_interval=HEALTH_CHECK_SECONDS,
            driver_info=DRIVER,
        )
        return Redis(connection_pool=pool)
    import fakeredis  # only needed for the local try-out

    if stand_in is not None:
        server = stand_in.connection_pool.connection_kwargs["server"]
        shared: Redis = fakeredis.FakeAsyncRedis(server=server, decode_responses=decode_responses)
        return shared
    log.warning(STAND_IN_WARNING)
    client: Redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=decode_responses)
    return client


def is_stand_in(redis: Redis) -> bool:
    return "server" in redis.connection_pool.connection_kwargs
