"""The audit through the running bot and the sandbox: the `audit` card pages with signed Older / Newer buttons
and stays under Teams' 28 KB with 500 entries, says whether the chain verifies; choosing the alert channel is
audited; and a run that reset a password leaves no secret anywhere in the trail."""

from __future__ import annotations

import json
from typing import Any

import redis as sync_redis
from pydantic import SecretStr

from actions.audit import AuditEntry
from bot.audit.trail import AUDIT_STREAM, RedisAudit
from bot.config import Settings
from bot.state.store import connect_redis
from sandbox.channel import SANDBOX_CHANNEL_ID
from tests.bot.test_audit_trail import stream
from tests.conftest import BotFactory, RunningBot
from tests.e2e.card_clicks import CaseThread
from tests.e2e.helpers import ADMIN_RESPONDER, ALICE, APPROVER, NO_ROLE, RESPONDER, card_of, card_text, channel
from tests.e2e.test_commands_chat import say_in_channel
from tests.e2e.test_reset_password import password_in

TEAMS_CARD_LIMIT = 28 * 1024


def size(card: dict[str, Any]) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode())


def paging(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {action["title"]: action for action in card.get("actions", [])}


async def history(redis_url: str, count: int) -> None:
    redis = connect_redis(redis_url)
    audit = RedisAudit(redis, Settings(_env_file=None, REDIS_URL=redis_url))  # type: ignore[call-arg]
    try:
        for n in range(count):
            await audit.record(AuditEntry(
                phase="intent" if n % 2 == 0 else "outcome", action="disable_inbox_rule", actor_id=RESPONDER,
                actor_name="Rita Responder", actor_roles="responder", case_id=f"20261121-{n:08x}", target_id=ALICE,
                target_upn="alice@contoso.com", result="ok", detail=f"entry {n}: " + "x" * 400,
                request_id=f"req-{n}"))
    finally:
        await redis.aclose()


async def click(bot: RunningBot, user: str, thread: dict[str, Any], button: dict[str, Any]) -> dict[str, Any]:
    status, answer = await channel(bot).send_invoke(user, thread["id"], thread["replies"][-1]["id"], button["verb"],
                                                    button["data"])
    assert status == 200, answer
    card: dict[str, Any] = answer["value"]
    return card


async def test_the_audit_card_pages_stays_small_and_says_the_chain_verifies(bot: RunningBot, clean_redis: str) -> None:
    await history(clean_redis, 500)
    thread = await say_in_channel(bot, RESPONDER, "audit alice@contoso.com")
    newest = card_of(thread["replies"][-1])
    text = card_text(newest)
    assert "Audit trail: alice@contoso.com" in text and "Audit chain holds" in text
    assert size(newest) < TEAMS_CARD_LIMIT
    assert "entry 499: " in text and "entry 489: " not in text
    assert paging(newest)["Older"].get("isEnabled", True) and paging(newest)["Newer"]["isEnabled"] is False

    older = await click(bot, RESPONDER, thread, paging(newest)["Older"])
    assert size(older) < TEAMS_CARD_LIMIT
    assert "entry 489: " in card_text(older) and "entry 499: " not in card_text(older)
    assert "Audit chain holds" in card_text(older)
    back = await click(bot, RESPONDER, thread, paging(older)["Newer"])
    assert "entry 499: " in card_text(back) and "entry 489: " not in card_text(back)

    # Altered paging data is refused like any tampered button; someone without a role sees nothing.
    forged = {**paging(newest)["Older"], "data": {**paging(newest)["Older"]["data"],
                                                  "item": '{"b":"","c":"","s":"x","t":"someone-else"}'}}
    assert "altered" in card_text(await click(bot, RESPONDER, thread, forged))
    assert "no Riposte role" in card_text(await click(bot, NO_ROLE, thread, paging(newest)["Older"]))


async def test_the_audit_card_says_when_the_chain_is_broken(bot: RunningBot, clean_redis: str) -> None:
    await history(clean_redis, 12)
    victim = stream(clean_redis)[4][0]
    sync_redis.Redis.from_url(clean_redis).xdel(AUDIT_STREAM, victim)
    thread = await say_in_channel(bot, RESPONDER, "audit alice@contoso.com")
    text = card_text(card_of(thread["replies"][-1]))
    assert "Audit chain BROKEN" in text and "missing (deleted)" in text


async def test_choosing_the_alert_channel_is_audited_with_who_and_from_to(bot: RunningBot, clean_redis: str) -> None:
    await say_in_channel(bot, ADMIN_RESPONDER, "use this channel for alerts")
    [event] = [fields for _, fields in stream(clean_redis) if fields.get("action") == "alert_channel_changed"]
    assert event["phase"] == "event" and event["actor_id"] == ADMIN_RESPONDER
    assert event["actor_roles"] == "admin_responder,responder"
    assert event["state_before"] == bot.sandbox.settings.alert_channel or event["state_before"] == "(none)"
    assert event["state_after"] == SANDBOX_CHANNEL_ID


async def test_no_secret_in_any_entry_of_a_run_that_reset_a_password(make_bot: BotFactory, clean_redis: str) -> None:
    bot = await make_bot(graph_client_secret=SecretStr("the-graph-client-secret"))
    thread = await CaseThread.open(bot)
    await thread.click("reset_password")
    password = password_in(await thread.approve(user=APPROVER))
    await thread.wait_for("Reset password: done by Rita Responder")
    client = sync_redis.Redis.from_url(clean_redis, decode_responses=True)
    trail = json.dumps(stream(clean_redis))
    assert "reset_password" in trail and '"phase": "checkpoint"' in trail, "looked in the wrong place"
    secrets = {"temporary password": password,
               "Graph client secret": bot.sandbox.settings.graph_client_secret.get_secret_value(),
               "audit key": str(client.get("riposte:audit-key")),
               "button signing key": str(client.get("riposte:signing-key"))}
    assert all(secrets.values())
    assert [name for name, secret in secrets.items() if secret in trail] == []
