"""A turn: one incoming activity the bot answers. Answer now, work later (Slack Bolt's `ack` and lazy listeners):
a handler gets the `Turn` and returns its answer; what must follow the answer it hands to `turn.later`, which
starts once the answer is on the wire. Whatever takes a `turn` runs before the answer, in its budget.

Why the order matters: Teams shows a click's answer card to the clicker in place of the message. A card update
that reaches their client before the answer is then hidden behind the (older) answer, and the clicker is left
looking at "Running…" while everyone else sees the outcome. And Teams drops an answer later than about 5 s, so
the steps before it (a role look-up, a listing, a Bot Connector call) share one budget per turn rather than each
having its own limit, which would add up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.run.inflight import InFlight, OnInterrupted

log = logging.getLogger(__name__)

# Teams stops waiting for an answer after about 5 s; what is left is for writing the answer and the network.
# The default of Settings.answer_budget_seconds (RIPOSTE_ANSWER_BUDGET_SECONDS), which tests shorten.
ANSWER_BUDGET_SECONDS = 4.5
Work = Callable[[], Awaitable[None]]


async def _nothing_to_record() -> None:
    return None


class Turn:
    def __init__(self, inflight: InFlight, budget_seconds: float = ANSWER_BUDGET_SECONDS) -> None:
        self._answered = asyncio.Event()
        self._inflight = inflight
        self.budget = budget_seconds
        self.deadline = asyncio.get_running_loop().time() + budget_seconds  # loop time

    @property
    def waiting(self) -> bool:
        """The answer is not sent yet: someone is waiting on it."""
        return not self._answered.is_set()

    def time_left(self, at_most: float) -> float:
        """How long a step before the answer may take: `at_most`, or what is left of the turn's budget if less;
        `at_most` once the answer is out."""
        if not self.waiting:
            return at_most
        return max(0.2, min(at_most, self.deadline - asyncio.get_running_loop().time()))

    def later(self, work: Work, on_interrupted: OnInterrupted = _nothing_to_record) -> None:
        """Run `work` once the answer is sent (at once if it is), tracked so that shutdown lets it finish (or,
        past its grace, cancels it and awaits `on_interrupted`)."""

        async def after() -> None:
            await self.answered()
            await work()

        self._inflight.start(after(), on_interrupted)

    async def answered(self) -> None:
        """Wait for the answer (briefly: a turn that never answers must not hold anything for long)."""
        if not self.waiting:
            return
        try:
            await asyncio.wait_for(self._answered.wait(), self.budget + 1)
        except TimeoutError:
            log.warning("the turn's answer took too long; going on without it")

    def answer_sent(self) -> None:
        """The answer is written (or the turn failed): what waits for it goes ahead."""
        self._answered.set()
