"""A turn's answer goes out first, and in time.

Teams shows a click's answer card to the clicker in place of the message. A card update that reaches their client
before the answer is then hidden behind the (older) answer, and the clicker is left looking at "Running…" while
everyone else sees the outcome. So background work started during a turn waits until the turn's answer has been
written (the few milliseconds the answer takes).

Teams also drops an answer later than about 5 s. Steps that run before the answer (a role look-up, a listing, a
Bot Connector call) share one budget per turn rather than each having its own limit, which would add up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Teams stops waiting for an answer after about 5 s; what is left is for writing the answer and the network.
# The default of Settings.answer_budget_seconds (RIPOSTE_ANSWER_BUDGET_SECONDS), which tests shorten.
ANSWER_BUDGET_SECONDS = 4.5


@dataclass(frozen=True)
class _Turn:
    answered: asyncio.Event
    deadline: float  # loop time
    budget: float  # seconds


_turn: ContextVar[_Turn | None] = ContextVar("riposte_turn", default=None)


@contextmanager
def answering_turn(budget_seconds: float = ANSWER_BUDGET_SECONDS) -> Iterator[asyncio.Event]:
    """For the duration of one incoming activity: set the event once its answer has been written. The steps
    before the answer share `budget_seconds`."""
    turn = _Turn(asyncio.Event(), asyncio.get_running_loop().time() + budget_seconds, budget_seconds)
    token = _turn.set(turn)
    try:
        yield turn.answered
    finally:
        _turn.reset(token)
        turn.answered.set()  # also when the turn failed: nothing must wait on it for long


def answering() -> bool:
    """Whether this code runs before its turn's answer has been sent (so the clicker is waiting on it)."""
    turn = _turn.get()
    return turn is not None and not turn.answered.is_set()


def time_left(at_most: float) -> float:
    """How long a step before the answer may take: `at_most`, or what is left of the turn's budget if less.
    Outside a turn (or once it is answered), `at_most`."""
    turn = _turn.get()
    if turn is None or turn.answered.is_set():
        return at_most
    return max(0.2, min(at_most, turn.deadline - asyncio.get_running_loop().time()))


async def after_answer() -> None:
    """Wait for the answer of the turn this task was started in (tasks inherit the context); at once outside a
    turn (alert intake, automation, approval expiry)."""
    turn = _turn.get()
    if turn is None or turn.answered.is_set():
        return
    try:
        await asyncio.wait_for(turn.answered.wait(), turn.budget + 1)
    except TimeoutError:
        log.warning("the turn's answer took too long; going on without it")
