"""Several bot replicas behind a load balancer share one Redis: a click runs once whichever replica gets it."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from sandbox.channel_activities import card_action_invoke
from tests.e2e.helpers import ALICE, RESPONDER, SAMPLE_ALERT, buttons, card_of, card_text, wait_until
from tests.e2e.processes import World


async def test_two_bot_processes_sharing_redis_revoke_once(world: World) -> None:
    first, second = await world.start_bot(), await world.start_bot()
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{first.url}/api/alerts", json=SAMPLE_ALERT) as response:
            assert response.status == 202, await response.text()
        await wait_until(world.channel_state.threads, what="the alert's card, posted by a worker")
        thread = world.channel_state.threads()[-1]
        root = thread["root"]
        data = buttons(card_of(root))["revoke_sessions"]["data"]
        person = world.channel_state.person(RESPONDER)
        assert person is not None
        action = {"type": "Action.Execute", "title": "Revoke sessions", "verb": "revoke_sessions", "data": data}
        invoke = card_action_invoke(person, thread["id"], root["id"], world.channel.url + "/", action)

        async def click(url: str) -> tuple[int, Any]:
            async with session.post(f"{url}/api/messages", json=invoke) as response:
                return response.status, await response.json()

        answers = await asyncio.gather(click(first.url), click(second.url), click(first.url), click(second.url))
    assert [status for status, _ in answers] == [200, 200, 200, 200]
    revoke_path = f"/users/{ALICE}/revokeSignInSessions"

    def card_done() -> bool:
        return "done by Rita Responder" in card_text(card_of(world.channel_state.find_activity(root["id"])))

    await wait_until(card_done, seconds=20, what="the card update from whichever replica ran the action")
    assert sum(1 for r in world.tenant_state.requests if r.path == revoke_path) == 1
    assert any(r.path.endswith("/oauth2/v2.0/token") for r in world.tenant_state.requests), "msal signed in"
