"""Teams throttling or refusing the bot's Bot Connector calls (injected in the sandbox channel): what the alert
source and the people in the channel see."""

from __future__ import annotations

import time

import pytest

from tests.conftest import RunningBot
from tests.e2e.card_clicks import RULE_FORWARDS, CaseThread
from tests.e2e.helpers import (
    APPROVER,
    RESPONDER,
    SAMPLE_ALERT,
    buttons,
    card_of,
    card_text,
    channel,
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
    assert (status, answer["status"]) == (202, "posted"), answer
    assert time.monotonic() - started >= waited_at_least, "Retry-After is honoured when Teams sends it"
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


async def test_a_bot_removed_from_the_team_is_not_retried_and_the_alert_source_is_told_why(bot: RunningBot) -> None:
    channel(bot).add_fault(method="POST", path_regex=NEW_THREAD, status=403, code="MessageWritesBlocked")
    status, answer = await post_alert(bot, SAMPLE_ALERT)
    assert status == 502
    assert "cannot post to channel 19:riposte-sandbox-general@thread.tacv2" in answer["error"]
    assert "removed from the team" in answer["error"]
    assert thread_posts(bot) == 1 and channel(bot).threads() == []
    status, answer = await post_alert(bot, SAMPLE_ALERT)  # nothing was kept: once the bot is back, it posts
    assert (status, answer["status"]) == (202, "posted")


async def test_a_502_on_a_new_thread_is_not_retried_since_teams_may_have_made_it(bot: RunningBot) -> None:
    channel(bot).add_fault(method="POST", path_regex=NEW_THREAD, status=502)
    status, _ = await post_alert(bot, SAMPLE_ALERT)
    assert status == 502 and thread_posts(bot) == 1, "a retry could post a second live card for one case"
    status, answer = await post_alert(bot, SAMPLE_ALERT)  # the alert source sends it again: now it is posted
    assert (status, answer["status"]) == (202, "posted")


async def test_an_approval_card_that_cannot_be_posted_ends_the_request_and_says_so(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("list_inbox_rules")
    await thread.wait_for("Inbox rules")
    channel(bot).add_fault(method="POST", path_regex="/activities", status=403, code="MessageWritesBlocked")

    answer = await thread.click("delete_inbox_rule", RULE_FORWARDS)

    assert "needs a second person's approval" in card_text(answer)
    text = await thread.wait_for("The approval request could not be posted in Teams")
    assert "Ask again" in text
    assert not [r for r in thread.replies() if "Approval needed" in card_text(card_of(r))]
    channel(bot).faults.clear()
    assert "needs a second person's approval" in card_text(await thread.click("delete_inbox_rule", RULE_FORWARDS))
    await thread.approve()  # asked again: this time the card is there


async def test_a_throttled_card_update_does_not_hold_back_the_password_answer(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("reset_password")
    await wait_until(lambda: [r for r in thread.replies() if "Approval needed" in card_text(card_of(r))],
                     what="the approval card")
    channel(bot).add_fault(method="PUT", path_regex="/activities/", status=429, retry_after="4", times=3)
    started = time.monotonic()

    answer = await thread.approve(user=APPROVER)

    assert time.monotonic() - started < 4.5, "Teams would have dropped the answer, and the password with it"
    assert "Temporary password" in card_text(answer)
    await thread.wait_for("Reset password: done by Rita Responder")  # the shared card catches up after
