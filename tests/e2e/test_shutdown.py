"""Graceful shutdown: in-flight actions finish, or are settled by reading the tenant (here: interrupted) on the
audit and the card."""

from __future__ import annotations

from tests.conftest import BotFactory
from tests.e2e.helpers import (
    ALICE,
    RESPONDER,
    audit_entries,
    buttons,
    card_of,
    card_text,
    channel,
    posted_card,
    tenant,
)

REVOKE = f"/users/{ALICE}/revokeSignInSessions"



async def test_in_flight_action_finishes_during_shutdown(make_bot: BotFactory, clean_redis: str) -> None:
    bot = await make_bot(shutdown_grace_seconds=10.0)
    case_id, root = await posted_card(bot)
    tenant(bot).add_fault(method="POST", path_regex=REVOKE, status=0, delay=0.5)
    data = buttons(card_of(root))["revoke_sessions"]["data"]
    conversation_id = channel(bot).threads()[-1]["id"]
    await channel(bot).send_invoke(RESPONDER, conversation_id, root["id"], "revoke_sessions", data)

    await bot.server.runner.cleanup()  # SIGTERM does this: stop accepting, drain in-flight work

    assert [(e["phase"], e["result"]) for e in await audit_entries(clean_redis, case_id)] == [
        ("intent", "pending"), ("outcome", "ok")]
    assert "Revoke sessions: done by Rita Responder" in card_text(card_of(channel(bot).find_activity(root["id"])))


async def test_action_still_running_after_the_grace_period_is_recorded_as_interrupted(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await make_bot(shutdown_grace_seconds=0.2)
    case_id, root = await posted_card(bot)
    tenant(bot).add_fault(method="POST", path_regex=REVOKE, status=0, delay=1.5)
    data = buttons(card_of(root))["revoke_sessions"]["data"]
    conversation_id = channel(bot).threads()[-1]["id"]
    await channel(bot).send_invoke(RESPONDER, conversation_id, root["id"], "revoke_sessions", data)

    await bot.server.runner.cleanup()

    entries = await audit_entries(clean_redis, case_id)
    assert [(e["phase"], e["result"]) for e in entries] == [("intent", "pending"), ("interrupted", "interrupted")]
    text = card_text(card_of(channel(bot).find_activity(root["id"])))
    assert "Revoke sessions: interrupted by Rita Responder" in text
    # settled by reading the tenant, which had not revoked yet (the call was still on its way)
    assert "the tenant shows sessions not revoked since the click" in text
    assert "sessions not revoked since the click" in entries[-1]["detail"]
