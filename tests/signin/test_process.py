"""Delegated mode in a separate `python app.py` process on the production code path (msal for the app's own
token, botbuilder's user token client against OAuthUrl, real Redis): an approver's own token runs the action."""

from __future__ import annotations

import json

import aiohttp

from tests.e2e.helpers import SAMPLE_ALERT, card_of, card_text, execute_buttons, wait_until
from tests.e2e.processes import World
from tests.signin.helpers import ADA, ADA_UPN, GRACE, GRACE_UPN, GROUPS, RITA


async def test_an_approvers_own_token_runs_the_action_in_a_bot_process(world: World) -> None:
    bot = await world.start_bot(
        RIPOSTE_ADMIN_RESPONDER_GROUPS=f"{GROUPS['Riposte Admin Responders']},{GROUPS['Riposte Responders']}",
        RIPOSTE_APPROVER_GROUPS=f"{GROUPS['Riposte Approvers']},{GROUPS['Riposte Admin Responders']}")
    async with aiohttp.ClientSession() as session, session.post(
        f"{bot.url}/api/alerts", json={**SAMPLE_ALERT, "id": "process-admin", "user": GRACE_UPN}
    ) as response:
        assert response.status == 202, await response.text()
    thread = await wait_until(lambda: world.channel_state.threads()[-1] if world.channel_state.threads() else None,
                              what="the alert's card")
    root = thread["root"]
    disable = next(b for b in execute_buttons(card_of(root)) if b["verb"] == "disable_account")
    state = world.channel_state
    status, answer = await state.send_invoke(RITA, thread["id"], root["id"], "disable_account", disable["data"])
    assert status == 200 and "needs a second person's approval" in card_text(answer["value"])

    def approval() -> dict[str, object] | None:
        replies = state.threads()[-1]["replies"]
        return next((r for r in replies if "Approval needed" in json.dumps(r)), None)

    request = await wait_until(approval, what="the approval request")
    data = next(b for b in execute_buttons(request["attachments"]) if b["verb"] == "approve")["data"]
    status, answer = await state.send_invoke(ADA, thread["id"], str(request["id"]), "approve", data)

    assert status == 200 and answer["statusCode"] == 200, answer
    assert [code for oid, _name, verb, code in state.invoke_answers if oid == ADA and verb == "approve"] == [401, 200]
    await wait_until(lambda: world.tenant_state.users[GRACE]["accountEnabled"] is False, what="the disable")
    writes = [(r.method, r.caller) for r in world.tenant_state.requests if r.path == f"/users/{GRACE}" and
              r.method == "PATCH"]
    assert writes == [("PATCH", ADA_UPN)]
