"""Background work after a click has been answered, tracked so shutdown can finish it or record it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

OnInterrupted = Callable[[], Awaitable[None]]


class InFlight:
    def __init__(self) -> None:
        self._tasks: dict[asyncio.Task[Any], OnInterrupted] = {}

    def start(self, work: Coroutine[Any, Any, None], on_interrupted: OnInterrupted) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks[task] = on_interrupted
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("background action failed", exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, grace_seconds: float) -> None:
        """Let in-flight actions finish; cancel the rest and record each as interrupted."""
        if not self._tasks:
            return
        pending = dict(self._tasks)
        log.info("waiting up to %.0fs for %d in-flight action(s)", grace_seconds, len(pending))
        _, still_running = await asyncio.wait(pending, timeout=grace_seconds)
        for task in still_running:
            task.cancel()
        for task in still_running:
            try:
                await pending[task]()
            except Exception:
                log.exception("could not record an interrupted action")
        if still_running:
            await asyncio.gather(*still_running, return_exceptions=True)
