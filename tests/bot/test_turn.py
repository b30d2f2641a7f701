"""A Turn (bot/clicks/answered.py): what a handler hands to `later` starts only once the answer is sent, and the
steps before the answer share the turn's one budget."""

from __future__ import annotations

import asyncio

from bot.clicks.answered import Turn
from bot.run.inflight import InFlight


async def test_later_work_starts_after_the_answer_and_is_tracked() -> None:
    inflight = InFlight()
    turn = Turn(inflight)
    ran: list[str] = []

    async def work() -> None:
        ran.append("later")

    turn.later(work)
    await asyncio.sleep(0)  # the task has had its turn to run: it must be waiting for the answer
    assert ran == [] and len(inflight) == 1 and turn.waiting
    turn.answer_sent()
    await inflight.drain(5)
    assert ran == ["later"] and len(inflight) == 0 and not turn.waiting


async def test_steps_before_the_answer_share_one_budget() -> None:
    turn = Turn(InFlight(), budget_seconds=1.0)
    assert turn.time_left(3.0) <= 1.0  # a step may not take longer than the turn has left
    assert turn.time_left(0.5) == 0.5
    turn.answer_sent()
    assert turn.time_left(3.0) == 3.0  # once answered, a step has its own limit again
