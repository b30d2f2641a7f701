"""A bot process killed (SIGKILL) or cut off from Redis while Graph is changing the tenant for an action: another
process settles the action within a minute by reading the tenant (done, confirmed by read-back; or interrupted and
clickable again), with exactly one audit ending and no second Graph write. Production code path: `python app.py`
subprocesses, msal against the sandbox's authority, real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from sandbox.redis_server import RedisServer
from tests.e2e.card_clicks import is_active
from tests.e2e.helpers import (
    ALICE,
    APPROVER,
    RESPONDER,
    SAMPLE_ALERT,
    audit_entries,
    buttons,
    card_of,
    card_text,
    execute_buttons,
    wait_until,
)
from tests.e2e.processes import BotProcess, World

# A short lease, so the recovery is due ~3 + 5 s after the click; fast job takeover as in test_crashes.
FAST = {"RIPOSTE_ACTION_LEASE_SECONDS": "3", "RIPOSTE_JOB_HEARTBEAT_SECONDS": "2",
        "RIPOSTE_SHUTDOWN_GRACE_SECONDS": "1"}
USER_PATCH = f"^/users/{ALICE}$"  # disable_account and reset_password are PATCHes of the user
GRAPH_DELAY = 3.0  # Graph holds the write this long; the process dies meanwhile, the recovery reads after it


class Thread:
    """The case's card in the sandbox channel, clicked on whichever bot process the test names."""

    def __init__(self, world: World, case_id: str, root: dict[str, Any]) -> None:
        self.world, self.case_id, self.root_id = world, case_id, root["id"]
        self.conversation_id = next(t["id"] for t in world.channel_state.threads() if t["root"]["id"] == root["id"])

    @classmethod
    async def open(cls, world: World, bot: BotProcess) -> Thread:
        async with aiohttp.ClientSession() as session, session.post(f"{bot.url}/api/alerts",
                                                                     json=SAMPLE_ALERT) as response:
            assert response.status == 202, await response.text()
            case_id = (await response.json())["case_id"]

        def root() -> dict[str, Any] | None:
            return next((t["root"] for t in world.channel_state.threads() if t["root"].get("attachments")
                         and case_id in card_text(card_of(t["root"]))), None)

        return cls(world, case_id, await wait_until(root, 30, "the case's card"))

    def text(self) -> str:
        return card_text(card_of(self.world.channel_state.find_activity(self.root_id)))

    def button(self, verb: str) -> dict[str, Any]:
        found: dict[str, Any] = buttons(card_of(self.world.channel_state.find_activity(self.root_id)))[verb]
        return found

    async def click(self, bot: BotProcess, verb: str, user: str = RESPONDER) -> tuple[int, Any]:
        self.world.channel_state.bot_base_url = bot.url
        data = self.button(verb)["data"]
        return await self.world.channel_state.send_invoke(user, self.conversation_id, self.root_id, verb, data)

    async def approve(self, bot: BotProcess) -> tuple[int, Any]:
        def request() -> tuple[str, dict[str, Any]] | None:
            thread = next(t for t in self.world.channel_state.threads() if t["id"] == self.conversation_id)
            for reply in thread["replies"]:
                for button in execute_buttons(reply.get("attachments") or []):
                    if button["verb"] == "approve":
                        return reply["id"], button["data"]
            return None

        reply_id, data = await wait_until(request, 30, "the approval request")
        self.world.channel_state.bot_base_url = bot.url
        return await self.world.channel_state.send_invoke(APPROVER, self.conversation_id, reply_id, "approve", data)

    async def wait_for(self, needle: str, seconds: float = 60) -> str:
        try:
            text: str = await wait_until(lambda: self.text() if needle in self.text() else "", seconds,
                                         f"the card to say {needle!r}")
        except AssertionError as error:
            raise AssertionError(f"{error}; the card says {self.text()!r}") from None
        return text


def user_patches(world: World, field: str) -> int:
    return sum(1 for r in world.tenant_state.requests
               if r.method == "PATCH" and r.path == f"/users/{ALICE}" and isinstance(r.body, dict) and field in r.body)


async def endings(redis_url: str, case_id: str, action: str) -> list[tuple[str, str]]:
    """(phase, result) of the action's audit entries: one intent and one ending per run."""
    return [(e["phase"], e["result"]) for e in await audit_entries(redis_url, case_id)
            if e["action"] == action and e["phase"] in ("intent", "outcome", "interrupted")]


async def kill(bot: BotProcess) -> None:
    bot.process.send_signal(signal.SIGKILL)
    await bot.process.wait()


@pytest.mark.timeout(150)
async def test_killed_while_graph_disables_the_account_another_process_confirms_it_by_read_back(
    world: World,
) -> None:
    first, second = await world.start_bot(**FAST), await world.start_bot(**FAST)
    thread = await Thread.open(world, first)
    world.tenant_state.add_fault("PATCH", USER_PATCH, status=0, delay=GRAPH_DELAY)  # served late: it does apply
    status, _ = await thread.click(first, "disable_account")
    assert status == 200
    await wait_until(lambda: user_patches(world, "accountEnabled") == 1, what="the disable to be on its way")
    await kill(first)

    text = await thread.wait_for("Confirmed by read-back after the bot was interrupted", 60)
    assert "account disabled (accountEnabled false)" in text
    assert await endings(world.redis_url, thread.case_id, "disable_account") == [
        ("intent", "pending"), ("outcome", "ok")]
    assert world.tenant_state.users[ALICE]["accountEnabled"] is False
    # The undo is offered (the card re-read the user), and a second click is told it was done, not run again.
    await wait_until(lambda: "enable_account" in {b["verb"] for b in execute_buttons(
        card_of(world.channel_state.find_activity(thread.root_id)))}, what="Re-enable on the card")
    await asyncio.sleep(2)  # any late second recovery would have written by now
    assert user_patches(world, "accountEnabled") == 1, "the disable ran twice"
    assert len(await endings(world.redis_url, thread.case_id, "disable_account")) == 2
    assert second.process.returncode is None


@pytest.mark.timeout(150)
async def test_killed_while_graph_refuses_the_disable_it_is_interrupted_and_can_run_again(world: World) -> None:
    first = await world.start_bot(**FAST)
    thread = await Thread.open(world, first)
    world.tenant_state.add_fault("PATCH", USER_PATCH, status=503, delay=GRAPH_DELAY)  # answered late, not applied
    status, _ = await thread.click(first, "disable_account")
    assert status == 200
    await wait_until(lambda: user_patches(world, "accountEnabled") == 1, what="the disable to be on its way")
    await kill(first)
    second = await world.start_bot(**FAST)  # started after the death: no process was alive to take it over

    text = await thread.wait_for("The bot stopped before Graph answered", 60)
    assert "the tenant shows the account still enabled (accountEnabled true): run it again if needed" in text
    assert await endings(world.redis_url, thread.case_id, "disable_account") == [
        ("intent", "pending"), ("interrupted", "interrupted")]
    assert world.tenant_state.users[ALICE]["accountEnabled"] is True
    assert user_patches(world, "accountEnabled") == 1

    assert is_active(thread.button("disable_account")), "the interrupted action must be clickable again"
    status, answer = await thread.click(second, "disable_account")
    assert status == 200 and "already" not in card_text(answer["value"])
    await thread.wait_for("Disable account: done by Rita Responder", 30)
    assert world.tenant_state.users[ALICE]["accountEnabled"] is False
    assert user_patches(world, "accountEnabled") == 2
    assert await endings(world.redis_url, thread.case_id, "disable_account") == [
        ("intent", "pending"), ("interrupted", "interrupted"), ("intent", "pending"), ("outcome", "ok")]


@pytest.mark.timeout(150)
async def test_reset_password_killed_mid_call_is_settled_by_the_last_password_change(world: World) -> None:
    """Inline (the password goes only to the approver's answer), so the approval's click is cut off; the
    recovery reads lastPasswordChangeDateTime, which the sandbox sets when Graph applies the reset."""
    first, second = await world.start_bot(**FAST), await world.start_bot(**FAST)
    thread = await Thread.open(world, first)
    assert not world.tenant_state.users[ALICE].get("lastPasswordChangeDateTime")
    status, _ = await thread.click(first, "reset_password")
    assert status == 200
    world.tenant_state.add_fault("PATCH", USER_PATCH, status=0, delay=GRAPH_DELAY)
    approving = asyncio.ensure_future(thread.approve(first))
    await wait_until(lambda: user_patches(world, "passwordProfile") == 1, what="the reset to be on its way")
    await kill(first)
    with contextlib.suppress(aiohttp.ClientError):  # the approver's answer died with the process
        await approving

    text = await thread.wait_for("Confirmed by read-back after the bot was interrupted", 60)
    assert "password changed (lastPasswordChangeDateTime" in text
    assert world.tenant_state.users[ALICE]["lastPasswordChangeDateTime"]
    assert await endings(world.redis_url, thread.case_id, "reset_password") == [
        ("intent", "pending"), ("outcome", "ok")]
    assert user_patches(world, "passwordProfile") == 1
    assert second.process.returncode is None


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    with RedisServer(appendonly=True) as server:
        yield server


@pytest.fixture
async def blip_world(own_redis: RedisServer, world: World) -> AsyncIterator[World]:
    """The world on a redis-server this test may stop and start (AOF on, so nothing written is lost)."""
    world.redis_url = own_redis.url
    yield world


@pytest.mark.timeout(150)
async def test_redis_restarted_during_the_graph_call_the_running_process_records_the_outcome_once(
    blip_world: World, own_redis: RedisServer
) -> None:
    world = blip_world
    bot = await world.start_bot(**FAST)
    thread = await Thread.open(world, bot)
    world.tenant_state.add_fault("PATCH", USER_PATCH, status=0, delay=GRAPH_DELAY)
    status, _ = await thread.click(bot, "disable_account")
    assert status == 200
    await wait_until(lambda: user_patches(world, "accountEnabled") == 1, what="the disable to be on its way")
    own_redis.stop()  # Redis goes away while Graph works, and is still away when Graph answers
    await asyncio.sleep(GRAPH_DELAY + 1)
    own_redis.start()

    text = await thread.wait_for("Disable account: done by Rita Responder", 60)
    assert "Verified: account disabled" in text
    assert await endings(world.redis_url, thread.case_id, "disable_account") == [
        ("intent", "pending"), ("outcome", "ok")]
    await asyncio.sleep(3 + 5 + 2)  # past the recovery's due time: it finds the run settled and does nothing
    assert await endings(world.redis_url, thread.case_id, "disable_account") == [
        ("intent", "pending"), ("outcome", "ok")]
    assert user_patches(world, "accountEnabled") == 1
    assert "Confirmed by read-back" not in thread.text()
    assert "writing to Redis failed" in bot.log.read_text(), "the outcome was not written during the blip"
