"""Teams throttling or refusing the bot's Bot Connector calls (injected in the sandbox channel): what the alert
source and the people in the channel see."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis_async

from sandbox.channel_activities import SANDBOX_TEAM_ID
from tests.conftest import RunningBot
from tests.e2e.card_clicks import RULE_FORWARDS, CaseThread
from tests.e2e.helpers import (
    ADMIN_RESPONDER,
    APPROVER,
    RESPONDER,
    SAMPLE_ALERT,
    buttons,
    card_of,
    card_text,
    case_thread_root,
    channel,
    jobs_done,
    metric,
    post_alert,
    posted_card,
    wait_until,
)

NEW_THREAD = "^/v3/conversations$"


def thread_posts(bot: RunningBot) -> int:
    return sum(1 for r in channel(bot).received if r["method"] == "POST" and r["path"] == "/v3/conversations")


@pytest.mark.parametrize(("retry_after", "waited_at_least"), [(None, 0.0), ("1", 1.0)])
async def test_a_throttled_alert_post_is_retried_and_the_card_is_posted_once(
    bot: RunningBot, retry_after: str | None, waited_at_least: float
) -> None:
    channel(bot).add_fault(method="POST", path_regex=NEW_THREAD, status=429, retry_after=retry_after)
    started = time.monotonic()
    status, answer = await post_alert(bot, SAMPLE_ALERT)
    assert (status, answer["status"]) == (202, "accepted"), answer
    await case_thread_root(bot, answer["case_id"])
    assert time.monotonic() - started >= waited_at_least, "Retry-After is honoured when Teams sends it"
    await jobs_done(bot)
    [thread] = channel(bot).threads()
    assert "Suspicious inbox forwarding rule" in card_text(card_of(thread["root"]))
    assert thread_posts(bot) == 2, "one throttled attempt, one that posted"


async def test_a_throttled_card_update_is_retried_and_the_card_ends_updated(bot: RunningBot) -> None:
    _, root = await posted_card(bot)
    conversation_id = channel(bot).threads()[-1]["id"]
    channel(bot).add_fault(method="PUT", path_regex="/activities/", status=429)
    revoke = buttons(card_of(root))["revoke_sessions"]["data"]
    status, _ = await channel(bot).send_invoke(RESPONDER, conversation_id, root["id"], "revoke_sessions", revoke)
    assert status == 200
    await wait_until(lambda: "Revoke sessions: done by Rita Responder" in card_text(
        card_of(channel(bot).find_activity(root["id"]))), what="the card everyone sees to show the outcome")
    assert channel(bot).faults == [], "the update met the 429"


@pytest.mark.parametrize(("status", "code"), [(403, "MessageWritesBlocked"), (403, "BotNotInConversationRoster"),
                                            (403, "ConversationBlockedByUser"), (403, "BotDisabledByAdmin"),
                                            (404, "ConversationNotFound")])
async def test_alerts_for_a_channel_the_bot_cannot_post_to_stay_queued_and_health_says_why(
    bot: RunningBot, status: int, code: str
) -> None:
    blocked = channel(bot).add_fault(method="POST", path_regex=NEW_THREAD, status=status, code=code, times=None)
    answer_status, answer = await post_alert(bot, SAMPLE_ALERT)
    assert (answer_status, answer["status"]) == (202, "accepted")  # kept: the intake does not wait on Teams

    async def health() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/healthz") as response:
            assert response.status == 200  # Redis answers: the contract's 200
            body: dict[str, Any] = await response.json()
            return body

    deadline = time.monotonic() + 30
    while code not in (await health())["alert_channel"]:
        assert time.monotonic() < deadline, "/healthz never named the problem"
        await asyncio.sleep(0.05)
    assert "cannot post to channel 19:riposte-sandbox-general@thread.tacv2" in (await health())["alert_channel"]
    assert await metric(bot, "riposte_alert_channel_blocked_total") >= 1
    assert channel(bot).threads() == []
    channel(bot).faults.remove(blocked)  # the bot is added back: the queued alert is posted
    await case_thread_root(bot, answer["case_id"])
    assert (await health())["alert_channel"] == "ok"


async def test_a_502_on_a_new_thread_is_retried_by_the_posting_job_and_the_case_gets_its_card(
    bot: RunningBot,
) -> None:
    channel(bot).add_fault(method="POST", path_regex=NEW_THREAD, status=502)
    status, answer = await post_alert(bot, SAMPLE_ALERT)
    assert (status, answer["status"]) == (202, "accepted")
    await case_thread_root(bot, answer["case_id"])
    await jobs_done(bot)
    assert thread_posts(bot) == 2 and len(channel(bot).threads()) == 1


async def test_an_approval_card_teams_refuses_stays_queued_and_is_posted_once_it_takes_it(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("list_inbox_rules")
    await thread.wait_for("Inbox rules")
    refused = channel(bot).add_fault(method="POST", path_regex="/activities", status=403, code="MessageWritesBlocked",
                                     times=None)

    answer = await thread.click("delete_inbox_rule", RULE_FORWARDS)

    assert "needs a second person's approval" in card_text(answer)
    await wait_until(lambda: sum(1 for r in channel(bot).received if r["method"] == "POST"
                                 and "/activities" in r["path"]) >= 2, what="the job to try again")
    assert not [r for r in thread.replies() if "Approval needed" in card_text(card_of(r))]
    assert await metric(bot, "riposte_jobs_backlog") >= 1  # still queued, not dropped
    channel(bot).faults.remove(refused)  # the bot may write again: the queued card goes out
    await thread.approve()
    await jobs_done(bot)
    assert len([r for r in thread.replies() if "Approval needed" in card_text(card_of(r))]) == 1


async def test_a_throttled_card_update_does_not_hold_back_the_password_answer(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("reset_password")
    await wait_until(lambda: [r for r in thread.replies() if "Approval needed" in card_text(card_of(r))],
                     what="the approval card")
    # Retry-After 2 s: longer than a call made while answering may wait (bot/teams/connector.py), so honouring it
    # before the answer would show in the answer's time.
    channel(bot).add_fault(method="PUT", path_regex="/activities/", status=429, retry_after="2", times=3)
    started = time.monotonic()

    answer = await thread.approve(user=APPROVER)

    assert time.monotonic() - started < 2.0, "Teams would have dropped the answer, and the password with it"
    assert "Temporary password" in card_text(answer)
    await thread.wait_for("Reset password: done by Rita Responder")  # the shared card catches up after


async def test_uninstalling_the_app_from_the_team_forgets_the_alert_channel_and_alerts_wait(
    bot: RunningBot, clean_redis: str
) -> None:
    client = redis_async.Redis.from_url(clean_redis, decode_responses=True)
    await channel(bot).send_message(ADMIN_RESPONDER, "@Riposte use this channel for alerts", None)
    chosen = json.loads(str(await client.get("riposte:alert-channel")))
    assert chosen["team_id"] == SANDBOX_TEAM_ID  # kept with the channel, to know which removal concerns it
    status, _ = await channel(bot).remove_bot_from_team(ADMIN_RESPONDER)
    assert status in (200, 201)
    try:
        assert await client.get("riposte:alert-channel") is None  # forgotten: it cannot be posted to any more
        entries = [{str(k): str(v) for k, v in (fields or {}).items()}
                   for _, fields in await client.xrange("riposte:audit") or []]
        events = [fields for fields in entries if fields.get("action") == "alert_channel_cleared"]
    finally:
        await client.aclose()
    assert len(events) == 1 and "uninstalled" in events[0]["detail"]
    answer_status, answer = await post_alert(bot, SAMPLE_ALERT)  # the configured channel is refused too: kept
    assert (answer_status, answer["status"]) == (202, "accepted")
    await wait_until(lambda: thread_posts(bot) >= 1, what="a refused post attempt")
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            async with session.get(f"{bot.url}/healthz") as response:
                if "BotNotInConversationRoster" in (await response.json())["alert_channel"]:
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("/healthz never said the bot cannot post")
