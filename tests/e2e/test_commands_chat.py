"""Typed commands in a channel (with the real Teams mention shape) and in a personal chat."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import aiohttp
import redis.asyncio as redis_async

from app import create_app
from sandbox.channel import SANDBOX_CHANNEL_ID, personal_conversation_id
from sandbox.launcher import start_server
from tests.conftest import RunningBot
from tests.e2e.helpers import (
    ADMIN_RESPONDER,
    ALICE,
    NO_ROLE,
    RESPONDER,
    SAMPLE_ALERT,
    USERS,
    buttons,
    card_of,
    card_text,
    case_thread_root,
    channel,
    jobs_done,
    post_alert,
    tenant,
    wait_until,
)


async def say_in_channel(bot: RunningBot, user: str, text: str) -> dict[str, Any]:
    """Post a new thread mentioning the bot; return the thread with the bot's replies (sent by a job, after the
    message's answer: alert threads may be posted meanwhile)."""
    before = {thread["id"] for thread in channel(bot).threads()}
    status, _ = await channel(bot).send_message(user, f"@Riposte {text}", None)
    assert status in (200, 201)

    def answered() -> dict[str, Any] | None:
        return next((thread for thread in channel(bot).threads() if thread["id"] not in before and thread["replies"]
                     and (thread["root"].get("from") or {}).get("aadObjectId") == user), None)

    thread = await wait_until(answered, what="the bot's reply")
    return dict(thread)


def reply_text(thread: dict[str, Any]) -> str:
    reply = thread["replies"][-1]
    return card_text(card_of(reply)) if reply.get("attachments") else str(reply.get("text", ""))


PAT = USERS["pat_fabrikam.com#EXT#"]["id"]  # a guest: its mail, pat@fabrikam.com, is not its UPN


def revokes(bot: RunningBot, user: str = ALICE) -> int:
    return sum(1 for r in tenant(bot).requests if r.path == f"/users/{user}/revokeSignInSessions")


async def test_channel_command_confirms_before_acting_then_runs(bot: RunningBot) -> None:
    thread = await say_in_channel(bot, RESPONDER, "revoke alice@contoso.com")
    message = thread["root"]
    assert message["text"].startswith("<at>Riposte</at>") and message["entities"][0]["type"] == "mention"
    confirm = card_of(thread["replies"][-1])
    text = card_text(confirm)
    assert "Confirm: Revoke sessions for Alice Target?" in text and "Nothing runs until you press Confirm" in text
    assert "NOT reversible" in text and "Account" in text
    assert set(buttons(confirm)) == {"revoke_sessions", "cancel"}
    assert revokes(bot) == 0, "nothing runs before Confirm"

    card_id = thread["replies"][-1]["id"]
    data = buttons(confirm)["revoke_sessions"]["data"]
    status, _ = await channel(bot).send_invoke(RESPONDER, thread["id"], card_id, "revoke_sessions", data)
    assert status == 200
    await wait_until(lambda: "Revoke sessions: done by Rita Responder" in card_text(
        card_of(channel(bot).find_activity(card_id))), what="the confirm card to show the outcome")
    assert revokes(bot) == 1
    assert "cancel" not in buttons(card_of(channel(bot).find_activity(card_id))), "nothing left to cancel"


async def test_disabling_a_synced_user_warns_before_confirm_and_offers_the_block_sync_cannot_undo(
    bot: RunningBot,
) -> None:
    thread = await say_in_channel(bot, RESPONDER, "disable sam.synced@contoso.com")
    confirm = card_of(thread["replies"][-1])
    text = card_text(confirm)
    assert "the next directory sync may re-enable it" in text
    assert {"disable_account", "block_signin"} <= set(buttons(confirm))

    alice_thread = await say_in_channel(bot, RESPONDER, "disable alice@contoso.com")  # cloud-only: no such offer
    assert "block_signin" not in buttons(card_of(alice_thread["replies"][-1]))


async def test_cancel_does_nothing_and_closes_the_card(bot: RunningBot) -> None:
    thread = await say_in_channel(bot, RESPONDER, "disable alice@contoso.com")
    card_id = thread["replies"][-1]["id"]
    confirm = card_of(thread["replies"][-1])
    cancel = buttons(confirm)["cancel"]["data"]
    _, answer = await channel(bot).send_invoke(RESPONDER, thread["id"], card_id, "cancel", cancel)
    assert "Cancelled by Rita Responder" in card_text(answer["value"])
    data = buttons(confirm)["disable_account"]["data"]
    await channel(bot).send_invoke(RESPONDER, thread["id"], card_id, "disable_account", data)
    alice = tenant(bot).find_user(ALICE)
    assert alice is not None and alice["accountEnabled"] is True


async def test_personal_chat_command_without_mention(bot: RunningBot) -> None:
    chat_id = personal_conversation_id(RESPONDER)
    status, _ = await channel(bot).send_message(RESPONDER, "Revoke ALICE@contoso.com", chat_id)
    assert status in (200, 201)
    chat = await wait_until(lambda: channel(bot).chat(RESPONDER)[1:] or None, what="the bot's answer in the chat")
    assert "Confirm: Revoke sessions" in card_text(card_of(chat[-1]))


async def test_mistyped_command_gets_what_was_wrong_and_a_suggestion(bot: RunningBot) -> None:
    thread = await say_in_channel(bot, RESPONDER, "revok alice@contoso.com")
    assert "Did you mean `revoke alice@contoso.com`?" in reply_text(thread)


async def test_unknown_user_is_named_as_not_in_this_tenant(bot: RunningBot) -> None:
    thread = await say_in_channel(bot, RESPONDER, "revoke ghost@contoso.com")
    assert "No such user in this tenant: ghost@contoso.com" in reply_text(thread)


async def test_person_without_a_role_is_told_so(bot: RunningBot) -> None:
    thread = await say_in_channel(bot, NO_ROLE, "revoke alice@contoso.com")
    assert "holds no Riposte role" in reply_text(thread)
    assert revokes(bot) == 0


async def test_help_lists_every_command(bot: RunningBot) -> None:
    text = reply_text(await say_in_channel(bot, NO_ROLE, "help"))
    for command in ("block USER", "unblock USER", "revoke USER", "disable USER", "enable USER",
                    "rules USER", "reset password USER", "status USER", "audit USER-OR-CASE-ID",
                    "use this channel for alerts", "help"):
        assert f"`{command}`" in text, command
    assert "<user>" not in text, "Teams would take <user> for an HTML tag"


async def test_echoed_input_cannot_inject_markup(bot: RunningBot) -> None:
    text = reply_text(await say_in_channel(bot, RESPONDER, "revoke <script>alert(1)</script>[x](http://evil)"))
    assert "<script>" not in text and "](http" not in text


async def test_status_shows_the_account_with_its_buttons(bot: RunningBot) -> None:
    thread = await say_in_channel(bot, RESPONDER, "status alice@contoso.com")
    card = card_of(thread["replies"][-1])
    text = card_text(card)
    assert "Status of Alice Target" in text and "enabled" in text
    assert {"revoke_sessions", "disable_account", "block_signin"} <= set(buttons(card))


async def test_audit_shows_what_was_done(bot: RunningBot) -> None:
    thread = await say_in_channel(bot, RESPONDER, "revoke alice@contoso.com")
    card_id = thread["replies"][-1]["id"]
    data = buttons(card_of(thread["replies"][-1]))["revoke_sessions"]["data"]
    await channel(bot).send_invoke(RESPONDER, thread["id"], card_id, "revoke_sessions", data)
    await wait_until(lambda: revokes(bot) == 1, what="the revoke")
    audit = await say_in_channel(bot, RESPONDER, "audit alice@contoso.com")
    text = reply_text(audit)
    assert "Audit trail: alice@contoso.com" in text and "intent · revoke_sessions" in text


async def test_status_of_a_guest_typed_by_its_mail_shows_its_card(bot: RunningBot) -> None:
    thread = await say_in_channel(bot, RESPONDER, "status pat@fabrikam.com")
    text = reply_text(thread)
    assert "Status of Pat Partner (Guest)" in text and "No such user" not in text
    assert "disable_account" in buttons(card_of(thread["replies"][-1]))


async def test_audit_by_mail_finds_what_was_done_to_that_user(bot: RunningBot) -> None:
    thread = await say_in_channel(bot, RESPONDER, "disable pat@fabrikam.com")
    data = buttons(card_of(thread["replies"][-1]))["disable_account"]["data"]
    await channel(bot).send_invoke(RESPONDER, thread["id"], thread["replies"][-1]["id"], "disable_account", data)
    await wait_until(lambda: tenant(bot).users[PAT]["accountEnabled"] is False, what="the guest disabled")
    # The entries name Pat by object id and UPN; the mail typed is neither.
    text = reply_text(await say_in_channel(bot, RESPONDER, "audit pat@fabrikam.com"))
    assert "Audit trail: pat@fabrikam.com" in text and "intent · disable_account" in text


async def test_use_this_channel_for_alerts_is_remembered(bot: RunningBot) -> None:
    text = reply_text(await say_in_channel(bot, ADMIN_RESPONDER, "use this channel for alerts"))
    assert "new alerts will be posted in this channel" in text
    await channel(bot).send_message(ADMIN_RESPONDER, "use this channel for alerts",
                                    personal_conversation_id(ADMIN_RESPONDER))
    chat = await wait_until(lambda: channel(bot).chat(ADMIN_RESPONDER)[1:] or None, what="the answer")
    assert "not in a chat" in str(chat[-1].get("text"))


async def test_installing_the_bot_posts_a_welcome_with_help(bot: RunningBot) -> None:
    seed_channel = channel(bot)
    update = {
        "type": "conversationUpdate", "id": "f:welcome", "channelId": "msteams",
        "serviceUrl": seed_channel.service_url, "timestamp": "2026-11-23T10:00:00Z",
        "from": {"id": "29:admin", "aadObjectId": RESPONDER},
        "recipient": {"id": "28:riposte-sandbox-bot", "name": "Riposte"},
        "conversation": {"isGroup": True, "conversationType": "channel", "id": SANDBOX_CHANNEL_ID,
                         "tenantId": bot.sandbox.settings.graph_tenant_id},
        "membersAdded": [{"id": "28:riposte-sandbox-bot"}],
        "channelData": {"eventType": "teamMemberAdded", "team": {"id": "19:riposte-sandbox-team@thread.tacv2"},
                        "tenant": {"id": bot.sandbox.settings.graph_tenant_id}},
    }
    async with aiohttp.ClientSession() as session, session.post(f"{bot.url}/api/messages", json=update) as response:
        assert response.status in (200, 201)
    thread = await wait_until(lambda: channel(bot).threads()[-1] if channel(bot).threads() else None,
                              what="the welcome post")
    assert "Riposte is here" in str(thread["root"].get("text")) and "`help`" in str(thread["root"].get("text"))


async def test_in_a_channel_a_command_without_a_user_gets_a_usage_hint_not_a_question(bot: RunningBot) -> None:
    thread = await say_in_channel(bot, RESPONDER, "revoke")
    hint = reply_text(thread)
    assert "`@Riposte revoke USER`" in hint and "Which user" not in hint
    # Teams never delivers a plain reply in a channel to the bot: an answer to a question could not arrive.
    status, body = await channel(bot).send_message(RESPONDER, "alice@contoso.com", thread["id"])
    assert status == 0 and body["delivered"] is False
    status, _ = await channel(bot).send_message(RESPONDER, "@Riposte revoke alice@contoso.com", thread["id"])
    assert status in (200, 201)
    replies = await wait_until(lambda: r if len(r := channel(bot).threads()[-1]["replies"]) >= 4 else None,
                               what="the confirm card")
    assert [a["from"]["name"] for a in replies] == ["Riposte", "Rita Responder", "Rita Responder", "Riposte"]
    assert "Confirm: Revoke sessions for Alice Target?" in card_text(card_of(replies[-1]))
    assert revokes(bot) == 0


async def test_command_without_a_user_asks_for_it_and_the_answer_completes_it(bot: RunningBot) -> None:
    chat_id = personal_conversation_id(RESPONDER)
    await channel(bot).send_message(RESPONDER, "revoke", chat_id)
    question = await wait_until(lambda: channel(bot).chat(RESPONDER)[1:] or None, what="the question")
    assert "Which user should I `revoke`?" in str(question[-1].get("text"))
    await channel(bot).send_message(RESPONDER, "alice@contoso.com", chat_id)
    chat = await wait_until(lambda: channel(bot).chat(RESPONDER) if len(channel(bot).chat(RESPONDER)) >= 4 else None,
                            what="the confirm card")
    assert "Confirm: Revoke sessions for Alice Target?" in card_text(card_of(chat[-1]))


async def test_a_pending_question_can_be_cancelled(bot: RunningBot) -> None:
    chat_id = personal_conversation_id(RESPONDER)
    await channel(bot).send_message(RESPONDER, "disable", chat_id)
    await wait_until(lambda: len(channel(bot).chat(RESPONDER)) >= 2 or None, what="the question")
    await channel(bot).send_message(RESPONDER, "cancel", chat_id)
    chat = await wait_until(lambda: channel(bot).chat(RESPONDER) if len(channel(bot).chat(RESPONDER)) >= 4 else None,
                            what="the answer")
    assert "nothing was done" in str(chat[-1].get("text"))


async def test_the_question_survives_a_restart_and_another_replica_takes_the_answer(bot: RunningBot) -> None:
    chat_id = personal_conversation_id(RESPONDER)
    await channel(bot).send_message(RESPONDER, "revoke", chat_id)
    await wait_until(lambda: len(channel(bot).chat(RESPONDER)) >= 2 or None, what="the question")
    await bot.server.runner.cleanup()  # this replica goes away; the dialog state is in Redis
    replacement = await start_server(create_app(bot.sandbox.settings, credential=bot.sandbox.credential))
    try:
        channel(bot).bot_base_url = replacement.url
        await channel(bot).send_message(RESPONDER, "alice@contoso.com", chat_id)
        chat = await wait_until(
            lambda: channel(bot).chat(RESPONDER) if len(channel(bot).chat(RESPONDER)) >= 4 else None,
            what="the confirm card from the other replica")
        assert "Confirm: Revoke sessions for Alice Target?" in card_text(card_of(chat[-1]))
    finally:
        await replacement.runner.cleanup()


async def test_unblock_removes_the_block_policy_riposte_made_from_another_conversation(bot: RunningBot) -> None:
    status_thread = await say_in_channel(bot, RESPONDER, "status alice@contoso.com")
    card_id = status_thread["replies"][-1]["id"]
    data = buttons(card_of(status_thread["replies"][-1]))["block_signin"]["data"]
    await channel(bot).send_invoke(RESPONDER, status_thread["id"], card_id, "block_signin", data)
    await wait_until(lambda: any(p["displayName"].startswith("Riposte block: alice@contoso.com")
                                 for p in tenant(bot).ca_policies.values()), what="the block policy")
    # `unblock` finds the policy the bot remembered after Graph made it: wait for the card, updated last.
    await wait_until(lambda: "Block sign-in: done by" in card_text(card_of(channel(bot).find_activity(card_id))),
                     what="the block's outcome on the status card")

    thread = await say_in_channel(bot, RESPONDER, "unblock alice@contoso.com")
    confirm = card_of(thread["replies"][-1])
    assert buttons(confirm)["unblock_signin"]["title"] == "Confirm: Unblock sign-in"
    assert "Re-enable account" in card_text(confirm), "unblock also offers to re-enable the account"
    await channel(bot).send_invoke(RESPONDER, thread["id"], thread["replies"][-1]["id"], "unblock_signin",
                                   buttons(confirm)["unblock_signin"]["data"])
    await wait_until(lambda: not any(p["displayName"].startswith("Riposte block:")
                                     for p in tenant(bot).ca_policies.values()), what="the policy removed")
    assert any(p["displayName"] == "Require MFA for admins" for p in tenant(bot).ca_policies.values())


async def test_someone_unknown_to_the_tenant_is_told_they_hold_no_role(bot: RunningBot) -> None:
    """The Agents Playground's test users are not in the tenant: checkMemberGroups answers 404."""
    await channel(bot).send_message(RESPONDER, "hello", personal_conversation_id(RESPONDER))
    message = dict(channel(bot).chat(RESPONDER)[0])
    message.update({"id": "stranger-1", "text": "revoke alice@contoso.com",
                    "from": {"id": "29:stranger", "name": "Alex Wilber",
                             "aadObjectId": "00000000-0000-0000-0000-0000000000020"}})
    async with aiohttp.ClientSession() as session, session.post(f"{bot.url}/api/messages", json=message) as response:
        assert response.status in (200, 201)
    chat = await wait_until(lambda: [a for a in channel(bot).chat(RESPONDER) if "no Riposte role" in
                                     str(a.get("text"))] or None, what="the answer to the stranger")
    assert "Alex Wilber holds no Riposte role" in str(chat[-1]["text"])
    assert revokes(bot) == 0


async def test_a_message_teams_delivers_twice_gets_one_confirm_card(bot: RunningBot) -> None:
    thread = await say_in_channel(bot, RESPONDER, "revoke alice@contoso.com")
    status, _ = await channel(bot).redeliver(thread["root"]["id"])  # the turn has ended when this returns
    assert status in (200, 201)
    replies = channel(bot).threads()[-1]["replies"]
    assert len(replies) == 1 and "Confirm: Revoke sessions" in card_text(card_of(replies[0]))


async def test_a_repeated_command_is_not_taken_as_the_answer_to_the_question_it_asked(bot: RunningBot) -> None:
    chat_id = personal_conversation_id(RESPONDER)
    await channel(bot).send_message(RESPONDER, "revoke", chat_id)
    await wait_until(lambda: len(channel(bot).chat(RESPONDER)) >= 2 or None, what="the question")
    await channel(bot).redeliver(channel(bot).chat(RESPONDER)[0]["id"])
    await channel(bot).send_message(RESPONDER, "alice@contoso.com", chat_id)
    chat = await wait_until(lambda: channel(bot).chat(RESPONDER) if len(channel(bot).chat(RESPONDER)) >= 4 else None,
                            what="the confirm card")
    assert len(chat) == 4, [c.get("text") for c in chat]
    assert "Confirm: Revoke sessions for Alice Target?" in card_text(card_of(chat[-1]))


async def test_alerts_go_to_the_service_url_teams_last_used(bot: RunningBot) -> None:
    # RIPOSTE_SERVICE_URL left at a value that is not where this tenant's Teams answers (it differs by region).
    bot.sandbox.settings.service_url = "http://127.0.0.1:9/"
    status, before = await post_alert(bot, {**SAMPLE_ALERT, "id": "before-any-activity"})
    assert status == 202 and before["status"] == "accepted"  # kept; its posting job retries meanwhile

    await say_in_channel(bot, RESPONDER, "help")  # any activity from our tenant carries Teams' service URL

    status, answer = await post_alert(bot, {**SAMPLE_ALERT, "id": "after-an-activity"})
    assert status == 202 and answer["status"] == "accepted", answer
    await case_thread_root(bot, answer["case_id"])
    await case_thread_root(bot, before["case_id"])  # the queued one went out too, to the learned URL


async def test_the_service_url_teams_uses_now_wins_over_the_one_stored_with_the_alert_channel(
    bot: RunningBot, clean_redis: str
) -> None:
    await say_in_channel(bot, ADMIN_RESPONDER, "use this channel for alerts")
    # Teams has since moved this tenant: the URL recorded with the channel choice no longer answers.
    client = redis_async.Redis.from_url(clean_redis, decode_responses=True)
    try:
        chosen = json.loads(str(await client.get("riposte:alert-channel")))
        await client.set("riposte:alert-channel", json.dumps({**chosen, "service_url": "http://127.0.0.1:9/"}))
    finally:
        await client.aclose()

    await say_in_channel(bot, RESPONDER, "help")  # an activity with Teams' current URL

    status, answer = await post_alert(bot, {**SAMPLE_ALERT, "id": "after-the-move"})
    assert status == 202 and answer["status"] == "accepted", answer
    await case_thread_root(bot, answer["case_id"])


OTHER_TENANT = "72f988bf-0000-0000-0000-000000000000"


def from_another_tenant(bot: RunningBot, user: str) -> None:
    """From now on the sandbox sends this person's messages with another tenant's id (channelData.tenant.id and
    conversation.tenantId), as a user of another organisation that installed the bot would."""
    people = channel(bot).people
    index = next(i for i, person in enumerate(people) if person.oid == user)
    people[index] = dataclasses.replace(people[index], tenant_id=OTHER_TENANT)


async def test_a_command_from_another_tenant_is_refused_without_looking_the_target_up(
    bot: RunningBot, clean_redis: str
) -> None:
    from_another_tenant(bot, RESPONDER)
    graph_calls = len(tenant(bot).requests)

    thread = await say_in_channel(bot, RESPONDER, "disable alice@contoso.com")

    assert thread["root"]["channelData"]["tenant"]["id"] == OTHER_TENANT
    assert len(thread["replies"]) == 1
    text = reply_text(thread)
    assert "comes from another tenant than the one Riposte serves" in text
    assert "Alice" not in text and "alice@" not in text and "Confirm" not in text
    assert len(tenant(bot).requests) == graph_calls, "no user (and no role) was looked up"
    refused = [e for e in await audit_trail(clean_redis) if e.get("phase") == "refused"]
    assert [(e["action"], e["actor_id"]) for e in refused] == [("command", RESPONDER)]


async def test_the_which_user_question_is_neither_asked_nor_answered_for_another_tenant(bot: RunningBot) -> None:
    chat_id = personal_conversation_id(RESPONDER)
    await channel(bot).send_message(RESPONDER, "revoke", chat_id)  # asked in our tenant...
    await wait_until(lambda: len(channel(bot).chat(RESPONDER)) >= 2 or None, what="the question")
    from_another_tenant(bot, RESPONDER)
    graph_calls = len(tenant(bot).requests)

    await channel(bot).send_message(RESPONDER, "alice@contoso.com", chat_id)  # ...answered from another
    await channel(bot).send_message(RESPONDER, "disable", chat_id)  # and a new question is not asked

    def bot_said() -> list[dict[str, Any]]:
        return [a for a in channel(bot).chat(RESPONDER) if (a.get("from") or {}).get("aadObjectId") != RESPONDER]

    await wait_until(lambda: len(bot_said()) >= 3, what="the answers to both messages")
    await jobs_done(bot)
    chat = channel(bot).chat(RESPONDER)
    answers = [card_text(card_of(a)) if a.get("attachments") else str(a.get("text")) for a in bot_said()[1:]]
    assert len(answers) == 2 and all("comes from another tenant than the one Riposte serves" in a for a in answers)
    assert not [a for a in chat if "Confirm" in json.dumps(a) or "Alice Target" in json.dumps(a)]
    assert sum("Which user" in str(a.get("text")) for a in chat) == 1
    assert len(tenant(bot).requests) == graph_calls


async def audit_trail(redis_url: str) -> list[dict[str, str]]:
    client = redis_async.Redis.from_url(redis_url, decode_responses=True)
    try:
        raw = await client.xrange("riposte:audit") or []
        return [{str(k): str(v) for k, v in (fields or {}).items()} for _, fields in raw]
    finally:
        await client.aclose()
