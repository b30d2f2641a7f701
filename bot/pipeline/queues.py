"""The job queues (saq on Redis) and how work is put on them.

Two queues so that storm traffic never delays what a responder waits for: `alerts` (posting new cases, updating
grouped cards) and `interactive` (card updates that follow a click). Every job is keyed, so a job already queued is
not queued twice, and every job function is idempotent, so saq's at-least-once delivery (a job whose worker died
is run again) gives exactly-once visible outcomes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from saq import Job
from saq.queue.redis import RedisQueue

from bot.state.store import is_stand_in

ALERTS = "riposte-alerts"
INTERACTIVE = "riposte-interactive"
# Checks due later (a watched user's next check, a running action's recovery check): never empty while anything is
# watched or running, so not part of a backlog.
CHECKS = "riposte-checks"
# A job that fails is retried with backoff for as long as it takes (a channel Teams refuses, Graph down): nothing
# is dropped. saq counts attempts, so "forever" is a large number; the backoff tops out at a minute.
RETRIES = 1_000_000
RETRY_DELAY_SECONDS = 1.0
MAX_RETRY_DELAY_SECONDS = 60.0
JOB_TIMEOUT_SECONDS = 0  # no overall limit: a send may wait out Teams' throttling; the heartbeat catches a dead worker
KEEP_FINISHED_SECONDS = 600


class StandInQueue(RedisQueue):
    """saq's Redis queue on the in-process stand-in: fakeredis runs blocking commands (BLMOVE) synchronously, which
    would stall the event loop, so this polls with a non-blocking LMOVE instead."""

    POLL_SECONDS = 0.01

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:  # noqa: ASYNC109
        waited = 0.0
        while not timeout or waited < timeout:  # saq's meaning: 0 waits for ever
            job_id = await self.redis.lmove(self._queued, self._active, "LEFT", "RIGHT")
            if job_id is not None:
                job: Job | None = await self._get_job_by_id(job_id)
                return job
            await asyncio.sleep(self.POLL_SECONDS)
            waited += self.POLL_SECONDS
        return None


@dataclass
class Queues:
    alerts: RedisQueue
    interactive: RedisQueue
    checks: RedisQueue
    heartbeat_seconds: int

    async def enqueue(self, queue: RedisQueue, function: str, key: str, **kwargs: Any) -> bool:
        """Queue `function(**kwargs)` under `key`; False when a job with that key is already waiting or running."""
        job = await queue.enqueue(function, key=key, **self.job_options(), **kwargs)
        return job is not None

    def job_options(self) -> dict[str, Any]:
        """saq job settings every Riposte job has (also used by bot/pipeline/job_template.py)."""
        return {"retries": RETRIES, "retry_delay": RETRY_DELAY_SECONDS, "retry_backoff": MAX_RETRY_DELAY_SECONDS,
                "timeout": JOB_TIMEOUT_SECONDS, "heartbeat": self.heartbeat_seconds, "ttl": KEEP_FINISHED_SECONDS}

    async def backlog(self) -> dict[str, int]:
        """Jobs waiting or running, per queue (for /metrics)."""
        counts = {queue.name: await queue.count("incomplete") for queue in (self.alerts, self.interactive)}
        # Checks: only those due or running; the ones waiting for their time are `scheduled_checks`.
        counts[self.checks.name] = await self.checks.count("queued") + await self.checks.count("active")
        return counts

    async def scheduled_checks(self) -> int:
        """Checks waiting for their time (for /metrics)."""
        due = await self.checks.count("queued") + await self.checks.count("active")
        return await self.checks.count("incomplete") - due

    @property
    def all(self) -> tuple[RedisQueue, ...]:
        return (self.interactive, self.alerts, self.checks)

    async def close(self) -> None:
        await self.alerts.redis.aclose()  # both queues share one connection pool


def build_queues(jobs_redis: Redis, heartbeat_seconds: int) -> Queues:
    kind = StandInQueue if is_stand_in(jobs_redis) else RedisQueue
    return Queues(kind(jobs_redis, name=ALERTS), kind(jobs_redis, name=INTERACTIVE), kind(jobs_redis, name=CHECKS),
                  heartbeat_seconds)
