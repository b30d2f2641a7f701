"""Polling Graph security alerts under faults: paging, a stuck cursor, a failing alert, a restart mid-batch.

Each test talks to the sandbox tenant (alerts_v2 over HTTP), the sandbox channel and a real redis-server, and
checks what a responder would see: one case and one card per alert, taken oldest first, and where the watermark
stands. Intake only keeps the alert and queues its card (a worker posts it later, concurrently), so the order
alerts were taken in is read from the audit's "alert_received" events, and cards are waited for."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis_async

from bot.endpoints import SERVICES
from bot.intake.poller import WATERMARK_KEY, poll_once
from tests.conftest import RunningBot
from tests.e2e.helpers import ALICE, card_of, card_text, case_thread_root, channel, jobs_done, tenant

START = "2026-11-01T00:00:00Z"
SOURCE = "microsoftDefenderForOffice365"  # the alerts' detectionSource: the source their cases are kept under


def graph_alert(name: str, updated: str, *, user: bool = True) -> dict[str, Any]:
    evidence = [{"@odata.type": "#microsoft.graph.security.userEvidence",
                 "userAccount": {"azureAdUserId": ALICE, "userPrincipalName": "alice@contoso.com"}}] if user else []
    return {"id": f"alert-{name}", "title": f"Poll test {name}", "severity": "high", "status": "new",
            "category": "InitialAccess", "detectionSource": SOURCE,
            "createdDateTime": updated, "lastUpdateDateTime": updated, "evidence": evidence}


def posted_titles(bot: RunningBot) -> Counter[str]:
    """How many alert cards the channel holds per alert title (posting is concurrent: their order means nothing)."""
    titles: Counter[str] = Counter()
    for thread in channel(bot).threads():
        found = re.search(r"Poll test \w+", card_text(card_of(thread["root"])))
        titles[found.group(0) if found else "(no title)"] += 1
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


async def taken_in_order(redis_url: str) -> list[str]:
    """The names of the alerts intake took as new (accepted or grouped), in the order it took them: the audit
    writes one "alert_received" event per alert taken, none for a duplicate."""
    client = redis_async.Redis.from_url(redis_url, decode_responses=True)
    try:
        entries = await client.xrange("riposte:audit") or []
    finally:
        await client.aclose()
    events = [{str(key): str(value) for key, value in (fields or {}).items()} for _, fields in entries]
    return [event["source_alert_id"].removeprefix("alert-") for event in events
            if event.get("action") == "alert_received"]


async def case_ids(redis_url: str, names: list[str]) -> dict[str, str | None]:
    """The case each source alert names (None: no case was opened for it)."""
    client = redis_async.Redis.from_url(redis_url, decode_responses=True)
    try:
        found = await client.mget([f"riposte:alert:{SOURCE}:alert-{name}" for name in names])
    finally:
        await client.aclose()
    return {name: None if case is None else str(case) for name, case in zip(names, found, strict=True)}


async def one_card_each(bot: RunningBot, redis_url: str, names: list[str]) -> None:
    """Each alert has its own case, and once the workers are done, exactly one card in the channel: its case's."""
    cases = await case_ids(redis_url, names)
    assert None not in cases.values(), f"alerts without a case: {cases}"
    assert len(set(cases.values())) == len(names), f"alerts sharing a case: {cases}"
    for name, case_id in cases.items():
        root = await case_thread_root(bot, str(case_id))
        assert f"Poll test {name}" in card_text(card_of(root))
    await jobs_done(bot)  # nothing still queued that could post a second card
    assert posted_titles(bot) == Counter(f"Poll test {name}" for name in names)


async def metrics_text(bot: RunningBot) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/metrics") as response:
        return await response.text()


async def accept_failures(bot: RunningBot) -> int:
    found = re.search(r'^riposte_poll_failures_total\{reason="accept"\} (\S+)$', await metrics_text(bot), re.M)
    return int(float(found.group(1))) if found else 0


async def eventually(predicate: Callable[[], Awaitable[Any]], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


class HeldWrites:
    """The real redis-server holding every client's writes (CLIENT PAUSE WRITE: reads still answer, writes wait),
    and letting them through one at a time, so a test can stop the poller between two alerts.

    A step queues, behind the writes already waiting, a transaction of this test's own that pauses writes again,
    then lifts the pause: Redis runs the waiting commands in the order they came, so each client that was waiting
    does exactly one write, this transaction pauses Redis again, and whatever is sent next waits. With
    `refuse_writes`, Redis refuses exactly those writes as a primary that lost its replica does when it is told
    not to take writes it cannot replicate (min-replicas-to-write: NOREPLICAS), and the transaction (which
    writes nothing, so it is not refused) lets writes in again: nothing after them fails."""

    NAME = "riposte-test-held-writes"

    def __init__(self, redis_url: str) -> None:
        self.admin = redis_async.Redis.from_url(redis_url, decode_responses=True)
        self.gate = redis_async.Redis.from_url(redis_url, decode_responses=True, client_name=self.NAME)

    async def hold(self) -> None:
        await self.admin.client_pause(60_000, all=False)  # WRITE: reads still answer

    async def release(self) -> None:
        await self.admin.config_set("min-replicas-to-write", 0)
        await self.admin.client_unpause()

    async def _waiting(self) -> bool:
        return any("b" in client["flags"] and client.get("name") == self.NAME
                   for client in await self.admin.client_list())

    async def someone_waits_on(self, command: str) -> bool:
        """A client (not this test's) is waiting with `command`, e.g. the poller's intake script (evalsha)."""
        return any("b" in client["flags"] and client.get("name") != self.NAME and client.get("cmd") == command
                   for client in await self.admin.client_list())

    async def step(self, *, refuse_writes: bool = False) -> None:
        pipe = self.gate.pipeline(transaction=True)
        pipe.publish("riposte-test:gate", "step")  # paused like a write: the transaction waits its turn
        pipe.config_set("min-replicas-to-write", 0)
        pipe.client_pause(60_000, all=False)
        queued = asyncio.ensure_future(pipe.execute())
        await eventually(self._waiting, "the test's transaction to wait its turn")
        if refuse_writes:
            await self.admin.config_set("min-replicas-to-write", 1)  # and this Redis has no replica
        await self.admin.client_unpause()
        await queued

    async def step_until(self, condition: Callable[[], Awaitable[bool]], poll: asyncio.Task[Any], what: str) -> None:
        deadline = time.monotonic() + 60
        while not await condition():
            assert not poll.done(), f"the poll finished before {what}"
            assert time.monotonic() < deadline, f"timed out stepping to {what}"
            await self.step()

    async def close(self) -> None:
        await self.release()
        await self.gate.aclose()
        await self.admin.aclose()


@pytest.fixture
async def held_writes(clean_redis: str) -> AsyncIterator[HeldWrites]:
    held = HeldWrites(clean_redis)
    try:
        yield held
    finally:
        await held.close()


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
    names = [str(n) for n in range(1, 8)]

    assert await poll_once(services) == 7
    assert await taken_in_order(clean_redis) == names, "intake took them oldest first, by the exact instant"
    assert await watermark(clean_redis) == "2026-11-22T10:07:00.0000001Z"
    queries = alert_queries(bot)
    assert len(queries) == 3, "three pages of three, two links followed"
    assert all(set(q) <= {"$filter", "$top", "$skip"} for q in queries), queries
    await one_card_each(bot, clean_redis, names)

    assert await poll_once(services) == 0
    assert alert_queries(bot)[-1]["$filter"] == "lastUpdateDateTime gt 2026-11-22T10:07:00.0000001Z"
    await jobs_done(bot)
    assert await taken_in_order(clean_redis) == names
    assert posted_titles(bot) == Counter(f"Poll test {name}" for name in names)


async def test_a_repeated_next_link_stops_paging_and_keeps_the_watermark(bot: RunningBot, clean_redis: str) -> None:
    """A stuck cursor is not followed for ever; what it hid (the oldest alert) is read once Graph recovers."""
    await set_watermark(clean_redis, START)
    tenant(bot).alerts_page_size = 2
    tenant(bot).alerts_repeat_next_link = True
    tenant(bot).security_alerts = [graph_alert(str(n), f"2026-11-22T10:0{n}:00Z") for n in range(1, 6)]
    services = bot.app[SERVICES]

    assert await asyncio.wait_for(poll_once(services), timeout=60) == 4
    assert len(alert_queries(bot)) == 2, "the second page's link was its own: not followed again"
    assert await taken_in_order(clean_redis) == ["2", "3", "4", "5"]
    assert await watermark(clean_redis) == START, "alert 1 was never read: the watermark must not pass it"
    assert 'riposte_poll_failures_total{reason="incomplete"} 1' in await metrics_text(bot)
    await one_card_each(bot, clean_redis, ["2", "3", "4", "5"])
    assert (await case_ids(clean_redis, ["1"]))["1"] is None

    tenant(bot).alerts_repeat_next_link = False
    assert await poll_once(services) == 1
    assert await taken_in_order(clean_redis) == ["2", "3", "4", "5", "1"], "2-5 were duplicates, 1 was new"
    assert await watermark(clean_redis) == "2026-11-22T10:05:00Z"
    await one_card_each(bot, clean_redis, ["1", "2", "3", "4", "5"])


async def test_a_failing_alert_in_the_middle_is_retried_and_blocks_nothing(
    bot: RunningBot, clean_redis: str, held_writes: HeldWrites,
) -> None:
    """Redis refuses writes (its replica is gone) just as B is being kept: B is counted and comes on the next poll, the
    watermark waits before B, A before it and C after it open their cases in the same poll; an alert without a
    user can never become a case and is passed."""
    await set_watermark(clean_redis, START)
    tenant(bot).security_alerts = [
        graph_alert("A", "2026-11-22T10:01:00Z"), graph_alert("nobody", "2026-11-22T10:01:30Z", user=False),
        graph_alert("B", "2026-11-22T10:02:00Z"), graph_alert("C", "2026-11-22T10:03:00Z"),
    ]
    # A slow user lookup keeps A's posting job away from Redis while Redis refuses writes: a card posted just then could
    # not be recorded, and its retry would post a second one (bot/pipeline/jobs.py says so), which is not
    # what this test is about.
    tenant(bot).add_fault(method="GET", path_regex=r"^/users/[^/]+$", status=0, delay=3)
    services = bot.app[SERVICES]

    await held_writes.hold()
    poll = asyncio.ensure_future(poll_once(services))
    try:
        # A is kept, and the watermark written past A and the unreadable one: B is the next thing to be kept.
        await held_writes.step_until(lambda: watermark_is(clean_redis, "2026-11-22T10:01:30Z"), poll,
                                     "the watermark to pass A and the unreadable alert")
        while not await accept_failures(bot):  # B's write fails; the step frees Redis right after it
            assert not poll.done(), "the poll finished without B failing"
            await eventually(lambda: held_writes.someone_waits_on("evalsha"), "B's intake to wait on Redis")
            await held_writes.step(refuse_writes=True)
        await held_writes.release()
        assert await asyncio.wait_for(poll, timeout=30) == 2, "A and C"
    finally:
        poll.cancel()
    assert await taken_in_order(clean_redis) == ["A", "C"]
    assert (await case_ids(clean_redis, ["B"]))["B"] is None, "nothing of B was kept"
    assert await watermark(clean_redis) == "2026-11-22T10:01:30Z", "past A and the unreadable one, not B"
    metrics = await metrics_text(bot)
    assert 'riposte_poll_failures_total{reason="accept"} 1' in metrics
    assert 'riposte_poll_failures_total{reason="invalid"} 1' in metrics
    await one_card_each(bot, clean_redis, ["A", "C"])

    assert await poll_once(services) == 1, "B is retried; C comes again as a duplicate"
    assert await taken_in_order(clean_redis) == ["A", "C", "B"], "C was a duplicate, not taken again"
    assert await watermark(clean_redis) == "2026-11-22T10:03:00Z"
    await one_card_each(bot, clean_redis, ["A", "B", "C"])
    assert await poll_once(services) == 0
    await jobs_done(bot)
    assert posted_titles(bot) == Counter(["Poll test A", "Poll test B", "Poll test C"])
    assert 'riposte_poll_failures_total{reason="accept"} 1' in await metrics_text(bot)


async def watermark_is(redis_url: str, expected: str) -> bool:
    return await watermark(redis_url) == expected


async def test_a_restart_mid_batch_resumes_with_exactly_the_rest(
    bot: RunningBot, clean_redis: str, held_writes: HeldWrites,
) -> None:
    """The poll dies (a restart) just as it is keeping alert 4: alerts 1-3 are already behind the watermark, and
    the next poll asks Graph only for what is after them and opens 4 and 5, once each."""
    await set_watermark(clean_redis, START)
    tenant(bot).security_alerts = [graph_alert(str(n), f"2026-11-22T10:0{n}:00Z") for n in range(1, 6)]
    services = bot.app[SERVICES]

    await held_writes.hold()
    interrupted = asyncio.ensure_future(poll_once(services))
    try:
        await held_writes.step_until(lambda: watermark_is(clean_redis, "2026-11-22T10:03:00Z"), interrupted,
                                     "the watermark to pass alert 3")
    finally:
        interrupted.cancel()  # the process goes away while alert 4 waits on Redis
        with contextlib.suppress(asyncio.CancelledError):
            await interrupted
    assert interrupted.cancelled()
    await held_writes.release()
    assert await taken_in_order(clean_redis) == ["1", "2", "3"], "written as each alert was taken"
    assert await watermark(clean_redis) == "2026-11-22T10:03:00Z"
    await one_card_each(bot, clean_redis, ["1", "2", "3"])

    assert await poll_once(services) == 2
    assert alert_queries(bot)[-1]["$filter"] == "lastUpdateDateTime gt 2026-11-22T10:03:00Z"
    assert await taken_in_order(clean_redis) == ["1", "2", "3", "4", "5"]
    assert await watermark(clean_redis) == "2026-11-22T10:05:00Z"
    await one_card_each(bot, clean_redis, ["1", "2", "3", "4", "5"])
