"""Redis down: clicks are answered with 'state store down' and nothing runs; Redis back: clicks work again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis as sync_redis

from sandbox.redis_server import RedisServer
from tests.conftest import BotFactory, RunningBot
from tests.e2e.helpers import ALICE, RESPONDER, buttons, card_of, card_text, channel, posted_card, tenant, wait_until


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, so it can be stopped and started again on the same port (no
    persistence: it comes back empty)."""
    with RedisServer() as server:
        yield server


async def test_clicks_fail_closed_while_redis_is_down(make_bot: BotFactory, own_redis: RedisServer) -> None:
    bot = await make_bot(redis_url=own_redis.url)
    _, root = await posted_card(bot)
    data = buttons(card_of(root))["revoke_sessions"]["data"]
    conversation_id = channel(bot).threads()[-1]["id"]

    own_redis.stop()
    status, answer = await channel(bot).send_invoke(RESPONDER, conversation_id, root["id"], "revoke_sessions", data)
    assert status == 200
    assert "state store (Redis) is unreachable, so nothing was changed" in card_text(answer["value"])
    assert not [r for r in tenant(bot).requests if r.path.endswith("/revokeSignInSessions")]

    # Redis lost everything (no persistence): the card's case is gone, which the card says plainly.
    own_redis.start()
    status, answer = await channel(bot).send_invoke(RESPONDER, conversation_id, root["id"], "revoke_sessions", data)
    assert "case is unknown here" in card_text(answer["value"])

    # A new alert after the outage works end to end.
    _, root = await posted_card(bot, None)
    data = buttons(card_of(root))["revoke_sessions"]["data"]
    conversation_id = channel(bot).threads()[-1]["id"]
    status, answer = await channel(bot).send_invoke(RESPONDER, conversation_id, root["id"], "revoke_sessions", data)
    assert status == 200
    await wait_until(
        lambda: any(r.path == f"/users/{ALICE}/revokeSignInSessions" for r in tenant(bot).requests),
        what="the revoke after Redis came back",
    )


async def test_health_is_503_while_redis_is_down(make_bot: BotFactory, own_redis: RedisServer) -> None:
    import aiohttp

    bot = await make_bot(redis_url=own_redis.url)
    own_redis.stop()
    async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/healthz") as response:
        assert response.status == 503


async def test_no_action_runs_when_its_audit_intent_cannot_be_written(bot: RunningBot, clean_redis: str) -> None:
    _, root = await posted_card(bot)
    client = sync_redis.Redis.from_url(clean_redis)
    client.delete("riposte:audit")
    client.set("riposte:audit", "not a stream")  # every XADD now fails, while the rest of Redis works
    data = buttons(card_of(root))["revoke_sessions"]["data"]
    conversation_id = channel(bot).threads()[-1]["id"]
    status, answer = await channel(bot).send_invoke(RESPONDER, conversation_id, root["id"], "revoke_sessions", data)
    assert status == 200
    assert "The audit trail could not be written, so nothing ran" in card_text(answer["value"])
    assert not [r for r in tenant(bot).requests if r.path.endswith("/revokeSignInSessions")]
    client.delete("riposte:audit")  # the store is fixed: the same button works, since nothing was claimed for good
    status, answer = await channel(bot).send_invoke(RESPONDER, conversation_id, root["id"], "revoke_sessions", data)
    await wait_until(lambda: any(r.path.endswith("/revokeSignInSessions") for r in tenant(bot).requests),
                     what="the revoke once the audit works")
