"""Workers: saq workers on both queues, in this process. `python app.py worker` runs only these; `python app.py`
runs them beside the web front. SIGTERM: stop taking jobs, let running ones finish within the grace period, hand
back (re-queue) the rest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError
from saq import Worker
from saq.queue.redis import RedisQueue
from saq.types import PartialTimersDict

from bot.logs import correlated
from bot.pipeline.jobs import job_functions
from bot.pipeline.queues import StandInQueue
from bot.services import Services

log = logging.getLogger(__name__)
JobFunction = Callable[..., Awaitable[Any]]
SWEEP_SECONDS = 5  # how often a worker looks for jobs whose worker stopped beating (died): taken over within
# heartbeat + this


def _with_heartbeat(function: JobFunction, default_every_seconds: float) -> JobFunction:
    """Touch the job while it runs: a job whose heartbeat stops (its worker died) is swept and run again. The pace
    follows the job's own heartbeat (set by whoever queued it), not this worker's setting: a worker beating slower
    than the job expects would have live jobs swept and run twice."""

    async def run(ctx: dict[str, Any], **kwargs: Any) -> Any:
        job = ctx["job"]
        every_seconds = max(0.5, job.heartbeat / 3) if job.heartbeat else default_every_seconds

        async def beat() -> None:
            while True:
                await asyncio.sleep(every_seconds)
                with contextlib.suppress(Exception):  # a missed beat only risks an early, idempotent re-run
                    await job.update()

        beating = asyncio.get_running_loop().create_task(beat())
        try:
            with correlated(f"job:{job.key}"):  # every log line of the job names it
                return await function(ctx, **kwargs)
        finally:
            beating.cancel()

    run.__qualname__ = function.__qualname__
    return run


class Workers:
    def __init__(self, services: Services) -> None:
        settings = services.settings
        beat_every = max(1.0, settings.job_heartbeat_seconds / 3)
        functions = [(name, _with_heartbeat(function, beat_every))
                     for name, function in job_functions(services).items()]
        self._workers = [self._worker(queue, functions, settings.worker_concurrency)
                         for queue in services.queues.all]
        self._grace_seconds = settings.shutdown_grace_seconds
        self._interactive = services.queues.interactive
        self._tasks: list[asyncio.Task[None]] = []

    @staticmethod
    def _worker(queue: RedisQueue, functions: list[tuple[str, JobFunction]], concurrency: int) -> Worker[Any]:
        stand_in = isinstance(queue, StandInQueue)
        worker = Worker(
            queue, functions, concurrency=concurrency,
            # One process owns the stand-in, so no worker of it can die while another lives: no sweeping (saq's
            # sweep waits on pub/sub, which fakeredis serves by blocking the event loop).
            timers=PartialTimersDict(sweep=10**9 if stand_in else SWEEP_SECONDS, schedule=1, abort=1, worker_info=10),
            # No grace inside saq: its stop waits the whole grace for its idle upkeep loops too. stop() below waits
            # for the running jobs only, then lets saq cancel the rest (a cancelled job is re-queued).
            dequeue_timeout=1.0, shutdown_grace_period_s=0,
        )
        worker.SIGNALS = []  # app.py owns SIGTERM/SIGINT and stops the workers itself
        return worker

    def running_jobs(self) -> int:
        return sum(len(worker.job_task_contexts) for worker in self._workers)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(worker.start()) for worker in self._workers]
        log.info("workers started on %s", ", ".join(worker.queue.name for worker in self._workers))

    async def flush_interactive(self, seconds: float) -> None:
        """Give the card updates still queued (the outcomes of actions that just finished) up to `seconds` to go
        out before this process stops: a single-process deployment has no other worker to send them soon."""
        queue = self._interactive
        deadline = time.time() + seconds
        for _ in range(max(1, int(seconds / 0.05))):
            try:
                # Only what is due before the deadline: a job scheduled for later (an action's recovery check)
                # waits in Redis for whichever worker is running then. saq scores a job by its due time, 0 = now.
                if not await queue.redis.zcount(queue.namespace("incomplete"), 0, deadline):
                    return
            except RedisError:  # Redis is gone: what is queued stays queued in it for the next worker
                return
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Stop taking jobs; running ones finish within the grace period, the rest go back to the queue."""
        for worker in self._workers:
            worker.event.set()  # no new dequeues
        running = [context["task"] for worker in self._workers for context in worker.job_task_contexts.values()]
        if running:
            log.info("waiting up to %.0f s for %d running job(s)", self._grace_seconds, len(running))
            await asyncio.wait(running, timeout=self._grace_seconds)
        if self.running_jobs():
            log.warning("%d job(s) still running after the grace period: handing them back", self.running_jobs())
        await asyncio.gather(*(worker.stop() for worker in self._workers), return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
