"""Bot processes killed for real (SIGKILL) or stopped (SIGTERM) while they hold an alert's job: another process
takes the job over (saq's heartbeat sweep, or the job handed back on SIGTERM) and the case gets exactly one card.
Production code path: `python app.py` subprocesses, msal against the sandbox's authority, real Redis."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import aiohttp
import pytest

from tests.e2e.helpers import SAMPLE_ALERT, card_of, card_text, jobs_done, metric, wait_until
from tests.e2e.processes import BotProcess, World

FAST_TAKEOVER = {"RIPOSTE_JOB_HEARTBEAT_SECONDS": "2", "RIPOSTE_SHUTDOWN_GRACE_SECONDS": "1"}
NEW_THREAD = "^/v3/conversations$"


async def send_alert(bot: BotProcess, alert: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.post(f"{bot.url}/api/alerts", json=alert) as response:
        assert response.status == 202, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def backlog(bot: BotProcess) -> float:
    return await metric(bot, "riposte_jobs_backlog")


async def drained(bot: BotProcess, seconds: float = 30) -> None:
    """Every queued job has finished (the backlog /metrics shows is zero), so "nothing more happened" holds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while await backlog(bot):
        assert asyncio.get_running_loop().time() < deadline, "the backlog did not drain"
        await asyncio.sleep(0.05)


def case_threads(world: World, case_id: str) -> list[dict[str, Any]]:
    return [thread for thread in world.channel_state.threads()
            if thread["root"].get("attachments") and case_id in card_text(card_of(thread["root"]))]


def post_attempts(world: World) -> int:
    return sum(1 for r in world.channel_state.received if r["method"] == "POST" and r["path"] == "/v3/conversations")


async def killed(bot: BotProcess) -> None:
    bot.process.send_signal(signal.SIGKILL)
    await bot.process.wait()


@pytest.mark.timeout(90)
async def test_killed_while_posting_the_card_another_process_posts_it_once(world: World) -> None:
    world.channel_state.add_fault("POST", NEW_THREAD, status=503, delay=8)  # Teams hangs on this post
    first = await world.start_bot(**FAST_TAKEOVER)
    accepted = await send_alert(first, SAMPLE_ALERT)
    await wait_until(lambda: post_attempts(world) == 1, what="the worker to be inside the post")
    await killed(first)

    second = await world.start_bot(**FAST_TAKEOVER)
    threads = await wait_until(lambda: case_threads(world, accepted["case_id"]), seconds=60,
                               what="the card, posted by the process that took the job over")
    assert "Alice Target" in card_text(card_of(threads[0]["root"]))
    await jobs_done(second)  # the job finished: nothing more will be posted
    assert len(case_threads(world, accepted["case_id"])) == 1


@pytest.mark.timeout(90)
async def test_killed_while_reading_the_user_from_graph_the_case_still_gets_its_card(world: World) -> None:
    world.tenant_state.add_fault("GET", "^/users/alice", status=0, delay=8)  # Graph hangs on the user read
    first = await world.start_bot(**FAST_TAKEOVER)
    accepted = await send_alert(first, SAMPLE_ALERT)
    await wait_until(lambda: any(r.path.startswith("/users/alice") for r in world.tenant_state.requests),
                     what="the worker to be reading the user")
    await killed(first)

    await world.start_bot(**FAST_TAKEOVER)
    again = await send_alert(world.bots[-1], SAMPLE_ALERT)  # the sender's retry names the same case
    assert again == {"case_id": accepted["case_id"], "status": "duplicate"}
    threads = await wait_until(lambda: case_threads(world, accepted["case_id"]), seconds=60,
                               what="the card, after the user read was taken over")
    assert "Alice Target" in card_text(card_of(threads[0]["root"]))


@pytest.mark.timeout(90)
async def test_sigterm_hands_a_held_job_back_and_another_worker_finishes_it(world: World) -> None:
    web = await world.start_bot("web", **FAST_TAKEOVER)
    holder = await world.start_bot("worker", **FAST_TAKEOVER)
    world.channel_state.add_fault("POST", NEW_THREAD, status=503, delay=8)
    accepted = await send_alert(web, SAMPLE_ALERT)
    await wait_until(lambda: post_attempts(world) == 1, what="the worker to hold the job")
    assert await backlog(web) == 1  # the outbox backlog, as /metrics shows it

    holder.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(holder.process.wait(), 30) == 0  # stopped cleanly, job handed back
    assert await backlog(web) == 1  # still queued, not lost

    await world.start_bot("worker", **FAST_TAKEOVER)
    await wait_until(lambda: case_threads(world, accepted["case_id"]), seconds=60,
                     what="the card, posted by the second worker")
    await jobs_done(web)
    assert len(case_threads(world, accepted["case_id"])) == 1
