"""Polling Graph security alerts under faults: paging, a stuck cursor, a failing alert, a restart mid-batch.

Each test talks to the sandbox tenant (alerts_v2 over HTTP), the sandbox channel and a real redis-server, and
checks what a responder would see: one card per alert, in order, and where the watermark stands."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import aiohttp
import redis.asyncio as redis_async

from bot.endpoints import SERVICES
from bot.poller import WATERMARK_KEY, poll_once
from tests.conftest import RunningBot
from tests.e2e.helpers import ALICE, card_of, card_text, channel, tenant, wait_until

START = "2026-11-01T00:00:00Z"


def graph_alert(name: str, updated: str, *, user: bool = True) -> dict[str, Any]:
    evidence = [{"@odata.type": "#microsoft.graph.security.userEvidence",
                 "userAccount": {"azureAdUserId": ALICE, "userPrincipalName": "alice@contoso.com"}}] if user else []
    return {"id": f"alert-{name}", "title": f"Poll test {name}", "severity": "high", "status": "new",
            "category": "InitialAccess", "detectionSource": "microsoftDefenderForOffice365",
            "createdDateTime": updated, "lastUpdateDateTime": updated, "evidence": evidence}


def posted_titles(bot: RunningBot) -> list[str]:
    """The alert cards in the channel, oldest thread first, by the alert title on each."""
    titles = []
    for thread in channel(bot).threads():
        found = re.search(r"Poll test \w+", card_text(card_of(thread["root"])))
        titles.append(found.group(0) if found else "(no title)")
    return titles


def alert_queries(bot: RunningBot) -> list[dict[str, str]]:
    return [r.query for r in tenant(bot).requests if r.path == "/security/alerts_v2"]


async def watermark(redis_url: str) -> str | None:
    client = redis_async.Redis.from_url(redis_url, decode_responses=True)
    try:
        value = await client.get(WATERMARK_KEY)
        return None if value is None else str(value)
    finally:
        await client.aclose()


async def set_watermark(redis_url: str, value: str) -> None:
    client = redis_async.Redis.from_url(redis_url, decode_responses=True)
    await client.set(WATERMARK_KEY, value)
    await client.aclose()


async def metrics_text(bot: RunningBot) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/metrics") as response:
        return await response.text()


async def test_every_page_is_read_and_alerts_open_cases_oldest_first(bot: RunningBot, clean_redis: str) -> None:
    """Graph pages newest first and refuses $orderby; the poller reads every page and sorts by the exact
    instant (".5Z" is after "Z" at the same second, though it sorts before it as text)."""
    await set_watermark(clean_redis, START)
    tenant(bot).alerts_page_size = 3
    tenant(bot).security_alerts = [
        graph_alert("5", "2026-11-22T10:05:00Z"), graph_alert("2", "2026-11-22T10:02:00.5000000Z"),
        graph_alert("1", "2026-11-22T10:02:00Z"), graph_alert("7", "2026-11-22T10:07:00.0000001Z"),
        graph_alert("3", "2026-11-22T10:03:00Z"), graph_alert("6", "2026-11-22T10:07:00Z"),
        graph_alert("4", "2026-11-22T10:04:00Z"),
    ]
    services = bot.app[SERVICES]

    assert await poll_once(services) == 7
    assert posted_titles(bot) == [f"Poll test {n}" for n in range(1, 8)]
    assert await watermark(clean_redis) == "2026-11-22T10:07:00.0000001Z"
    queries = alert_queries(bot)
    assert len(queries) == 3, "three pages of three, two links followed"
    assert all(set(q) <= {"$filter", "$top", "$skip"} for q in queries), queries

    assert await poll_once(services) == 0
    assert len(channel(bot).threads()) == 7
    assert alert_queries(bot)[-1]["$filter"] == "lastUpdateDateTime gt 2026-11-22T10:07:00.0000001Z"


async def test_a_repeated_next_link_stops_paging_and_keeps_the_watermark(bot: RunningBot, clean_redis: str) -> None:
    """A stuck cursor is not followed for ever; what it hid (the oldest alert) is read once Graph recovers."""
    await set_watermark(clean_redis, START)
    tenant(bot).alerts_page_size = 2
    tenant(bot).alerts_repeat_next_link = True
    tenant(bot).security_alerts = [graph_alert(str(n), f"2026-11-22T10:0{n}:00Z") for n in range(1, 6)]
    services = bot.app[SERVICES]

    assert await asyncio.wait_for(poll_once(services), timeout=60) == 4
    assert len(alert_queries(bot)) == 2, "the second page's link was its own: not followed again"
    assert posted_titles(bot) == ["Poll test 2", "Poll test 3", "Poll test 4", "Poll test 5"]
    assert await watermark(clean_redis) == START, "alert 1 was never read: the watermark must not pass it"
    assert 'riposte_poll_failures_total{reason="incomplete"} 1' in await metrics_text(bot)

    tenant(bot).alerts_repeat_next_link = False
    assert await poll_once(services) == 1
    assert posted_titles(bot) == ["Poll test 2", "Poll test 3", "Poll test 4", "Poll test 5", "Poll test 1"]
    assert await watermark(clean_redis) == "2026-11-22T10:05:00Z"


async def test_a_failing_alert_in_the_middle_is_retried_and_blocks_nothing(bot: RunningBot, clean_redis: str) -> None:
    """Teams refuses B's card: A and C still open cases, B is counted and comes on the next poll, the
    watermark waits before B; an alert without a user can never become a case and is passed."""
    await set_watermark(clean_redis, START)
    tenant(bot).security_alerts = [
        graph_alert("A", "2026-11-22T10:01:00Z"), graph_alert("nobody", "2026-11-22T10:01:30Z", user=False),
        graph_alert("B", "2026-11-22T10:02:00Z"), graph_alert("C", "2026-11-22T10:03:00Z"),
    ]
    channel(bot).add_fault(method="POST", path_regex="^/v3/conversations$", body_regex="Poll test B", status=500,
                           times=None)
    services = bot.app[SERVICES]

    assert await poll_once(services) == 2
    assert posted_titles(bot) == ["Poll test A", "Poll test C"]
    assert await watermark(clean_redis) == "2026-11-22T10:01:30Z", "past A and the unreadable one, not B"
    metrics = await metrics_text(bot)
    assert 'riposte_poll_failures_total{reason="accept"} 1' in metrics
    assert 'riposte_poll_failures_total{reason="invalid"} 1' in metrics

    assert await poll_once(services) == 0, "Teams still refuses B: counted again, C is a duplicate"
    assert posted_titles(bot) == ["Poll test A", "Poll test C"]
    assert 'riposte_poll_failures_total{reason="accept"} 2' in await metrics_text(bot)

    channel(bot).faults.clear()
    assert await poll_once(services) == 1
    assert posted_titles(bot) == ["Poll test A", "Poll test C", "Poll test B"], "C was a duplicate, not re-posted"
    assert await watermark(clean_redis) == "2026-11-22T10:03:00Z"
    assert await poll_once(services) == 0


async def test_a_restart_mid_batch_resumes_with_exactly_the_rest(bot: RunningBot, clean_redis: str) -> None:
    """The poll dies while alert 4's card is on its way (a restart): alerts 1-3 are already behind the
    watermark, and the next poll asks Graph only for what is after them and opens 4 and 5, once each."""
    await set_watermark(clean_redis, START)
    tenant(bot).security_alerts = [graph_alert(str(n), f"2026-11-22T10:0{n}:00Z") for n in range(1, 6)]
    channel(bot).add_fault(method="POST", path_regex="^/v3/conversations$", body_regex="Poll test 4", status=503,
                           delay=5)  # long enough to interrupt it; teardown waits the rest out
    services = bot.app[SERVICES]

    interrupted = asyncio.create_task(poll_once(services))
    await wait_until(lambda: any("Poll test 4" in str(r["body"]) for r in channel(bot).received),
                     what="alert 4's card to be on its way")
    assert await watermark(clean_redis) == "2026-11-22T10:03:00Z", "written as each alert was taken"
    interrupted.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await interrupted
    assert interrupted.cancelled()
    assert posted_titles(bot) == ["Poll test 1", "Poll test 2", "Poll test 3"]

    channel(bot).faults.clear()
    assert await poll_once(services) == 2
    assert alert_queries(bot)[-1]["$filter"] == "lastUpdateDateTime gt 2026-11-22T10:03:00Z"
    assert posted_titles(bot) == [f"Poll test {n}" for n in range(1, 6)]
    assert await watermark(clean_redis) == "2026-11-22T10:05:00Z"

