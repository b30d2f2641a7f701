"""Edge cases a responder would hit: re-running after undo, double blocks, approvals from a personal chat, what
an approver is shown, and who may cancel."""

from __future__ import annotations

from sandbox.channel import personal_conversation_id
from tests.conftest import RunningBot
from tests.e2e.card_clicks import MAIL_SYNC_PRO, CaseThread, is_active
from tests.e2e.helpers import (
    ALICE,
    NO_ROLE,
    RESPONDER,
    buttons,
    card_of,
    card_text,
    channel,
    execute_buttons,
    jobs_done,
    tenant,
    wait_until,
)


async def test_block_user_can_run_again_after_its_steps_are_undone(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.run("block_user", done="Block user: done by")
    assert not is_active(thread.button("block_user"))
    await thread.run("enable_account", done="Re-enable account: done by")
    assert is_active(thread.button("block_user")), "after an undo the bundle may contain the account again"


async def test_a_second_block_policy_is_refused_while_the_first_stands(bot: RunningBot) -> None:
    first, second = await CaseThread.open(bot), await CaseThread.open(bot)
    await first.run("block_signin", done="Block sign-in: done by")
    await second.click("block_signin")
    text = await second.wait_for("Block sign-in: failed")
    assert "already blocked by the Riposte policy" in text
    assert sum(p["displayName"].startswith("Riposte block:") for p in tenant(bot).ca_policies.values()) == 1


async def test_the_approver_sees_a_tenant_wide_app_deletion_for_what_it_is(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    await thread.click("remove_app")  # list the consented apps
    await thread.wait_for("Mail Sync Pro")
    item = next(b["data"]["item"] for b in execute_buttons(thread.card()["body"]) if b["verb"] == "remove_app")
    await thread.click("remove_app", item, inputs={"app_mode": "app"})
    approval = await wait_until(lambda: thread.replies() or None, what="the approval card")
    assert "delete the app from the whole tenant" in card_text(card_of(approval[-1]))
    assert MAIL_SYNC_PRO in tenant(bot).service_principals, "nothing ran before approval"


async def test_approval_asked_in_a_personal_chat_goes_to_the_alert_channel(bot: RunningBot) -> None:
    chat_id = personal_conversation_id(RESPONDER)
    await channel(bot).send_message(RESPONDER, "reset password alice@contoso.com", chat_id)
    chat = await wait_until(lambda: channel(bot).chat(RESPONDER)[1:] or None, what="the confirm card")
    confirm = card_of(chat[-1])
    await channel(bot).send_invoke(RESPONDER, chat_id, chat[-1]["id"], "reset_password",
                                   buttons(confirm)["reset_password"]["data"])
    thread = await wait_until(lambda: channel(bot).threads() or None, what="the approval in the alert channel")
    assert "Approval needed: Reset password" in card_text(card_of(thread[-1]["root"]))
    assert "passwordResetAt" not in tenant(bot).users[ALICE]


async def test_approval_asked_in_a_personal_chat_with_no_alert_channel_is_refused_at_once(bot: RunningBot) -> None:
    chat_id = personal_conversation_id(RESPONDER)
    await channel(bot).send_message(RESPONDER, "reset password alice@contoso.com", chat_id)
    chat = await wait_until(lambda: channel(bot).chat(RESPONDER)[1:] or None, what="the confirm card")
    bot.sandbox.settings.alert_channel = ""  # no channel where approvers could see the request
    _, answer = await channel(bot).send_invoke(RESPONDER, chat_id, chat[-1]["id"], "reset_password",
                                               buttons(card_of(chat[-1]))["reset_password"]["data"])
    assert "no alert channel is set" in card_text(answer["value"])
    await jobs_done(bot)
    assert channel(bot).threads() == [], "no approval card was queued or posted"
    assert "passwordResetAt" not in tenant(bot).users[ALICE]


async def test_only_a_responder_may_cancel_a_confirm_card(bot: RunningBot) -> None:
    await channel(bot).send_message(RESPONDER, "@Riposte disable alice@contoso.com", None)
    thread = await wait_until(lambda: channel(bot).threads()[-1] if channel(bot).threads()[-1]["replies"] else None,
                              what="the confirm card")
    reply = thread["replies"][-1]
    cancel = buttons(card_of(reply))["cancel"]["data"]
    _, answer = await channel(bot).send_invoke(NO_ROLE, thread["id"], reply["id"], "cancel", cancel)
    assert "Cancelling needs the responder role" in card_text(answer["value"])
    assert "Cancelled" not in card_text(card_of(channel(bot).find_activity(reply["id"])))
