"""Graph security alerts are polled into cases; automation for high-confidence alerts is off unless switched on."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis_async

from bot.endpoints import SERVICES
from bot.intake.poller import WATERMARK_KEY, poll_once
from tests.conftest import BotFactory, RunningBot
from tests.e2e.helpers import (
    ALICE,
    SAMPLE_ALERT,
    audit_entries,
    card_of,
    card_text,
    case_thread_root,
    channel,
    jobs_done,
    post_alert,
    tenant,
    wait_until,
)

CONFIDENT = {**SAMPLE_ALERT, "id": "confident", "confidence": "high", "severity": "critical"}


def revokes(bot: RunningBot, user: str = ALICE) -> int:
    return sum(1 for r in tenant(bot).requests if r.path == f"/users/{user}/revokeSignInSessions")


async def test_automation_is_off_by_default(bot: RunningBot, clean_redis: str) -> None:
    status, body = await post_alert(bot, CONFIDENT)
    assert status == 202
    await case_thread_root(bot, body["case_id"])
    await jobs_done(bot)  # automation would have written its intent in the posting job
    entries = await audit_entries(clean_redis, body["case_id"], events=True)
    assert [e["action"] for e in entries if e["phase"] == "event"] == ["alert_received", "card_posted"]
    assert [e for e in entries if e["phase"] != "event"] == [] and revokes(bot) == 0


async def test_automation_contains_a_high_confidence_alert_when_switched_on(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await make_bot(automation_enabled=True)
    status, body = await post_alert(bot, CONFIDENT)
    assert status == 202
    await wait_until(lambda: revokes(bot) == 1, what="the automatic revoke")
    await wait_until(lambda: "Revoke sessions: done by Riposte automation" in card_text(
        card_of(channel(bot).threads()[-1]["root"])), what="the card to say who acted")
    entries = await audit_entries(clean_redis, body["case_id"])
    assert {e["actor_name"] for e in entries if e["phase"] != "event"} == {"Riposte automation"}


async def test_automation_leaves_low_confidence_alerts_and_administrators_alone(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await make_bot(automation_enabled=True)
    await post_alert(bot, {**CONFIDENT, "id": "unsure", "confidence": "medium"})
    status, body = await post_alert(bot, {**CONFIDENT, "id": "admin", "user": "grace.admin@contoso.com"})
    assert status == 202
    await case_thread_root(bot, body["case_id"])
    await jobs_done(bot)  # each posting job ran automation (or not) before finishing
    assert revokes(bot) == 0 and revokes(bot, "1a000000-0000-4000-8000-000000000005") == 0
    refused = [e for e in await audit_entries(clean_redis, body["case_id"]) if e["phase"] == "refused"]
    assert refused and "admin_responder" in refused[0]["detail"]


async def test_graph_security_alerts_are_polled_into_cases_once(bot: RunningBot, clean_redis: str) -> None:
    client = redis_async.Redis.from_url(clean_redis, decode_responses=True)
    await client.set(WATERMARK_KEY, "2026-11-01T00:00:00Z")
    await client.aclose()
    services = bot.app[SERVICES]
    assert await poll_once(services) == 1
    await wait_until(lambda: channel(bot).threads(), what="the polled alert's card")
    root = channel(bot).threads()[-1]["root"]
    assert "Suspicious inbox forwarding rule" in card_text(card_of(root))
    assert "Alice Target" in card_text(card_of(root))
    assert await poll_once(services) == 0, "the watermark moved and the alert is a duplicate"
    await jobs_done(bot)
    assert len(channel(bot).threads()) == 1
    assert any(r.path == "/security/alerts_v2" for r in tenant(bot).requests)


async def test_polling_runs_in_the_background_when_configured(make_bot: BotFactory, clean_redis: str) -> None:
    client = redis_async.Redis.from_url(clean_redis, decode_responses=True)
    await client.set(WATERMARK_KEY, "2026-11-01T00:00:00Z")
    await client.aclose()
    bot = await make_bot(poll_alerts_seconds=0.2)
    await wait_until(lambda: channel(bot).threads() or None, what="the polled alert's card")


async def test_automation_does_not_revoke_a_guest_it_cannot_revoke(make_bot: BotFactory, clean_redis: str) -> None:
    bot = await make_bot(automation_enabled=True)
    guest = "pat_fabrikam.com#EXT#@contoso.onmicrosoft.com"
    status, body = await post_alert(bot, {**CONFIDENT, "id": "guest", "user": guest})
    assert status == 202
    refused: list[dict[str, str]] = []
    for _ in range(600):  # the refusal is written before the case's automation finishes
        refused = [e for e in await audit_entries(clean_redis, body["case_id"]) if e["phase"] == "refused"]
        if refused:
            break
        await asyncio.sleep(0.05)
    assert refused and refused[0]["action"] == "revoke_sessions"
    assert "does not apply: external (guest) account" in refused[0]["detail"]
    assert not [r for r in tenant(bot).requests if r.path.endswith("/revokeSignInSessions")]
