"""Durable intake: the 202 never waits on Teams, repeats name one case, storms group into one thread per user, long
alerts fit a card, and the outbox keeps within Teams' limits (the sandbox channel enforcing them) while a click is
answered. In-process bots on the production code path; real Redis; the sandbox servers over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sandbox.channel_limits import SendLimits
from tests.conftest import BotFactory, RunningBot
from tests.e2e.card_clicks import CaseThread
from tests.e2e.helpers import (
    SAMPLE_ALERT,
    card_of,
    card_text,
    case_thread_root,
    channel,
    jobs_done,
    metric,
    post_alert,
    wait_until,
)

CARD_LIMIT_BYTES = 28 * 1024


def alert(alert_id: str, user: str = "alice@contoso.com", **fields: Any) -> dict[str, Any]:
    return {**SAMPLE_ALERT, "id": alert_id, "user": user, **fields}


async def test_intake_answers_while_teams_refuses_every_post_and_the_card_follows(make_bot: BotFactory) -> None:
    bot = await make_bot()
    refusing = channel(bot).add_fault("POST", r"^/v3/conversations$", status=503, times=None)
    answers = [await post_alert(bot, alert(f"refused-{n}", f"user{n}@contoso.com")) for n in range(3)]
    assert [(status, body["status"]) for status, body in answers] == [(202, "accepted")] * 3
    assert channel(bot).threads() == []
    await wait_until(lambda: channel(bot).received, what="a first post attempt")
    assert await metric(bot, 'riposte_jobs_backlog{queue="riposte-alerts"}') == 3
    channel(bot).faults.remove(refusing)
    for _, body in answers:  # users that do not exist still get a card that says so
        await case_thread_root(bot, body["case_id"])
    await jobs_done(bot)
    assert len(channel(bot).threads()) == 3


async def test_a_resent_alert_names_the_same_case_and_gets_one_card(make_bot: BotFactory) -> None:
    bot = await make_bot()
    channel(bot).add_fault("POST", r"^/v3/conversations$", status=429, times=2)  # Teams throttles the first post
    first, second = await asyncio.gather(post_alert(bot, SAMPLE_ALERT), post_alert(bot, SAMPLE_ALERT))
    statuses = sorted(body["status"] for _, body in (first, second))
    assert statuses == ["accepted", "duplicate"] and first[1]["case_id"] == second[1]["case_id"]
    await case_thread_root(bot, first[1]["case_id"])
    third = await post_alert(bot, SAMPLE_ALERT)
    assert third == (202, {"case_id": first[1]["case_id"], "status": "duplicate"})
    assert len([r for r in channel(bot).received if r["path"] == "/v3/conversations" and r["method"] == "POST"]) == 3


async def test_alerts_about_one_user_at_the_same_moment_open_one_case(make_bot: BotFactory) -> None:
    bot = await make_bot(group_alerts_minutes=30)
    answers = await asyncio.gather(*(post_alert(bot, alert(f"storm-{n}", title=f"Storm alert {n}"))
                                     for n in range(10)))
    assert {status for status, _ in answers} == {202}
    assert sorted(body["status"] for _, body in answers) == ["accepted"] + ["grouped"] * 9
    case_ids = {body["case_id"] for _, body in answers}
    assert len(case_ids) == 1
    case_id = case_ids.pop()
    await case_thread_root(bot, case_id)

    def counted() -> bool:
        return "9 more alert(s) about this user joined this case" in card_text(card_of(channel(bot).threads()[0]
                                                                                         ["root"]))

    await wait_until(counted, what="the card counting the grouped alerts")
    other = await post_alert(bot, alert("storm-other", "bob@contoso.com"))
    assert other[1]["status"] == "accepted" and other[1]["case_id"] != case_id
    await case_thread_root(bot, other[1]["case_id"])
    assert len(channel(bot).threads()) == 2  # one thread per user, no reply per grouped alert
    assert all(not thread["replies"] for thread in channel(bot).threads())


async def test_a_long_alert_is_accepted_and_its_card_stays_under_28_kb(bot: RunningBot) -> None:
    evidence = [{"kind": "ip", "id": f"203.0.113.{n}", "name": "x" * 300} for n in range(55)]
    status, body = await post_alert(bot, alert("long-1", title="T" * 1000, description="D" * 4000,
                                               evidence=evidence))
    assert (status, body["status"]) == (202, "accepted")
    root = await case_thread_root(bot, body["case_id"])
    card = card_of(root)
    assert len(json.dumps(card).encode()) < CARD_LIMIT_BYTES
    assert "and 47 more" in card_text(card)


async def test_a_storm_within_teams_limits_groups_by_user_and_a_click_is_answered_meanwhile(
    make_bot: BotFactory,
) -> None:
    # Teams' windows shortened (the settings the limiter reads); the sandbox channel enforces the same ones.
    bot = await make_bot(group_alerts_minutes=30, teams_thread_limits="4/1second;6/2seconds",
                         teams_tenant_limits="50/second")
    # Jitter forgiven: 0.25 s. The bot's sends leave spaced by its limiter, but on a loaded 2-core machine (CI runs
    # four test workers) a send can reach the sandbox a few hundred ms after it took its slot and arrive bunched
    # with the next; a limiter ignoring the windows sends dozens at once and still fails this.
    limits = channel(bot).send_limits = SendLimits(thread_windows=((4, 1.0), (6, 2.0)), jitter_seconds=0.25)
    # Alice's card is up before the storm, so the click below does not wait for her post. The storm is 24 other
    # users: at the bulk lane's ~2 new threads a second they take ~12 s to drain, far longer than the storm's intake
    # takes even on a loaded machine, so the click lands while most of them are still queued.
    first = await post_alert(bot, alert("s-alice"))
    alice_case = first[1]["case_id"]
    await case_thread_root(bot, alice_case)
    users = ["alice@contoso.com"] + [f"user{n}@contoso.com" for n in range(24)]
    storm = [alert(f"s-{n}", users[n % len(users)]) for n in range(150)]
    answers = await asyncio.gather(*(post_alert(bot, body) for body in storm))
    assert {status for status, _ in answers} == {202}
    cases = {body["case_id"] for _, body in answers}
    assert len(cases) == len(users) and alice_case in cases  # one case (one thread) per user
    resent = await asyncio.gather(*(post_alert(bot, body) for body in storm[:20]))  # senders that timed out
    assert {body["status"] for _, body in resent} == {"duplicate"}

    thread = await CaseThread.open_existing(bot, alice_case)
    answer = await thread.click("list_inbox_rules")  # answered at once, whatever the backlog
    posted_by_then = len(channel(bot).threads())
    assert "Show inbox rules" in card_text(answer)  # the listing itself, or "listing…" until it is in

    assert posted_by_then < len(users), "the click was meant to be answered while the storm was still draining"
    for case_id in cases:
        await case_thread_root(bot, case_id, seconds=60)
    await jobs_done(bot, seconds=60)
    assert len(channel(bot).threads()) == len(users)
    assert limits.throttled == 0, f"{limits.throttled} sends went over Teams' limits"
    assert limits.accepted >= len(users)  # a post per case (an update only where alerts joined after the post)
