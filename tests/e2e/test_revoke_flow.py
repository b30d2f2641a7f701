"""The foundation slice end to end over real HTTP: alert → card → click → role check → Graph → card → audit."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from bot.clicks import handle as flows
from bot.clicks.answered import Turn
from bot.clicks.handle import Click
from bot.services import Services
from bot.teams import handler
from tests.conftest import RunningBot
from tests.e2e.helpers import (
    ALICE,
    NO_ROLE,
    RESPONDER,
    audit_entries,
    buttons,
    card_of,
    card_text,
    channel,
    posted_card,
    tenant,
    wait_until,
)

REVOKE_PATH = f"/users/{ALICE}/revokeSignInSessions"


def revoke_calls(bot: RunningBot) -> list[object]:
    return [r for r in tenant(bot).requests if r.method == "POST" and r.path == REVOKE_PATH]


async def test_alert_becomes_a_card_with_buttons_that_carry_no_identity(bot: RunningBot) -> None:
    case_id, root = await posted_card(bot)
    card = card_of(root)
    text = card_text(card)
    assert "Suspicious inbox forwarding rule" in text and "Alice Target (alice@contoso.com)" in text
    assert "HIGH" in text and "203.0.113.7" in text
    revoke = buttons(card)["revoke_sessions"]
    assert revoke["title"] == "Revoke sessions"
    assert set(revoke["data"]) == {"case", "nonce", "sig"} and revoke["data"]["case"] == case_id
    assert revoke["fallback"]["type"] == "Action.Submit"


async def test_responder_click_revokes_sessions_and_updates_the_card(bot: RunningBot, clean_redis: str) -> None:
    case_id, root = await posted_card(bot)
    revoke = buttons(card_of(root))["revoke_sessions"]
    conversation_id = channel(bot).threads()[-1]["id"]

    # Graph answers when the test says so.
    tenant(bot).add_fault(method="POST", path_regex=REVOKE_PATH, status=0, until_released=True)
    invoke = channel(bot).send_invoke(RESPONDER, conversation_id, root["id"], "revoke_sessions", revoke["data"])
    try:
        status, answer = await asyncio.wait_for(invoke, 3.0)
    except TimeoutError:
        raise AssertionError("the invoke was not answered: it waited for Graph") from None
    assert status == 200 and answer["statusCode"] == 200, answer
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert "done by" not in card_text(answer["value"])
    await wait_until(lambda: revoke_calls(bot), what="the revoke, sent to Graph after the answer")
    tenant(bot).faults.release()

    def updated() -> str:
        activity = channel(bot).find_activity(root["id"])
        text = card_text(card_of(activity)) if activity else ""
        return text if "Revoke sessions: done by Rita Responder" in text else ""

    text = await wait_until(updated, what="the card to show the outcome")
    assert "Cannot be undone; the user signs in again." in text
    assert "Request id:" in text
    assert len(revoke_calls(bot)) == 1
    alice = tenant(bot).find_user(ALICE)
    assert alice and alice["signInSessionsValidFromDateTime"]
    revoke_button = buttons(card_of(channel(bot).find_activity(root["id"])))["revoke_sessions"]
    assert revoke_button.get("isEnabled") is False

    entries = await audit_entries(clean_redis, case_id)
    assert [(e["phase"], e["result"]) for e in entries] == [("intent", "pending"), ("outcome", "ok")]
    assert all(e["actor_id"] == RESPONDER and e["target_id"] == ALICE for e in entries)
    assert entries[1]["request_id"]


async def test_the_clicker_sees_the_outcome_even_when_the_answer_is_slower_than_graph(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Teams shows the clicker their click's answer in place of the message; an outcome that reached them first
    # would stay hidden behind the older "running" answer. Make the answer slow (a busy replica) to prove the
    # outcome still comes after it.
    slow_answer_seconds = 0.3
    answer_click = flows.handle_click

    async def slow_click(services: Services, click: Click, turn: Turn) -> dict[str, Any]:
        card = await answer_click(services, click, turn)
        await asyncio.sleep(slow_answer_seconds)
        return card

    monkeypatch.setattr(handler, "handle_click", slow_click)
    _, root = await posted_card(bot)
    revoke = buttons(card_of(root))["revoke_sessions"]
    conversation_id = channel(bot).threads()[-1]["id"]

    status, answer = await channel(bot).send_invoke(RESPONDER, conversation_id, root["id"], "revoke_sessions",
                                                    revoke["data"])
    assert status == 200 and "done by" not in card_text(answer["value"])

    def clickers_view() -> str:
        cards, _ = channel(bot).cards_for(channel(bot).find_activity(root["id"]) or {}, RESPONDER)
        text = card_text(cards[0]) if cards else ""
        return text if "Revoke sessions: done by Rita Responder" in text else ""

    await wait_until(clickers_view, what="the clicker's own view to show the outcome")
    assert len(revoke_calls(bot)) == 1


async def test_click_without_the_role_is_refused_and_audited(bot: RunningBot, clean_redis: str) -> None:
    case_id, root = await posted_card(bot)
    revoke = buttons(card_of(root))["revoke_sessions"]
    conversation_id = channel(bot).threads()[-1]["id"]

    status, answer = await channel(bot).send_invoke(NO_ROLE, conversation_id, root["id"], "revoke_sessions",
                                                    revoke["data"])
    assert status == 200
    assert "needs the responder role; Nolan Norole does not hold it" in card_text(answer["value"])
    assert revoke_calls(bot) == []
    entries = await audit_entries(clean_redis, case_id)
    assert [(e["phase"], e["actor_id"]) for e in entries] == [("refused", NO_ROLE)]
    # The shared card is unchanged for everyone else.
    assert "Not done" not in card_text(card_of(channel(bot).find_activity(root["id"])))


async def test_metrics_count_actions_and_refusals(bot: RunningBot) -> None:
    _, root = await posted_card(bot)
    revoke = buttons(card_of(root))["revoke_sessions"]
    conversation_id = channel(bot).threads()[-1]["id"]
    await channel(bot).send_invoke(NO_ROLE, conversation_id, root["id"], "revoke_sessions", revoke["data"])
    await channel(bot).send_invoke(RESPONDER, conversation_id, root["id"], "revoke_sessions", revoke["data"])
    # Counted before the card is updated: once the card says done, the metric is there.
    await wait_until(lambda: "Revoke sessions: done by" in card_text(card_of(channel(bot).find_activity(root["id"]))),
                     what="the revoke's outcome on the card")

    async def scrape() -> str:
        async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/metrics") as response:
            assert response.status == 200 and response.content_type == "text/plain"
            return await response.text()

    text = ""
    for _ in range(50):
        text = await scrape()
        if 'riposte_actions_total{action="revoke_sessions",result="ok"} 1' in text:
            break
        await asyncio.sleep(0.05)
    assert 'riposte_actions_total{action="revoke_sessions",result="ok"} 1' in text
    assert 'riposte_refusals_total{action="revoke_sessions"} 1' in text
    assert 'riposte_alerts_total{status="accepted"} 1' in text
