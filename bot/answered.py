"""Background work started during a turn waits until that turn's answer has been sent.

Teams shows a click's answer card to the clicker in place of the message. A card update that reaches their client
before the answer is then hidden behind the (older) answer, and the clicker is left looking at "Running…" while
everyone else sees the outcome. Holding the Graph call until the answer is on the wire costs the few milliseconds
the answer takes and keeps the order: answer first, outcome after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

log = logging.getLogger(__name__)

# Teams stops waiting for an answer after about 5 s; a turn that takes longer has lost its answer anyway.
ANSWER_WAIT_SECONDS = 5.0

_turn_answered: ContextVar[asyncio.Event | None] = ContextVar("riposte_turn_answered", default=None)


@contextmanager
def answering_turn() -> Iterator[asyncio.Event]:
    """For the duration of one incoming activity: set the event once its answer has been written."""
    answered = asyncio.Event()
    token = _turn_answered.set(answered)
    try:
        yield answered
    finally:
        _turn_answered.reset(token)
        answered.set()  # also when the turn failed: nothing must wait on it for long


async def after_answer() -> None:
    """Wait for the answer of the turn this task was started in (tasks inherit the context); at once outside a
    turn (alert intake, automation, approval expiry)."""
    answered = _turn_answered.get()
    if answered is None or answered.is_set():
        return
    try:
        await asyncio.wait_for(answered.wait(), ANSWER_WAIT_SECONDS)
    except TimeoutError:
        log.warning("the turn's answer took over %.0fs; running the action anyway", ANSWER_WAIT_SECONDS)
