"""Replies go through the durable outbox: one that Teams does not take (answering 503 or 429 for a while), or whose
process dies while sending it, stays queued and is delivered later, once."""

from __future__ import annotations

import pytest

from tests.conftest import RunningBot
from tests.e2e.card_clicks import RULE_FORWARDS, CaseThread
from tests.e2e.helpers import RESPONDER, card_of, card_text, channel, jobs_done, metric, tenant, wait_until
from tests.e2e.processes import World
from tests.faults.test_action_crashes import FAST, Thread, kill
from tests.faults.test_crashes import drained

REPLIES = "^/v3/conversations/[^/]+/activities/[^/]+$"  # POST: a reply to a message (the thread's root)


def reply_attempts(received: list[dict[str, object]]) -> int:
    return sum(1 for r in received if r["method"] == "POST" and "/activities/" in str(r["path"]))


def approval_requests(thread: CaseThread) -> list[dict[str, object]]:
    return [reply for reply in thread.replies() if "Approval needed" in card_text(card_of(reply))]


async def test_an_approval_request_teams_answers_503_for_a_while_is_delivered_later_once(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("list_inbox_rules")
    await thread.wait_for("Inbox rules")
    failing = channel(bot).add_fault(method="POST", path_regex=REPLIES, status=503, times=None)

    answer = await thread.click("delete_inbox_rule", RULE_FORWARDS)

    assert "needs a second person's approval" in card_text(answer)  # the click's own answer is not held back
    await wait_until(lambda: reply_attempts(channel(bot).received) >= 3, what="the reply to be tried again")
    assert approval_requests(thread) == []
    assert await metric(bot, "riposte_jobs_backlog") >= 1, "the reply must stay queued"
    channel(bot).faults.remove(failing)  # Teams recovers

    await wait_until(lambda: approval_requests(thread), what="the approval request, delivered late")
    await jobs_done(bot)
    assert len(approval_requests(thread)) == 1
    await thread.approve()
    await thread.wait_for("Delete rule “.”: done by")
    await jobs_done(bot)
    assert len(approval_requests(thread)) == 1


async def test_a_reply_teams_throttles_for_a_while_is_delivered_later_once(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    tenant(bot).add_fault(status=403, delay=4.0, method="GET", path_regex="^/oauth2PermissionGrants")
    throttled = channel(bot).add_fault(method="POST", path_regex=REPLIES, status=429, retry_after="1", times=None)

    answer = await thread.click("remove_app")  # slow, then failing: said later, in a reply

    assert "still listing" in card_text(answer)
    await wait_until(lambda: reply_attempts(channel(bot).received) >= 3, seconds=30,
                     what="the throttled reply to be tried again")
    assert await metric(bot, "riposte_jobs_backlog") >= 1
    channel(bot).faults.remove(throttled)

    def failures() -> list[dict[str, object]]:
        return [r for r in thread.replies() if "Could not list them" in card_text(card_of(r))]

    await wait_until(failures, seconds=60, what="the listing's failure in the thread")
    await jobs_done(bot)
    assert len(failures()) == 1
    assert await metric(bot, 'riposte_teams_sends_total{result="429"}') >= 3


async def test_the_answer_to_a_typed_command_teams_answers_503_is_delivered_later_once(bot: RunningBot) -> None:
    channel(bot).add_fault(method="POST", path_regex=REPLIES, status=503, times=3)

    status, _ = await channel(bot).send_message(RESPONDER, "@Riposte help", None)

    assert status in (200, 201)  # Teams' delivery of the message is answered at once, whatever the reply meets
    [thread] = channel(bot).threads()
    replies = await wait_until(lambda: next(t for t in channel(bot).threads() if t["id"] == thread["id"])["replies"],
                               what="the answer, delivered late")
    await jobs_done(bot)
    assert len(next(t for t in channel(bot).threads() if t["id"] == thread["id"])["replies"]) == 1
    assert "use this channel for alerts" in str(replies[0].get("text"))
    assert reply_attempts(channel(bot).received) == 4, "three refused, one delivered"


@pytest.mark.timeout(120)
async def test_a_reply_whose_process_dies_while_sending_is_delivered_by_another_process_once(world: World) -> None:
    first = await world.start_bot(**FAST)
    thread = await Thread.open(world, first)
    world.channel_state.add_fault("POST", REPLIES, status=503, delay=8)  # Teams hangs on the reply
    status, _ = await thread.click(first, "reset_password")  # needs approval: the request is a reply
    assert status == 200
    await wait_until(lambda: reply_attempts(world.channel_state.received) == 1,
                     what="the worker to be sending the approval request")
    await kill(first)

    second = await world.start_bot(**FAST)
    status, answer = await thread.approve(second)  # waits for the request, sent by the second process
    assert status == 200 and "Temporary password" in card_text(answer["value"])
    await drained(second)
    thread_replies = next(t["replies"] for t in world.channel_state.threads() if t["id"] == thread.conversation_id)
    assert len([r for r in thread_replies if "Approval needed" in card_text(card_of(r))]) == 1
    assert reply_attempts(world.channel_state.received) >= 2
