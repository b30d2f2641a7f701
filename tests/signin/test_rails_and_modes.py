"""Riposte's own rails run before anyone is asked to sign in; automation never acts with a person's token; app mode
works as before; first use without consent links the admin consent; the sign-in answers have Teams' shape."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp

from sandbox.channel_activities import card_action_invoke
from tests.conftest import BotFactory, RunningBot
from tests.e2e.card_clicks import CaseThread
from tests.e2e.helpers import (
    SAMPLE_ALERT,
    app_holds_privileged_auth_admin,
    audit_entries,
    buttons,
    card_of,
    card_text,
    case_thread_root,
    channel,
    execute_buttons,
    jobs_done,
    post_alert,
    tenant,
    wait_until,
)
from tests.e2e.test_automation_rules import policy
from tests.signin.helpers import (
    ADA,
    ADA_UPN,
    AVERY,
    AVERY_UPN,
    BREAKGLASS,
    GRACE,
    GRACE_UPN,
    ON_ADMINS,
    RITA,
    answers,
    two_admin_responders,
    writes_by,
)
from tests.signin.test_delegated_approvals import click_approve, thread_approval

ADMIN_ACTIONS_RULE = '''
[[automation.rules]]
name = "anything"
min_severity = "low"
actions = ["revoke_sessions", "disable_account"]
'''


async def test_nobody_acts_on_their_own_account_the_target_cannot_approve_protected_stay_untouchable(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await two_admin_responders(make_bot)
    # Her own account (she holds a privileged role, so it would run with her own token): refused before sign-in.
    own = await CaseThread.open(bot, ADA_UPN)
    assert "You cannot act on your own account" in card_text(await own.click("revoke_sessions", user=ADA))
    # A protected break-glass account: its buttons are greyed; a click anyway is refused before sign-in.
    glass = await CaseThread.open(bot, "breakglass@contoso.onmicrosoft.com")
    button = glass.button("disable_account")
    assert button["isEnabled"] is False
    status, answer = await channel(bot).send_invoke(ADA, glass.conversation_id, glass.root_id, "disable_account",
                                                    button["data"])
    assert status == 200 and "protected break-glass account" in card_text(answer["value"])
    assert answers(bot, ADA, "revoke_sessions") == [200] and answers(bot, ADA, "disable_account") == [200]
    assert tenant(bot).delegated_tokens == {}, "nobody was asked to sign in"

    # Avery's password reset: Avery may not approve it (and so get the password), even signed in.
    avery = await CaseThread.open(bot, AVERY_UPN)
    await avery.click("reset_password", user=RITA)
    status, answer = await click_approve(avery, AVERY)
    assert "This request is about your own account" in card_text(answer["value"])
    assert answers(bot, AVERY, "approve") == [200] and tenant(bot).delegated_tokens == {}
    # Another approver holding the Entra role signs in and runs it with her own rights.
    assert "Temporary password" in card_text(await avery.approve(user=ADA))
    await avery.wait_for("Reset password: done by Rita Responder")
    assert writes_by(bot, f"/users/{AVERY}") == [("PATCH", ADA_UPN)]
    assert tenant(bot).users[BREAKGLASS]["accountEnabled"] is True


async def test_automation_never_runs_an_action_that_needs_a_persons_token(
    make_bot: BotFactory, clean_redis: str, tmp_path: Path
) -> None:
    bot = await make_bot(automation_enabled=True, policy_file=policy(tmp_path, ADMIN_ACTIONS_RULE))
    status, body = await post_alert(bot, {**SAMPLE_ALERT, "id": "auto-admin", "user": GRACE_UPN})
    assert status == 202
    await case_thread_root(bot, body["case_id"])
    await jobs_done(bot)
    await wait_until(lambda: "Not automated" in card_text(card_of(channel(bot).find_activity(
        channel(bot).threads()[-1]["root"]["id"]))), what="the card to say what automation did not do")
    assert tenant(bot).mutations() == [] and tenant(bot).delegated_tokens == {}
    assert channel(bot).invoke_answers == [], "no sign-in was asked of anyone"
    entries = await audit_entries(clean_redis, body["case_id"])
    assert {e["action"] for e in entries if e["phase"] == "refused"} == {"revoke_sessions", "disable_account"}
    assert not [e for e in entries if e["phase"] in ("intent", "outcome")]


async def test_app_mode_keeps_working_with_the_apps_own_rights(make_bot: BotFactory, clean_redis: str) -> None:
    bot = await make_bot(privileged_actions="app")
    thread = await CaseThread.open(bot, GRACE_UPN)
    await thread.click("disable_account", user=ADA)
    assert "Entra role needed" not in card_text(card_of(await thread_approval(thread)))
    # Without the directory role Entra requires of an app acting on an administrator, Graph refuses it...
    await thread.approve()
    text = await thread.wait_for("Disable account: failed")
    assert "Privileged Authentication Administrator role to act on an administrator" in text
    # ...and with it, it runs with the app's rights: nobody signs in.
    app_holds_privileged_auth_admin(bot)
    await thread.click("disable_account", user=ADA)
    await thread.approve()
    text = await thread.wait_for("Disable account: done by Ada Admin-Responder")
    assert "own Entra rights" not in text
    assert writes_by(bot, f"/users/{GRACE}") == [("PATCH", "app"), ("PATCH", "app")]
    assert answers(bot, AVERY, "approve") == [200, 200] and tenant(bot).delegated_tokens == {}
    outcome = [e for e in await audit_entries(clean_redis, thread.case_id) if e["phase"] == "outcome"][-1]
    assert outcome["result"] == "ok" and "signed_in" not in outcome


def open_url_buttons(node: Any) -> list[tuple[str, str]]:
    """Every Action.OpenUrl in a card: (title, url)."""
    if isinstance(node, list):
        return [found for value in node for found in open_url_buttons(value)]
    if not isinstance(node, dict):
        return []
    own = [(str(node["title"]), str(node["url"]))] if node.get("type") == "Action.OpenUrl" else []
    return own + [found for value in node.values() for found in open_url_buttons(value)]


async def test_first_use_without_consent_links_the_admin_consent_then_it_works(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await two_admin_responders(make_bot)
    async with aiohttp.ClientSession() as session, session.put(
        f"{bot.sandbox.tenant.url}/_sandbox/consent", json={"scopes": []}
    ) as response:
        assert response.status == 200
    thread = await CaseThread.open(bot, GRACE_UPN)
    await thread.click("disable_account", user=RITA)

    status, answer = await click_approve(thread, ADA)
    assert status == 200

    shown = card_text(answer["value"])
    assert "not consented in this tenant yet" in shown and "A Global Administrator must consent once" in shown
    # The button a Global Administrator presses (the text names the same page).
    [(title, url)] = open_url_buttons(answer["value"])
    assert title == "Open admin consent" and re.fullmatch(r"https?://\S+/v2\.0/adminconsent\?\S+", url), url
    assert url in shown
    assert tenant(bot).users[GRACE]["accountEnabled"] is True
    refused = [e for e in await audit_entries(clean_redis, thread.case_id) if e["phase"] == "refused"]
    assert refused and "not consented" in refused[-1]["detail"]
    assert "approve" in buttons(card_of(await thread_approval(thread))), "the request still waits for an approver"

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}&sandbox_user={ADA}") as page:
            assert page.status == 403, "only a Global Administrator consents for the tenant"
        async with session.get(f"{url}&sandbox_user={BREAKGLASS}") as page:
            assert page.status == 200 and "Consent granted" in await page.text()

    await thread.approve(user=ADA)
    await thread.wait_for("Disable account: done by Rita Responder")
    assert writes_by(bot, f"/users/{GRACE}") == [("PATCH", ADA_UPN)]


async def test_the_sign_in_answers_have_teams_shape_on_the_wire(make_bot: BotFactory) -> None:
    """Straight to the messaging endpoint, as Teams sends it: no token → 401 loginRequest with an OAuth card (token
    exchange resource, sign-in link); a token that cannot be exchanged → 412; nothing runs."""
    bot = await two_admin_responders(make_bot)
    thread = await CaseThread.open(bot, GRACE_UPN)
    await thread.click("disable_account", user=RITA)
    approval = await thread_approval(thread)
    data = next(b for b in execute_buttons(approval["attachments"]) if b["verb"] == "approve")["data"]
    person = channel(bot).person(ADA)
    assert person is not None
    invoke = card_action_invoke(person, thread.conversation_id, approval["id"], bot.sandbox.channel.url + "/",
                                {"type": "Action.Execute", "verb": "approve", "data": data})

    login = await post(bot, invoke)
    assert login["statusCode"] == 401 and login["type"] == "application/vnd.microsoft.activity.loginRequest"
    card = login["value"]
    assert card["connectionName"] == "riposte-graph" and ON_ADMINS in card["text"]
    assert card["tokenExchangeResource"]["uri"] == "api://botid-riposte-sandbox-bot" and card["tokenExchangeResource"][
        "id"]
    [sign_in] = card["buttons"]
    assert sign_in["type"] == "signin" and "/api/oauth/signin?signin=" in sign_in["value"]

    invoke["value"]["authentication"] = {"id": card["tokenExchangeResource"]["id"], "connectionName": "riposte-graph",
                                         "token": "not-a-teams-token"}
    failed = await post(bot, invoke)
    assert failed["statusCode"] == 412 and failed["type"] == "application/vnd.microsoft.error.preconditionFailed"
    assert tenant(bot).mutations() == [] and tenant(bot).delegated_tokens == {}


async def post(bot: RunningBot, activity: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.post(f"{bot.url}/api/messages", json=activity) as response:
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer
