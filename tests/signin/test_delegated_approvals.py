"""Delegated mode (the default) through the sandbox over real HTTP: an approver's click releases an action on an
administrator (or a password reset) and their own Graph token, got by the Universal Actions sign-in, runs it."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest

from bot.endpoints import SERVICES
from tests.conftest import BotFactory
from tests.e2e.card_clicks import CaseThread, phases
from tests.e2e.helpers import audit_entries, card_of, card_text, channel, execute_buttons, jobs_done, tenant, wait_until
from tests.e2e.test_reset_password import password_in
from tests.signin.helpers import (
    ADA,
    ADA_UPN,
    ALICE,
    ALICE_UPN,
    AVERY,
    AVERY_UPN,
    GRACE,
    GRACE_UPN,
    ON_ADMINS,
    RITA,
    answers,
    assert_no_token_anywhere,
    two_admin_responders,
    writes_by,
)


async def test_an_admin_responder_holding_the_role_approves_and_their_own_token_disables_the_administrator(
    make_bot: BotFactory, clean_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await two_admin_responders(make_bot)
    thread = await CaseThread.open(bot, GRACE_UPN)
    assert "needs a second person's approval" in card_text(await thread.click("disable_account", user=RITA))
    approval = await thread_approval(thread)
    shown = card_text(card_of(approval))
    assert "Entra role needed: " in shown and f"{ON_ADMINS} (the approver signs in" in shown

    answer = await thread.approve(user=ADA)

    # The first click was answered with a sign-in request; Teams exchanged silently and clicked again.
    assert answers(bot, ADA, "approve") == [401, 200]
    assert "Approved by Ada Admin-Responder" in card_text(answer)
    text = await thread.wait_for("Disable account: done by Rita Responder")
    assert f"Run with Ada Admin-Responder ({ADA_UPN})'s own Entra rights" in text
    assert "Approved by Ada Admin-Responder." in text
    assert tenant(bot).users[GRACE]["accountEnabled"] is False
    assert writes_by(bot, f"/users/{GRACE}") == [("PATCH", ADA_UPN)]  # once, as Ada, not as the app
    entries = await audit_entries(clean_redis, thread.case_id)
    assert phases(entries, "disable_account") == [("intent", "pending"), ("outcome", "ok")]
    ran = [e for e in entries if e["phase"] in ("intent", "outcome")]
    assert all(e["signed_in"] == f"Ada Admin-Responder ({ADA_UPN})" and e["actor_id"] == RITA for e in ran)
    await jobs_done(bot)
    await assert_no_token_anywhere(bot, clean_redis, caplog.text, await audit_entries(clean_redis, thread.case_id,
                                                                                       events=True))


async def test_an_exchange_that_fails_gets_412_then_a_sign_in_by_the_link_sends_the_code_and_it_runs_once(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await two_admin_responders(make_bot)
    thread = await CaseThread.open(bot, GRACE_UPN)
    await thread.click("disable_account", user=RITA)
    await thread_approval(thread)
    channel(bot).add_fault("POST", "^/api/usertoken/exchange$", status=400, code="ExchangeFailed")

    status, answer = await click_approve(thread, ADA)

    assert status == 200 and answer["statusCode"] == 412, answer
    assert answer["type"] == "application/vnd.microsoft.error.preconditionFailed"
    assert answers(bot, ADA, "approve") == [401, 412]
    assert tenant(bot).users[GRACE]["accountEnabled"] is True
    pending = channel(bot).pending_signins[ADA]  # Teams shows the sign-in link
    async with aiohttp.ClientSession() as session:
        async with session.get(pending.link) as page:  # on to the tenant: pick who signs in
            assert page.status == 200 and "pick who signs in" in await page.text()
            picked = f"{page.url}&sandbox_user={ADA}"
        async with session.get(picked) as done:  # back through the token service; Teams clicks again with the code
            assert done.status == 200, await done.text()
            assert "Teams sent your click again" in await done.text()

    assert answers(bot, ADA, "approve") == [401, 412, 200]
    await thread.wait_for("Disable account: done by Rita Responder")
    assert writes_by(bot, f"/users/{GRACE}") == [("PATCH", ADA_UPN)]
    assert ADA not in channel(bot).pending_signins


async def test_an_approver_without_the_entra_role_is_refused_by_graph_and_the_card_and_audit_say_so(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await make_bot()  # Ada asks; Avery approves, but holds only Helpdesk Administrator in Entra
    thread = await CaseThread.open(bot, GRACE_UPN)
    await thread.click("disable_account", user=ADA)

    answer = await thread.approve(user=AVERY)

    assert answers(bot, AVERY, "approve") == [401, 200]  # signed in fine: Graph, not Riposte, checks the role
    text = await thread.wait_for("Disable account: failed")
    need = f"you need {ON_ADMINS} in Entra to do this"
    assert need in text and f"with Avery Approver ({AVERY_UPN})'s own rights" in text
    shared = await wait_until(lambda: "Failed: " in (text := card_text(card_of(channel(bot).find_activity(
        approval_id(thread))))) and text, what="the failure on the approval card (an update through the outbox)")
    assert need in shared
    assert "Approved by Avery Approver" in card_text(answer)
    assert tenant(bot).users[GRACE]["accountEnabled"] is True  # nothing changed
    entries = await audit_entries(clean_redis, thread.case_id)
    outcome = next(e for e in entries if e["phase"] == "outcome")
    assert outcome["result"] == "failed" and need in outcome["detail"]
    assert outcome["signed_in"] == f"Avery Approver ({AVERY_UPN})"


async def test_a_helpdesk_administrator_resets_an_ordinary_users_password_with_their_own_token(
    make_bot: BotFactory, clean_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await make_bot()
    thread = await CaseThread.open(bot, ALICE_UPN)
    await thread.click("reset_password", user=RITA)
    approval = await thread_approval(thread)
    shown = card_text(card_of(approval))
    assert "Entra role needed: " in shown and "Helpdesk Administrator, User Administrator, Authentication" in shown

    answer = await thread.approve(user=AVERY)

    password = password_in(answer)  # only in the approver's own answer
    assert answers(bot, AVERY, "approve") == [401, 200]
    text = await thread.wait_for("Reset password: done by Rita Responder")
    assert password not in text and f"Run with Avery Approver ({AVERY_UPN})'s own Entra rights" in text
    assert writes_by(bot, f"/users/{ALICE}") == [("PATCH", AVERY_UPN)]
    state = channel(bot)
    holding = [card for card in state.overrides.values() if password in str(card)]
    assert len(holding) == 1 and password in str(state.overrides[(approval["id"], AVERY)])
    assert password not in str(state.received)
    await jobs_done(bot)
    entries = await audit_entries(clean_redis, thread.case_id, events=True)
    assert password not in str(entries) and password not in caplog.text
    await assert_no_token_anywhere(bot, clean_redis, caplog.text, entries)


async def thread_approval(thread: CaseThread) -> dict[str, Any]:
    """The newest approval request in the thread, once posted (just after the requester's answer)."""

    def pending() -> list[dict[str, Any]]:
        return [reply for reply in thread.replies()
                if any(b["verb"] == "approve" for b in execute_buttons(reply.get("attachments") or []))]

    found: list[dict[str, Any]] = await wait_until(pending, what="an approval request in the thread")
    return found[-1]


async def click_approve(thread: CaseThread, user: str) -> tuple[int, Any]:
    """Press Approve as `user`, whatever the answer (CaseThread.approve insists on a card)."""
    approval = await thread_approval(thread)
    data = next(b for b in execute_buttons(approval["attachments"]) if b["verb"] == "approve")["data"]
    return await channel(thread.bot).send_invoke(user, thread.conversation_id, approval["id"], "approve", data)


def approval_id(thread: CaseThread) -> str:
    return next(str(reply["id"]) for reply in thread.replies() if "Approval needed" in card_text(card_of(reply)))


async def test_sign_out_makes_the_token_service_forget_the_persons_token_and_is_audited(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await two_admin_responders(make_bot)
    thread = await CaseThread.open(bot, GRACE_UPN)
    await thread.click("disable_account", user=RITA)
    await thread.approve(user=ADA)
    await thread.wait_for("Disable account: done by Rita Responder")
    store = channel(bot).token_service.store
    ada = channel(bot).person(ADA)
    assert ada is not None and any(user == ada.teams_id for user, _ in store.cached), "Ada's sign-in is cached"

    def answer() -> str | None:
        replies = channel(bot).threads()[-1]["replies"]
        return str(replies[-1].get("text", "")) if replies else None

    # The token service fails: said so, not "signed out"; the token is still there.
    channel(bot).add_fault("DELETE", r"^/api/usertoken/SignOut$", status=503)
    await channel(bot).send_message(ADA, "@Riposte sign out", None)
    assert "Could not sign you out: the Bot Framework token service did not answer" in \
        await wait_until(answer, what="the answer to the failed sign out")
    assert any(user == ada.teams_id for user, _ in store.cached)

    status, _ = await channel(bot).send_message(ADA, "@Riposte sign out", None)
    assert status in (200, 201, 202)

    assert "Signed out: the next action that runs with your own Entra rights asks you to sign in again" in \
        await wait_until(answer, what="the answer to sign out")
    assert not any(user == ada.teams_id for user, _ in store.cached), "the token service forgot Ada's token"
    raw = await bot.app[SERVICES].redis.xrange("riposte:audit") or []
    signed_out = [fields for _, fields in raw if fields and fields.get("action") == "signed_out"]
    assert len(signed_out) == 1 and (signed_out[0] or {}).get("actor_id") == ADA, signed_out
