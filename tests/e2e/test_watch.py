"""Watching contained users (bot/watch): the sandbox undoes containment the way the world does (directory sync, the
attacker) over its HTTP control, and the card, the thread and the audit say so, once.

"Nothing more happened" is asserted only after further checks have run (the watch's claimed check count moved on)
or after the schedule drained (a released watch's pending check came due and queued no successor)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from app import create_app
from bot.endpoints import SERVICES
from bot.watch.store import Watch, WatchStore
from sandbox.launcher import RunningServer
from tests.conftest import BotFactory, RunningBot
from tests.e2e.card_clicks import ALICE_UPN, PAT_UPN, SAM_UPN, CaseThread
from tests.e2e.helpers import (
    ALICE,
    RESPONDER,
    USERS,
    audit_entries,
    card_of,
    card_text,
    channel,
    execute_buttons,
    jobs_done,
    tenant,
    wait_until,
)

SAM = USERS["sam.synced"]["id"]
FAST = {"watch_interval_seconds": 0.3, "watch_max_rps": 50, "watch_hours": 1.0}
UNDONE = "something you contained was undone"


async def revert(bot: RunningBot, what: str, user: str, **extra: Any) -> list[str]:
    async with aiohttp.ClientSession() as session, session.post(
        f"{bot.sandbox.tenant.url}/_sandbox/revert", json={"what": what, "user": user, **extra}
    ) as response:
        body = await response.json()
        assert response.status == 200, body
        done: list[str] = body["reverted"]
        assert done, f"the sandbox changed nothing for {what}"
        return done


async def watch_of(bot: RunningBot, user_id: str) -> Watch:
    watch = await WatchStore(bot.app[SERVICES].redis).get(user_id)
    assert watch is not None, f"{user_id} is not watched"
    return watch


async def checks_after(bot: RunningBot, user_id: str, more: int) -> None:
    """Wait until `more` further scheduled checks have been claimed and the last of them has recorded its time."""
    start = (await watch_of(bot, user_id)).seq
    deadline_seq = start + more + 1  # check n is finished once n+1 has been claimed

    async def moved() -> bool:
        return (await watch_of(bot, user_id)).seq >= deadline_seq

    for _ in range(600):
        if await moved():
            return
        await _sleep()
    raise AssertionError(f"the watch of {user_id} did not run {more} more check(s)")


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.05)


def undone_replies(thread: CaseThread) -> list[dict[str, Any]]:
    return [reply for reply in thread.replies()
            if reply.get("attachments") and UNDONE in card_text(card_of(reply))]


def mention_of(reply: dict[str, Any]) -> dict[str, Any]:
    content = card_of(reply)
    entities = content["msteams"]["entities"]
    assert len(entities) == 1 and entities[0]["type"] == "mention", entities
    tag = entities[0]["text"]
    assert tag.startswith("<at>") and tag.endswith("</at>")
    texts = [block["text"] for block in content["body"] if block.get("type") == "TextBlock"]
    assert any(tag in text for text in texts), "the <at> tag is not in a TextBlock of the card"
    mention: dict[str, Any] = entities[0]
    return mention


async def test_sync_re_enabling_a_disabled_synced_user_is_reported_once(make_bot: BotFactory) -> None:
    bot = await make_bot(**FAST)
    thread = await CaseThread.open(bot, SAM_UPN)
    await thread.run("disable_account", done="Disable account: done")
    await thread.wait_for("Containment: contained")
    await revert(bot, "sync_enable", SAM_UPN)

    text = await thread.wait_for("Containment: reverted", seconds=10)
    assert "account re-enabled at" in text and "probably directory sync" in text
    replies = await wait_until(lambda: undone_replies(thread), seconds=10, what="the reply about the change")
    mention = mention_of(replies[0])
    assert mention["mentioned"] == {"id": RESPONDER, "name": "Rita Responder"}
    offered = [button["verb"] for button in execute_buttons(card_of(replies[0]))]
    assert offered == ["block_signin"], offered  # sync would undo a second disable: only the CA block is offered

    await checks_after(bot, SAM, 3)
    assert len(undone_replies(thread)) == 1
    changes = [e for e in await audit_entries(bot.app[SERVICES].settings.redis_url, thread.case_id, events=True)
               if e.get("action") == "watch_change"]
    assert len(changes) == 1 and changes[0]["change"] == "account re-enabled"

    # Acting again from the reply: the block holds, and the card is back to contained.
    button = execute_buttons(card_of(replies[0]))[0]
    status, answer = await channel(bot).send_invoke(RESPONDER, thread.conversation_id, replies[0]["id"],
                                                    "block_signin", button["data"])
    assert status == 200 and answer["statusCode"] == 200, answer
    await thread.wait_for("Block sign-in: done")
    await thread.wait_for("Containment: contained")
    await checks_after(bot, SAM, 2)
    assert len(undone_replies(thread)) == 1
    assert len(undone_replies(thread)) == 1


async def test_a_forwarding_rule_created_after_containment_is_reported_once(make_bot: BotFactory) -> None:
    bot = await make_bot(**FAST)
    thread = await CaseThread.open(bot, ALICE_UPN)
    await thread.run("disable_account", done="Disable account: done")
    text = await thread.wait_for("Containment: partly contained")
    assert "missing: forwarding to smtp:invoices@evil.example" in text  # the seed's forwarding is still there

    rule = {"displayName": "fw", "isEnabled": True, "sequence": 9, "conditions": {},
            "actions": {"forwardTo": [{"emailAddress": {"address": "drop@evil.example"}}]}}
    created = await revert(bot, "recreate_rule", ALICE_UPN, rule=rule)
    rule_id = created[0].rsplit("(", 1)[1].rstrip(")")
    text = await thread.wait_for("Containment: reverted", seconds=10)
    assert "suspicious inbox rule “fw” created" in text
    replies = await wait_until(lambda: undone_replies(thread), seconds=10, what="the reply about the rule")
    verbs = {(b["verb"], b["data"].get("item", "")) for b in execute_buttons(card_of(replies[0]))}
    assert verbs == {("delete_inbox_rule", rule_id), ("disable_inbox_rule", rule_id)}

    await checks_after(bot, ALICE, 3)
    assert len(undone_replies(thread)) == 1
    # The rule can be deleted from the card (it is listed there now with its buttons).
    await thread.run("delete_inbox_rule", rule_id, done="Delete rule “fw”: done", approval=True)
    assert not any(r["id"] == rule_id for r in tenant(bot).inbox_rules[ALICE])

    # A second, different change is a second report; still none repeated.
    await revert(bot, "forwarding", ALICE_UPN, address="smtp:exfil@evil.example")
    await wait_until(lambda: len(undone_replies(thread)) == 2, seconds=10, what="the reply about forwarding")
    assert "new mailbox forwarding to smtp:exfil@evil.example" in card_text(card_of(undone_replies(thread)[1]))
    await checks_after(bot, ALICE, 3)
    assert len(undone_replies(thread)) == 2


async def test_a_released_case_is_no_longer_watched(make_bot: BotFactory) -> None:
    bot = await make_bot(**FAST)
    thread = await CaseThread.open(bot, SAM_UPN)
    await thread.run("disable_account", done="Disable account: done")
    await thread.wait_for("Containment: contained")
    await thread.click("release", undo=True)
    text = await thread.wait_for("Containment: released")
    assert "released by Rita Responder" in text and thread.find("release", undo=True) is None
    released = await watch_of(bot, SAM)
    await revert(bot, "sync_enable", SAM_UPN)

    await jobs_done(bot, seconds=15)  # the check that was due came and went without queuing another
    after = await watch_of(bot, SAM)
    assert after.seq == released.seq and after.state == "released"
    assert after.last_check == released.last_check
    assert "reverted" not in thread.text() and not undone_replies(thread)
    events = [e["action"] for e in await audit_entries(bot.app[SERVICES].settings.redis_url, thread.case_id,
                                                        events=True)]
    assert events.count("release") == 1 and "watch_change" not in events


@pytest.fixture
async def second_app(make_bot: BotFactory) -> AsyncIterator[Any]:
    """A second replica (web and workers) of the first bot, on the same Redis, sandbox tenant and channel."""
    runners: list[web.AppRunner] = []

    async def start(first: RunningBot) -> RunningServer:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.setblocking(False)
        app = create_app(first.sandbox.settings, credential=first.sandbox.credential)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, listener).start()
        runners.append(runner)
        return RunningServer(runner, f"http://127.0.0.1:{listener.getsockname()[1]}")

    yield start
    for runner in runners:
        await runner.cleanup()


def most_in_any_window(times: list[float], seconds: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_two_replicas_share_one_schedule_and_one_graph_budget(make_bot: BotFactory, second_app: Any) -> None:
    rps = 12
    bot = await make_bot(watch_interval_seconds=0.3, watch_max_rps=rps, watch_hours=1.0)
    await second_app(bot)
    thread = await CaseThread.open(bot, ALICE_UPN)
    await thread.run("disable_account", done="Disable account: done")
    contained_at = max(request.at for request in tenant(bot).requests)
    await checks_after(bot, ALICE, 2)
    await thread.click("release", undo=True)
    await jobs_done(bot, seconds=30)

    watch = await watch_of(bot, ALICE)
    user_reads = [r for r in tenant(bot).requests
                  if r.method == "GET" and r.path == f"/users/{ALICE}"
                  and r.query.get("$select") == "id,accountEnabled,onPremisesSyncEnabled"]
    assert len(user_reads) == watch.seq, "each scheduled check ran exactly once across both replicas"
    # The watcher's, not the release click's role check (the clicker's groups and UPN).
    watcher_requests = [r.at for r in tenant(bot).requests if r.at > contained_at and RESPONDER not in r.path]
    # Arrival times trail the limiter's clock (by up to a few hundred ms on a loaded 2-core machine: a burst the
    # budget let go at one moment may arrive late, next to the following second's): measure half-second windows.
    # A watcher ignoring its budget sends a check's ~13 reads in one burst, more than the rate in any window.
    assert most_in_any_window(watcher_requests, 0.5) <= rps, "the watcher exceeded its Graph rate"
    assert len(watcher_requests) >= 3 * 10  # a check reads ~13 times: a burst of one would exceed the rate


async def test_release_typed_in_the_channel_ends_the_watch_like_the_button(make_bot: BotFactory) -> None:
    bot = await make_bot(**FAST)
    thread = await CaseThread.open(bot, SAM_UPN)
    await thread.run("disable_account", done="Disable account: done")
    await thread.wait_for("Containment: contained")

    await channel(bot).send_message(RESPONDER, f"@Riposte release {SAM_UPN}", None)

    def answer() -> str | None:
        replies = channel(bot).threads()[-1]["replies"]
        return str(replies[-1].get("text", "")) if replies else None

    assert "Released: Riposte no longer watches" in await wait_until(answer, what="the bot's answer")
    assert "released by Rita Responder" in await thread.wait_for("Containment: released")
    assert (await watch_of(bot, SAM)).state == "released"
    await channel(bot).send_message(RESPONDER, f"@Riposte release {SAM_UPN}", None)
    assert "is not being watched" in await wait_until(answer, what="the second answer")


async def status_answer(bot: RunningBot, upn: str) -> dict[str, Any]:
    """Type `@Riposte status <upn>` in a new post; the card the bot answers with."""
    before = len(channel(bot).threads())
    await channel(bot).send_message(RESPONDER, f"@Riposte status {upn}", None)

    def answered() -> dict[str, Any] | None:
        threads = channel(bot).threads()
        if len(threads) <= before or not threads[-1]["replies"]:
            return None
        return dict(threads[-1]["replies"][-1])

    return card_of(await wait_until(answered, what="the answer to status"))


async def case_count(bot: RunningBot) -> int:
    redis = bot.app[SERVICES].redis
    return sum([1 async for key in redis.scan_iter("riposte:case:*") if str(key).count(":") == 2])


def containment_line(text: str) -> str:
    return next(line for line in text.splitlines() if "Containment:" in line)


async def test_status_reads_the_watched_case_as_its_card_does(make_bot: BotFactory) -> None:
    bot = await make_bot(**FAST)
    thread = await CaseThread.open(bot, SAM_UPN)
    await thread.run("disable_account", done="Disable account: done")
    await thread.wait_for("Containment: contained")
    cases = await case_count(bot)

    answer = await status_answer(bot, SAM_UPN)
    text = card_text(answer)
    assert f"case {thread.case_id}" in text and "Containment: contained · last checked" in text
    assert "Disable account: done by Rita Responder" in text
    assert execute_buttons(answer) == [], "the status answer has no buttons of its own: the case card has them"
    link = answer["actions"][0]
    assert link["type"] == "Action.OpenUrl" and thread.root_id in link["url"]

    await revert(bot, "sync_enable", SAM_UPN)
    await thread.wait_for("Containment: reverted", seconds=10)
    text = card_text(await status_answer(bot, SAM_UPN))
    assert "Containment: reverted" in text and "account re-enabled at" in text and "probably directory sync" in text

    await thread.click("release", undo=True)
    card_text_now = await thread.wait_for("Containment: released")
    text = card_text(await status_answer(bot, SAM_UPN))
    assert containment_line(text) == containment_line(card_text_now)  # the same read, the same last check
    assert "released by Rita Responder" in text
    assert await case_count(bot) == cases, "status opened no new case"


async def test_status_of_an_open_case_says_what_is_missing(make_bot: BotFactory) -> None:
    bot = await make_bot(**FAST, group_alerts_minutes=30)  # the intake's open-case pointer lives this long
    thread = await CaseThread.open(bot, ALICE_UPN)
    text = card_text(await status_answer(bot, ALICE_UPN))
    assert f"case {thread.case_id}" in text and "no containment action on this case yet" in text

    await thread.run("disable_account", done="Disable account: done")
    await thread.wait_for("Containment: partly contained")
    text = card_text(await status_answer(bot, ALICE_UPN))
    assert "Containment: partly contained · last checked" in text
    assert "missing: forwarding to smtp:invoices@evil.example" in text
    assert "Status of Alice Target" in text and f"case {thread.case_id}" in text

    # Someone with no case at all still gets today's status card, with its buttons.
    other = await status_answer(bot, PAT_UPN)
    assert "Status of Pat Partner" in card_text(other) and execute_buttons(other)


async def reply_button(reply: dict[str, Any], verb: str) -> dict[str, Any]:
    found = [b for b in execute_buttons(card_of(reply)) if b["verb"] == verb]
    assert len(found) == 1, [(b["verb"], b["title"]) for b in execute_buttons(card_of(reply))]
    return found[0]


async def click_reply(bot: RunningBot, thread: CaseThread, reply: dict[str, Any], verb: str) -> None:
    button = await reply_button(reply, verb)
    status, answer = await channel(bot).send_invoke(RESPONDER, thread.conversation_id, reply["id"], verb,
                                                    button["data"])
    assert status == 200 and answer["statusCode"] == 200, answer


async def watch_changes(bot: RunningBot, case_id: str) -> list[str]:
    return [e["change"] for e in await audit_entries(bot.app[SERVICES].settings.redis_url, case_id, events=True)
            if e.get("action") == "watch_change"]


async def test_a_new_mfa_method_app_consent_and_fullaccess_are_each_reported_once(make_bot: BotFactory) -> None:
    bot = await make_bot(**FAST)
    thread = await CaseThread.open(bot, ALICE_UPN)
    await thread.run("disable_account", done="Disable account: done")
    await thread.wait_for("Containment: partly contained")

    # The attacker registers a phone: reported, and the reply's button removes that very method.
    method = (await revert(bot, "auth_method", ALICE_UPN, phone="+1 2065550199"))[0].split()[-1]
    text = await thread.wait_for("Containment: reverted", seconds=10)
    assert "new MFA method: " in text and "2065550199" in text
    first = (await wait_until(lambda: undone_replies(thread), seconds=10, what="the reply about the method"))[0]
    assert (await reply_button(first, "remove_auth_method"))["data"]["item"] == method
    await click_reply(bot, thread, first, "remove_auth_method")
    await thread.wait_for("Remove MFA method “")
    await wait_until(lambda: all(m["id"] != method for m in tenant(bot).auth_methods[ALICE]), what="the removal")

    # The user consents to the app again: a new grant, reported with its own Remove app button.
    grant = (await revert(bot, "consent", ALICE_UPN))[0].split()[-1]
    await wait_until(lambda: len(undone_replies(thread)) == 2, seconds=10, what="the reply about the consent")
    second = undone_replies(thread)[1]
    assert "new consented app: Mail Sync Pro (Mail.ReadWrite Mail.Send offline_access)" in card_text(card_of(second))
    assert (await reply_button(second, "remove_app"))["data"]["item"] == grant

    # FullAccess for someone new on the mailbox.
    await revert(bot, "full_access", ALICE_UPN, holder="nolan.norole@contoso.com")
    await wait_until(lambda: len(undone_replies(thread)) == 3, seconds=10, what="the reply about FullAccess")
    third = undone_replies(thread)[2]
    assert "new FullAccess to the mailbox for nolan.norole@contoso.com" in card_text(card_of(third))
    assert (await reply_button(third, "remove_mailbox_access"))["data"]["item"] == "nolan.norole@contoso.com"

    await checks_after(bot, ALICE, 3)
    assert len(undone_replies(thread)) == 3
    changes = await watch_changes(bot, thread.case_id)
    assert len(changes) == 3 and len(set(changes)) == 3, changes
    assert "new consented app: Mail Sync Pro" in thread.text()


def riposte_policies(bot: RunningBot, upn: str) -> list[dict[str, Any]]:
    return [p for p in tenant(bot).ca_policies.values() if p["displayName"].startswith(f"Riposte block: {upn}")]


async def test_a_disabled_or_deleted_block_policy_is_reported_once_and_block_sign_in_blocks_again(
        make_bot: BotFactory) -> None:
    bot = await make_bot(**FAST)
    thread = await CaseThread.open(bot, SAM_UPN)
    await thread.run("block_signin", done="Block sign-in: done")
    await thread.wait_for("Containment: contained")
    [first_policy] = riposte_policies(bot, SAM_UPN)

    # Someone switches the policy off: reported; Block sign-in is offered and not refused as "already blocked".
    await revert(bot, "block_policy", SAM_UPN)
    text = await thread.wait_for("Containment: reverted", seconds=10)
    assert "disabled (state disabled)" in text and "sign-in still possible" not in text.split("Containment:")[0]
    first = (await wait_until(lambda: undone_replies(thread), seconds=10, what="the reply about the policy"))[0]
    await click_reply(bot, thread, first, "block_signin")
    text = await thread.wait_for("which someone had switched to disabled; that one was deleted")
    [policy] = riposte_policies(bot, SAM_UPN)
    assert policy["state"] == "enabled" and policy["id"] != first_policy["id"], "one Riposte policy, blocking"
    await thread.wait_for("Containment: contained")

    # Someone deletes it: reported once more; Block sign-in creates a new one.
    await revert(bot, "block_policy", SAM_UPN, delete=True)
    await wait_until(lambda: len(undone_replies(thread)) == 2, seconds=10, what="the reply about the deletion")
    second = undone_replies(thread)[1]
    assert "” removed" in card_text(card_of(second))
    await click_reply(bot, thread, second, "block_signin")
    await wait_until(lambda: [p["state"] for p in riposte_policies(bot, SAM_UPN)] == ["enabled"],
                     what="a new blocking policy")
    await thread.wait_for("Containment: contained")

    await checks_after(bot, SAM, 3)
    assert len(undone_replies(thread)) == 2
    changes = await watch_changes(bot, thread.case_id)
    assert len(changes) == 2 and "disabled (state disabled)" in changes[0] and changes[1].endswith("removed"), changes
