"""When the policy lets an action on an administrator run without approval, the clicker's own token runs it: a
card click signs them in the Universal Actions way; a typed command signs them in first with botbuilder's
OAuthPrompt (Teams exchanges silently, signin/tokenExchange), so that Confirm finds their token waiting."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import BotFactory
from tests.e2e.card_clicks import CaseThread
from tests.e2e.helpers import audit_entries, buttons, card_of, card_text, channel, tenant, wait_until
from tests.e2e.test_automation_rules import policy
from tests.signin.helpers import ADA, ADA_UPN, GRACE, GRACE_UPN, ON_ADMINS, answers, assert_no_token_anywhere, writes_by

NO_APPROVAL_ON_ADMINS = '''
[approval]
privileged_targets = false
'''


async def test_a_click_that_runs_at_once_signs_the_clicker_in_first(make_bot: BotFactory, tmp_path: Path) -> None:
    bot = await make_bot(policy_file=policy(tmp_path, NO_APPROVAL_ON_ADMINS))
    thread = await CaseThread.open(bot, GRACE_UPN)

    await thread.click("revoke_sessions", user=ADA)

    assert answers(bot, ADA, "revoke_sessions") == [401, 200]
    text = await thread.wait_for("Revoke sessions: done by Ada Admin-Responder")
    assert f"Run with Ada Admin-Responder ({ADA_UPN})'s own Entra rights" in text
    assert writes_by(bot, f"/users/{GRACE}/revokeSignInSessions") == [("POST", ADA_UPN)]
    # Her next click finds her token at the token service: no sign-in request this time.
    await thread.click("disable_account", user=ADA)
    await thread.wait_for("Disable account: done by Ada Admin-Responder")
    assert answers(bot, ADA, "disable_account") == [200]
    assert writes_by(bot, f"/users/{GRACE}") == [("PATCH", ADA_UPN)]


async def test_a_typed_command_signs_in_with_the_oauth_prompt_and_confirm_runs_with_that_token(
    make_bot: BotFactory, clean_redis: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await make_bot(policy_file=policy(tmp_path, NO_APPROVAL_ON_ADMINS))
    status, _ = await channel(bot).send_message(ADA, f"@Riposte disable {GRACE_UPN}", None)
    assert status in (200, 201)
    thread = channel(bot).threads()[-1]

    def signed_in() -> bool:
        return any("You are signed in" in str(reply.get("text")) for reply in channel(bot).threads()[-1]["replies"])

    await wait_until(signed_in, what="the bot to say she is signed in")
    # Teams answered the sign-in card by exchanging silently; the bot's prompt took it (200).
    assert [code for oid, name, _verb, code in channel(bot).invoke_answers
            if oid == ADA and name == "signin/tokenExchange"] == [200]
    sign_in_card = next(reply for reply in thread["replies"] if any(
        a.get("contentType") == "application/vnd.microsoft.card.oauth" for a in reply.get("attachments") or []))
    oauth = sign_in_card["attachments"][0]["content"]
    assert oauth["connectionName"] == "riposte-graph" and oauth["tokenExchangeResource"]["uri"]
    assert ON_ADMINS in str(sign_in_card.get("text"))
    confirm = await wait_until(lambda: next((reply for reply in channel(bot).threads()[-1]["replies"] if any(
        a.get("contentType") == "application/vnd.microsoft.card.adaptive" for a in reply.get("attachments") or [])
        and "Confirm: " in card_text(card_of(reply))), None), what="the confirm card (an answer through the outbox)")

    data = buttons(card_of(confirm))["disable_account"]["data"]
    status, answer = await channel(bot).send_invoke(ADA, thread["id"], confirm["id"], "disable_account", data)

    assert status == 200 and answer["statusCode"] == 200
    assert answers(bot, ADA, "disable_account") == [200], "her token was waiting: no sign-in request"
    await wait_until(lambda: tenant(bot).users[GRACE]["accountEnabled"] is False, what="the disable")
    assert writes_by(bot, f"/users/{GRACE}") == [("PATCH", ADA_UPN)]
    entries = await audit_entries(clean_redis, data["case"], events=True)
    await wait_until(lambda: "Disable account: done" in card_text(card_of(channel(bot).find_activity(confirm["id"]))),
                     what="the outcome on the confirm card")
    await assert_no_token_anywhere(bot, clean_redis, caplog.text, entries)
