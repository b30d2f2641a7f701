"""Second-person approval end to end over real HTTP and real Redis: request → approval card in the thread →
refusals (self-approval, no approver role) → approve (runs exactly once) / reject (needs a reason) / expire on
its own; the audit trail; a pending request surviving an app restart."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import redis.asyncio as redis_async
from aiohttp import web

from app import create_app
from sandbox.card_markdown import literal_texts
from sandbox.launcher import start_server
from sandbox.seed import load_seed
from tests.conftest import BotFactory, RunningBot
from tests.e2e.helpers import (
    ADMIN_RESPONDER,
    ALICE,
    APPROVER,
    NO_ROLE,
    RESPONDER,
    SAMPLE_ALERT,
    USERS,
    app_holds_privileged_auth_admin,
    audit_entries,
    buttons,
    card_of,
    card_text,
    channel,
    execute_buttons,
    post_alert,
    posted_card,
    settled,
    tenant,
    wait_until,
)

RULE_ID = "AQAAAJ5dZqA="  # alice's malicious "." rule in the seed
GRACE = USERS["grace.admin"]["id"]
ADMIN_RESPONDERS_GROUP = next(g["id"] for g in load_seed()["groups"] if g["displayName"] == "Riposte Admin Responders")
APPROVERS_GROUP = next(g["id"] for g in load_seed()["groups"] if g["displayName"] == "Riposte Approvers")
PENDING_LINE = "Waiting for an approver"


# -- helpers ------------------------------------------------------------------------------------------------


def thread_of(bot: RunningBot, case_root: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in channel(bot).threads() if t["root"]["id"] == case_root["id"])


def case_text(bot: RunningBot, root: dict[str, Any]) -> str:
    return card_text(card_of(channel(bot).find_activity(root["id"])))


def approval_replies(bot: RunningBot, root: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in thread_of(bot, root)["replies"]
            if r.get("attachments") and "Approval needed" in card_text(card_of(r))]


def approval_text(bot: RunningBot, activity_id: str) -> str:
    return card_text(card_of(channel(bot).find_activity(activity_id)))


async def click(bot: RunningBot, user: str, root: dict[str, Any], activity_id: str, verb: str,
                data: dict[str, Any]) -> dict[str, Any]:
    """Click as `user` on the card in `activity_id` (in the case's thread); the answer card."""
    status, answer = await channel(bot).send_invoke(user, thread_of(bot, root)["id"], activity_id, verb, data)
    assert status == 200 and answer["statusCode"] == 200, answer
    value: dict[str, Any] = answer["value"]
    return value


async def decide(bot: RunningBot, user: str, root: dict[str, Any], approval: dict[str, Any], verb: str,
                 reason: str | None = None) -> str:
    """Click Approve or Reject on the approval card; Teams merges the reason box into the button's data."""
    data = dict(buttons(card_of(approval))[verb]["data"])
    if reason is not None:
        data["reason"] = reason
    return card_text(await click(bot, user, root, approval["id"], verb, data))


def rules(bot: RunningBot) -> list[str]:
    return [rule["id"] for rule in tenant(bot).inbox_rules.get(ALICE, [])]


def rule_deletions(bot: RunningBot) -> int:
    return sum(1 for r in tenant(bot).mutations() if r.method == "DELETE" and "messageRules" in r.path)


def revokes(bot: RunningBot, user_id: str) -> int:
    path = f"/users/{user_id}/revokeSignInSessions"
    return sum(1 for r in tenant(bot).requests if r.method == "POST" and r.path == path)


async def request_rule_deletion(bot: RunningBot, alert: dict[str, Any] | None = None
                                ) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Rita lists alice's inbox rules, then asks to delete the "." rule: (case id, case root, approval card)."""
    case_id, root = await posted_card(bot, alert)
    listing = buttons(card_of(root))["list_inbox_rules"]["data"]
    await click(bot, RESPONDER, root, root["id"], "list_inbox_rules", listing)

    def delete_button() -> dict[str, Any] | None:
        card = card_of(channel(bot).find_activity(root["id"]))
        return next((b for b in execute_buttons(card)
                     if b["verb"] == "delete_inbox_rule" and b["data"].get("item") == RULE_ID), None)

    button = await wait_until(delete_button, what="the listed rule's Delete button")
    answer = card_text(await click(bot, RESPONDER, root, root["id"], "delete_inbox_rule", button["data"]))
    assert "Delete rule needs a second person's approval" in answer
    approval = await wait_until(lambda: approval_replies(bot, root), what="the approval card")
    assert len(approval) == 1
    # The card in the channel is updated by a job after the click's answer: wait until it says so too.
    await wait_until(lambda: "waiting for approval" in case_text(bot, root),
                     what="the case card saying the deletion waits for approval")
    return case_id, root, approval[0]


async def request_admin_revoke(bot: RunningBot) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Ada revokes grace.admin's sessions: any action on an administrator needs approval."""
    case_id, root = await posted_card(bot, {**SAMPLE_ALERT, "id": "admin-approval", "user": "grace.admin@contoso.com"})
    data = buttons(card_of(root))["revoke_sessions"]["data"]
    answer = card_text(await click(bot, ADMIN_RESPONDER, root, root["id"], "revoke_sessions", data))
    assert "Revoke sessions needs a second person's approval" in answer
    approval = await wait_until(lambda: approval_replies(bot, root), what="the approval card")
    return case_id, root, approval[0]


async def audit(redis_url: str, case_id: str) -> list[dict[str, str]]:
    """The case's audit entries, less the read-only listing of the rules (it has its own intent/outcome)."""
    return [e for e in await audit_entries(redis_url, case_id) if e["action"] != "list_inbox_rules"]


def phases(entries: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(e["phase"], e["actor_id"]) for e in entries]


# -- approve --------------------------------------------------------------------------------------------------


async def test_request_refusals_then_approval_runs_once(make_bot: BotFactory, clean_redis: str) -> None:
    bot = await make_bot()
    case_id, root, approval = await request_rule_deletion(bot)

    # The approval card says what, on whom, who asked, until when and who may approve.
    shown = card_text(card_of(approval))
    assert "Approval needed: Delete rule “.”" in shown
    assert "Alice Target (alice@contoso.com)" in shown
    assert "Rita Responder at " in shown and " UTC" in shown
    assert "Expires" in shown and "Who may approve" in shown
    assert "anyone with the Riposte approver role, except the requester" in shown
    assert "yes: “Restore rule” recreates it" in shown and PENDING_LINE in shown
    assert set(buttons(card_of(approval))) == {"approve", "reject"}
    assert buttons(card_of(approval))["approve"]["data"]["case"] == case_id
    # The case card says it is waiting, and its Delete button is greyed meanwhile.
    assert "Delete rule “.”: requested by Rita Responder at" in case_text(bot, root)
    assert "waiting for approval" in case_text(bot, root)
    assert RULE_ID in rules(bot)

    # The requester cannot approve (or reject) their own request.
    answer = await decide(bot, RESPONDER, root, approval, "approve")
    assert "You requested this, so you cannot approve or reject it" in answer
    answer = await decide(bot, RESPONDER, root, approval, "reject", reason="changed my mind")
    assert "You requested this" in answer
    # Nor may anyone without the approver role, not even an admin responder.
    for user, name in ((NO_ROLE, "Nolan Norole"), (ADMIN_RESPONDER, "Ada Admin-Responder")):
        answer = await decide(bot, user, root, approval, "approve")
        assert f"Deciding needs the approver role; {name} does not hold it" in answer, answer
    # Clicking the action again while it waits changes nothing and asks nobody twice.
    again = next(b for b in execute_buttons(card_of(channel(bot).find_activity(root["id"])))
                 if b["verb"] == "delete_inbox_rule" and b["data"].get("item") == RULE_ID)
    assert again.get("isEnabled") is False
    answer = card_text(await click(bot, ADMIN_RESPONDER, root, root["id"], "delete_inbox_rule", again["data"]))
    assert "Delete rule is waiting for approval (requested by Rita Responder); this click changed nothing" in answer
    await settled(bot)
    assert rule_deletions(bot) == 0 and RULE_ID in rules(bot)
    assert len(approval_replies(bot, root)) == 1
    assert PENDING_LINE in approval_text(bot, approval["id"])

    # Avery approves: the rule is deleted, once.
    answer = await decide(bot, APPROVER, root, approval, "approve")
    assert "Approved by Avery Approver at " in answer

    def done() -> str:
        text = case_text(bot, root)
        return text if "Delete rule “.”: done by Rita Responder" in text else ""

    text = await wait_until(done, what="the case card to show the approved outcome")
    assert "Approved by Avery Approver." in text
    assert "Deleted the inbox rule “.” of Alice Target" in text
    assert "To reverse: “Restore rule” recreates it" in text
    assert " UTC" in text
    assert RULE_ID not in rules(bot) and rule_deletions(bot) == 1

    # The approval card everyone sees gets the result after the case card does.
    shared = await wait_until(lambda: "Done: " in approval_text(bot, approval["id"])
                              and approval_text(bot, approval["id"]), what="the result on the approval card")
    assert "Approved by Avery Approver at " in shared and "Rita Responder at " in shared
    assert "yes: “Restore rule” recreates it" in shared
    assert "Done: Deleted the inbox rule “.” of Alice Target" in shared
    assert PENDING_LINE not in shared
    assert not buttons(card_of(channel(bot).find_activity(approval["id"])))  # no more Approve / Reject

    # A second Approve (the stale card, clicked again) changes nothing.
    answer = await decide(bot, APPROVER, root, approval, "approve")
    assert "already decided; nothing changed" in answer
    await settled(bot)
    assert rule_deletions(bot) == 1

    entries = await audit(clean_redis, case_id)
    assert phases(entries) == [
        ("approval_requested", RESPONDER),
        ("refused", RESPONDER), ("refused", RESPONDER), ("refused", NO_ROLE), ("refused", ADMIN_RESPONDER),
        ("approved", APPROVER),
        ("intent", RESPONDER), ("outcome", RESPONDER),
    ]
    assert entries[1]["detail"] == "self-approval" and entries[3]["detail"] == "not an approver"
    # Decisions carry their card verb (the contract's `approve` / `reject`); `action` is what was decided on.
    assert [e["decision"] for e in entries] == ["", "approve", "reject", "approve", "approve", "approve", "", ""]
    async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/metrics") as response:
        assert 'riposte_approvals_total{action="delete_inbox_rule",decision="approve"} 1' in await response.text()
    assert entries[-1]["result"] == "ok"
    assert all(e["action"] == "delete_inbox_rule" and e["target_id"] == ALICE for e in entries)


async def test_concurrent_approvals_by_two_approvers_run_once(make_bot: BotFactory, clean_redis: str) -> None:
    bot = await make_bot(approver_groups=[APPROVERS_GROUP, ADMIN_RESPONDERS_GROUP])  # Ada approves too here
    case_id, root, approval = await request_rule_deletion(bot)
    clicks = [decide(bot, user, root, approval, "approve") for user in (APPROVER, ADMIN_RESPONDER) * 5]
    answers = await asyncio.gather(*clicks)
    winners = [a for a in answers if "already decided" not in a and "at the same moment" not in a]
    assert len(winners) == 1, answers
    await wait_until(lambda: "Delete rule “.”: done" in case_text(bot, root), what="the outcome")
    await settled(bot)
    assert rule_deletions(bot) == 1
    entries = await audit(clean_redis, case_id)
    assert [e["phase"] for e in entries].count("approved") == 1
    assert [e["phase"] for e in entries].count("intent") == 1
    assert [e["phase"] for e in entries].count("outcome") == 1


async def test_action_on_an_administrator_waits_for_approval(make_bot: BotFactory, clean_redis: str) -> None:
    # App mode, the app holding the role Entra requires of it; tests/signin has it with the approver's own rights.
    bot = await make_bot(privileged_actions="app")
    app_holds_privileged_auth_admin(bot)
    case_id, root, approval = await request_admin_revoke(bot)
    assert "Approval needed: Revoke sessions" in card_text(card_of(approval))
    assert "Grace Admin" in card_text(card_of(approval))
    await settled(bot)
    assert revokes(bot, GRACE) == 0
    assert "Deciding needs the approver role" in await decide(bot, RESPONDER, root, approval, "approve")
    assert "Approved by Avery Approver" in await decide(bot, APPROVER, root, approval, "approve")
    await wait_until(lambda: "Revoke sessions: done by Ada Admin-Responder" in case_text(bot, root),
                     what="the revoke outcome")
    assert revokes(bot, GRACE) == 1
    assert [e["phase"] for e in await audit(clean_redis, case_id)] == [
        "approval_requested", "refused", "approved", "intent", "outcome"]


async def test_approved_password_reset_shows_the_password_only_to_the_approver(
    bot: RunningBot, clean_redis: str
) -> None:
    case_id, root = await posted_card(bot)
    data = buttons(card_of(root))["reset_password"]["data"]
    answer = card_text(await click(bot, RESPONDER, root, root["id"], "reset_password", data))
    assert "needs a second person's approval" in answer and "Temporary password" not in answer
    approval = (await wait_until(lambda: approval_replies(bot, root), what="the approval card"))[0]

    approve = buttons(card_of(approval))["approve"]["data"]
    answer_card = await click(bot, APPROVER, root, approval["id"], "approve", approve)
    secret_block = answer_card["body"][0]
    assert "Temporary password" in card_text(secret_block)
    password = literal_texts(secret_block)[1]  # a TextRun: shown as it is, never read as markdown
    assert len(password) >= 16

    await wait_until(lambda: "Reset password: done by Rita Responder" in case_text(bot, root), what="the outcome")
    assert password not in case_text(bot, root)
    assert password not in approval_text(bot, approval["id"])
    for activity in thread_of(bot, root)["replies"]:
        assert password not in str(activity)
    entries = await audit(clean_redis, case_id)
    assert [e["phase"] for e in entries] == ["approval_requested", "approved", "intent", "outcome"]
    assert all(password not in str(entry) for entry in entries)
    # The requester's own view of either card never had it either.
    assert all(password not in str(card) for key, card in channel(bot).overrides.items() if key[1] != APPROVER)


async def test_the_target_of_the_action_cannot_approve_it(make_bot: BotFactory, clean_redis: str) -> None:
    """Avery's account is the suspect: Avery may not approve her own password reset (and so get the password)."""
    bot = await make_bot(approver_groups=[APPROVERS_GROUP, ADMIN_RESPONDERS_GROUP])
    alert = {**SAMPLE_ALERT, "id": "approver-target", "user": "avery.approver@contoso.com"}
    case_id, root = await posted_card(bot, alert)
    data = buttons(card_of(root))["reset_password"]["data"]
    assert "needs a second person's approval" in card_text(await click(bot, RESPONDER, root, root["id"],
                                                                       "reset_password", data))
    approval = (await wait_until(lambda: approval_replies(bot, root), what="the approval card"))[0]
    for verb, reason in (("approve", None), ("reject", "not me")):
        answer = await decide(bot, APPROVER, root, approval, verb, reason)
        assert "This request is about your own account, so you cannot approve or reject it" in answer
        assert "Temporary password" not in answer
    await settled(bot)
    assert tenant(bot).mutations() == []
    assert PENDING_LINE in approval_text(bot, approval["id"])

    assert "Temporary password" in await decide(bot, ADMIN_RESPONDER, root, approval, "approve")  # another approver
    entries = await audit(clean_redis, case_id)
    assert phases(entries) == [("approval_requested", RESPONDER), ("refused", APPROVER), ("refused", APPROVER),
                               ("approved", ADMIN_RESPONDER), ("intent", RESPONDER), ("outcome", RESPONDER)]
    assert entries[1]["detail"] == "own account"


async def test_approved_action_that_fails_is_shown_and_can_be_asked_again(bot: RunningBot, clean_redis: str) -> None:
    case_id, root, approval = await request_rule_deletion(bot)
    tenant(bot).add_fault(method="DELETE", path_regex="messageRules", status=403, times=1)
    await decide(bot, APPROVER, root, approval, "approve")
    text = await wait_until(lambda: "Delete rule “.”: failed" in case_text(bot, root) and case_text(bot, root),
                            what="the failure on the case card")
    assert "Approved by Avery Approver." in text and "MailboxSettings.ReadWrite" in text
    shared = await wait_until(lambda: "Failed: " in approval_text(bot, approval["id"])
                              and approval_text(bot, approval["id"]), what="the failure on the approval card")
    assert "Approved by Avery Approver" in shared and "MailboxSettings.ReadWrite" in shared
    assert "Done:" not in shared
    assert RULE_ID in rules(bot)
    # Nothing was deleted, so the action may be asked for (and approved) again.
    button = next(b for b in execute_buttons(card_of(channel(bot).find_activity(root["id"])))
                  if b["verb"] == "delete_inbox_rule" and b["data"].get("item") == RULE_ID)
    assert "needs a second person's approval" in card_text(
        await click(bot, RESPONDER, root, root["id"], "delete_inbox_rule", button["data"]))
    second = (await wait_until(lambda: len(approval_replies(bot, root)) == 2 and approval_replies(bot, root),
                               what="a second approval card"))[1]
    await decide(bot, APPROVER, root, second, "approve")
    await wait_until(lambda: RULE_ID not in rules(bot), what="the rule to be deleted")
    # Graph deletes the rule before the bot writes the audit outcome; the case card is updated after both.
    await wait_until(lambda: "Delete rule “.”: done by" in case_text(bot, root), what="the outcome on the case card")
    assert [(e["phase"], e["result"]) for e in await audit(clean_redis, case_id)] == [
        ("approval_requested", "approval_requested"), ("approved", "approved"), ("intent", "pending"),
        ("outcome", "failed"), ("approval_requested", "approval_requested"), ("approved", "approved"),
        ("intent", "pending"), ("outcome", "ok")]


# -- reject ---------------------------------------------------------------------------------------------------


async def test_reject_needs_a_reason_then_closes_and_the_action_can_be_asked_again(
    bot: RunningBot, clean_redis: str
) -> None:
    case_id, root, approval = await request_rule_deletion(bot)

    for empty in (None, "", "   "):
        answer = await decide(bot, APPROVER, root, approval, "reject", reason=empty)
        assert "Type a reason in the box, then press Reject" in answer
    assert PENDING_LINE in approval_text(bot, approval["id"])
    assert "waiting for approval" in case_text(bot, root)

    answer = await decide(bot, APPROVER, root, approval, "reject", reason="rule is the user's own archive")
    assert "Rejected by Avery Approver at " in answer and "rule is the user's own archive" in answer
    # Both shared cards are updated just after the approver's answer.
    shared = await wait_until(lambda: "Rejected by" in approval_text(bot, approval["id"])
                              and approval_text(bot, approval["id"]), what="the rejection on the approval card")
    assert "Rejected by Avery Approver at " in shared and "rule is the user's own archive" in shared
    assert "Rita Responder at " in shared
    text = await wait_until(lambda: "rejected by" in case_text(bot, root) and case_text(bot, root),
                            what="the rejection on the case card")
    assert "Delete rule “.”: rejected by Rita Responder" in text
    assert "Rejected by Avery Approver: rule is the user's own archive" in text
    await settled(bot)
    assert rule_deletions(bot) == 0 and RULE_ID in rules(bot)

    # Approving after the rejection does nothing.
    assert "already decided" in await decide(bot, APPROVER, root, approval, "approve")

    # The Delete button is live again: a new request posts a new approval card.
    button = next(b for b in execute_buttons(card_of(channel(bot).find_activity(root["id"])))
                  if b["verb"] == "delete_inbox_rule" and b["data"].get("item") == RULE_ID)
    assert button.get("isEnabled", True)
    answer = card_text(await click(bot, RESPONDER, root, root["id"], "delete_inbox_rule", button["data"]))
    assert "needs a second person's approval" in answer
    replies = await wait_until(lambda: len(approval_replies(bot, root)) == 2 and approval_replies(bot, root),
                               what="a second approval card")
    assert "Approved by Avery" in await decide(bot, APPROVER, root, replies[1], "approve")
    await wait_until(lambda: RULE_ID not in rules(bot), what="the rule to be deleted")
    # Graph deletes the rule before the bot writes the audit outcome; the case card is updated after both.
    await wait_until(lambda: "Delete rule “.”: done by" in case_text(bot, root), what="the outcome on the case card")
    assert rule_deletions(bot) == 1

    entries = await audit(clean_redis, case_id)
    assert [e["phase"] for e in entries] == [
        "approval_requested", "rejected", "approval_requested", "approved", "intent", "outcome"]
    assert entries[1]["detail"] == "rule is the user's own archive"


# -- expire ---------------------------------------------------------------------------------------------------


async def test_request_expires_on_its_own_and_a_late_approve_does_nothing(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await make_bot(approval_timeout_minutes=0.02)  # 1.2 s; the sweeper runs every second
    case_id, root, approval = await request_rule_deletion(bot)

    await wait_until(lambda: "Expired: nobody approved in time" in approval_text(bot, approval["id"]), seconds=5,
                     what="the approval card to say expired")
    await wait_until(lambda: "approval expired" in case_text(bot, root), seconds=5,
                     what="the case card to say expired")
    assert "Nobody approved in time; nothing ran." in case_text(bot, root)
    assert not buttons(card_of(channel(bot).find_activity(approval["id"])))

    answer = await decide(bot, APPROVER, root, approval, "approve")
    assert "already decided" in answer or "expired" in answer
    await settled(bot)
    assert rule_deletions(bot) == 0 and RULE_ID in rules(bot)
    entries = await audit(clean_redis, case_id)
    assert [e["phase"] for e in entries] == ["approval_requested", "expired"]
    assert entries[1]["actor_name"] == "Riposte"

    # "Click the action again to ask anew": the button is live again.
    button = next(b for b in execute_buttons(card_of(channel(bot).find_activity(root["id"])))
                  if b["verb"] == "delete_inbox_rule" and b["data"].get("item") == RULE_ID)
    assert button.get("isEnabled", True)
    assert "needs a second person's approval" in card_text(
        await click(bot, RESPONDER, root, root["id"], "delete_inbox_rule", button["data"]))


async def test_click_after_the_deadline_expires_it_even_before_the_sweeper(bot: RunningBot, clean_redis: str) -> None:
    case_id, root, approval = await request_rule_deletion(bot)
    request_id = buttons(card_of(approval))["approve"]["data"]["item"]
    client = redis_async.Redis.from_url(clean_redis, decode_responses=True)
    try:  # the deadline passes; the sweeper's index still says 30 minutes, so only the click can notice
        stored = json.loads(str(await client.get(f"riposte:approval:{request_id}")))
        stored["expires_at"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="seconds")
        await client.set(f"riposte:approval:{request_id}", json.dumps(stored))
    finally:
        await client.aclose()

    answer = await decide(bot, APPROVER, root, approval, "approve")
    assert "This request has expired; nothing ran." in answer
    await wait_until(lambda: "Expired: nobody approved in time" in approval_text(bot, approval["id"]),
                     what="the expiry on the approval card")
    await wait_until(lambda: "approval expired" in case_text(bot, root), what="the expiry on the case card")
    await settled(bot)
    assert rule_deletions(bot) == 0
    assert [e["phase"] for e in await audit(clean_redis, case_id)] == ["approval_requested", "expired"]


# -- restart --------------------------------------------------------------------------------------------------


async def test_pending_approval_survives_an_app_restart(make_bot: BotFactory, clean_redis: str) -> None:
    first = await make_bot()
    case_id, root, approval = await request_rule_deletion(first)
    await first.server.runner.cleanup()

    # A new app instance on the same Redis, talking to the same sandbox channel and tenant.
    app: web.Application = create_app(first.sandbox.settings, credential=first.sandbox.credential)
    second = await start_server(app, "127.0.0.1", 0)
    channel(first).bot_base_url = second.url
    try:
        assert "Approved by Avery Approver" in await decide(first, APPROVER, root, approval, "approve")
        await wait_until(lambda: "Delete rule “.”: done by Rita Responder" in case_text(first, root),
                         what="the outcome after the restart")
        assert RULE_ID not in rules(first) and rule_deletions(first) == 1
        assert "Approved by Avery Approver" in approval_text(first, approval["id"])
    finally:
        await second.runner.cleanup()
    assert [e["phase"] for e in await audit(clean_redis, case_id)] == [
        "approval_requested", "approved", "intent", "outcome"]


async def test_a_click_before_the_bot_recorded_its_post_still_updates_everyones_card(make_bot: BotFactory) -> None:
    """Teams has the card (everyone sees it) a moment before the posting job records where it is: a click in that
    moment lists the rules, and the channel's card gets them once the post is recorded."""
    bot = await make_bot()
    channel(bot).add_fault("POST", r"^/v3/conversations$", status=0, hold=1.5)  # posted; the bot hears it late
    status, _ = await post_alert(bot, SAMPLE_ALERT)
    assert status == 202
    root = await wait_until(lambda: channel(bot).threads() and channel(bot).threads()[0]["root"],
                            what="the card in the channel")
    listing = buttons(card_of(root))["list_inbox_rules"]["data"]
    await click(bot, RESPONDER, root, root["id"], "list_inbox_rules", listing)

    def listed() -> bool:
        card = card_of(channel(bot).find_activity(root["id"]))
        return any(b["verb"] == "delete_inbox_rule" and b["data"].get("item") == RULE_ID for b in execute_buttons(card))

    await wait_until(listed, seconds=10, what="the listed rules on everyone's copy of the card")
