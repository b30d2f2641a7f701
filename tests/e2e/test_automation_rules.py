"""Automation by rules, with a switch in chat shared by every replica, an hourly cap that pauses it, and dry run:
real Redis, the sandbox tenant and channel over HTTP."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis_async
from pydantic import SecretStr

from bot.automation import chat as automation_chat
from bot.automation.run import maybe_automate
from bot.automation.switch import current
from bot.clicks.answered import Turn
from bot.endpoints import SERVICES
from tests.conftest import BotFactory, RunningBot
from tests.e2e.helpers import (
    ADMIN_RESPONDER,
    ALICE,
    NO_ROLE,
    RESPONDER,
    SAMPLE_ALERT,
    audit_entries,
    card_of,
    card_text,
    case_thread_root,
    channel,
    jobs_done,
    post_alert,
    tenant,
    wait_until,
)

TRAVEL_RULES = '''
[[automation.rules]]
name = "impossible travel"
title = "impossible travel|atypical travel"
min_severity = "medium"
actions = ["revoke_sessions", "block_signin"]
'''
# The README's example: Graph alerts carry no confidence, so their rule names the source and sets none.
GRAPH_RULES = '''
[[automation.rules]]
name = "identity protection"
source = "graph"
detection_source = "azureAdIdentityProtection"
category = ["InitialAccess", "CredentialAccess"]
min_severity = "high"
actions = ["revoke_sessions"]
'''
ANY_ALERT_RULES = '''
[[automation.rules]]
name = "anything"
min_severity = "low"
actions = ["revoke_sessions"]
'''
TRAVEL = {**SAMPLE_ALERT, "id": "travel-1", "title": "Impossible travel: Oslo then Lagos", "severity": "medium",
          "confidence": "", "evidence": [{"kind": "ip", "id": "203.0.113.7"}]}
GRAPH_ALERT: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.security.alert", "id": "da637578995287051192_756343937",
    "title": "Atypical travel", "severity": "high", "category": "InitialAccess",
    "detectionSource": "azureAdIdentityProtection", "createdDateTime": "2026-11-21T10:15:00Z",
    "evidence": [{"@odata.type": "#microsoft.graph.security.userEvidence",
                  "userAccount": {"azureAdUserId": ALICE, "userPrincipalName": "alice@contoso.com"}}],
}
CONFIDENT = {**SAMPLE_ALERT, "confidence": "high", "severity": "critical"}
ANNOUNCED_PAUSE = "Automation paused itself"


def policy(tmp_path: Path, text: str) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def revokes(*bots: RunningBot) -> int:
    return sum(1 for bot in bots for r in tenant(bot).requests if r.path.endswith("/revokeSignInSessions"))


def block_policies_made(bot: RunningBot) -> int:
    return sum(1 for r in tenant(bot).requests
               if r.method == "POST" and r.path.endswith("/identity/conditionalAccess/policies"))


def case_card(bot: RunningBot, case_id: str) -> str:
    for thread in channel(bot).threads():
        root = thread["root"]
        if root.get("attachments") and case_id in card_text(card_of(root)):
            return card_text(card_of(root))
    return ""


def did_not_act(bot: RunningBot, case_id: str) -> bool:
    return "did not act" in case_card(bot, case_id)


def announcements(bot: RunningBot, needle: str) -> list[str]:
    """Threads the bot started in the alert channel that are not case cards, whose text holds `needle`."""
    found = []
    for thread in channel(bot).threads():
        root = thread["root"]
        if root.get("attachments"):
            text = card_text(card_of(root))
            if needle in text and "Case " not in text:
                found.append(text)
    return found


async def say(bot: RunningBot, user: str, text: str) -> str:
    """Type `@Riposte <text>` as a new channel thread; return the bot's answer in that thread."""
    before = {thread["id"] for thread in channel(bot).threads()}
    status, _ = await channel(bot).send_message(user, f"@Riposte {text}", None)
    assert status in (200, 201)

    def answer() -> str | None:
        for thread in channel(bot).threads():
            if thread["id"] not in before and not thread["root"].get("attachments") and thread["replies"]:
                reply = thread["replies"][-1]
                return card_text(card_of(reply)) if reply.get("attachments") else str(reply.get("text", ""))
        return None

    said: str = await wait_until(answer, what=f"the answer to {text!r}")
    return said


async def _all_entries(redis_url: str) -> list[dict[str, str]]:
    """Every audit entry, whatever its case (switching automation belongs to none)."""
    client = redis_async.Redis.from_url(redis_url, decode_responses=True)
    try:
        raw = await client.xrange("riposte:audit") or []
    finally:
        await client.aclose()
    return [{str(key): str(value) for key, value in (fields or {}).items()} for _, fields in raw]


async def test_a_matching_native_alert_is_contained_by_its_rule_in_order_and_the_card_names_it(
    make_bot: BotFactory, clean_redis: str, tmp_path: Path
) -> None:
    bot = await make_bot(automation_enabled=True, policy_file=policy(tmp_path, TRAVEL_RULES))
    status, body = await post_alert(bot, TRAVEL)
    assert status == 202
    case_id = body["case_id"]
    await wait_until(lambda: "Contained automatically by rule 'impossible travel': revoke sessions, then block "
                             "sign-in" in case_card(bot, case_id), what="the card to name the rule")
    assert revokes(bot) == 1 and block_policies_made(bot) == 1
    paths = [r.path for r in tenant(bot).requests if r.method == "POST"]
    revoke_at = next(i for i, p in enumerate(paths) if p.endswith("/revokeSignInSessions"))
    block_at = next(i for i, p in enumerate(paths) if p.endswith("/conditionalAccess/policies"))
    assert revoke_at < block_at, "the rule's actions run in its order"
    await wait_until(lambda: "Block sign-in: done by Riposte automation" in case_card(bot, case_id),
                     what="the block's outcome on the card")
    entries = await audit_entries(clean_redis, case_id, events=True)
    run = [e for e in entries if e["action"] == "automation_run"]
    assert len(run) == 1 and run[0]["rule"] == "impossible travel"
    assert run[0]["state_after"] == "revoke_sessions,block_signin"
    assert {e["actor_name"] for e in entries if e["phase"] in ("intent", "outcome")} == {"Riposte automation"}


async def test_a_graph_alert_qualifies_by_a_rule_without_confidence(
    make_bot: BotFactory, clean_redis: str, tmp_path: Path
) -> None:
    bot = await make_bot(automation_enabled=True, policy_file=policy(tmp_path, GRAPH_RULES))
    status, body = await post_alert(bot, GRAPH_ALERT)
    assert status == 202
    await wait_until(lambda: "Contained automatically by rule 'identity protection'" in case_card(
        bot, body["case_id"]), what="the Graph alert's card to name the rule")
    assert revokes(bot) == 1
    # The same alert as a native one (no `source: graph`) does not match that rule.
    status, native = await post_alert(bot, {**CONFIDENT, "id": "native-ip", "source": "azureAdIdentityProtection"})
    await case_thread_root(bot, native["case_id"])
    await jobs_done(bot)
    assert revokes(bot) == 1 and "automatically" not in case_card(bot, native["case_id"])


async def test_automation_off_typed_to_one_replica_stops_another_at_once(
    make_bot: BotFactory, clean_redis: str
) -> None:
    first = await make_bot(automation_enabled=True)
    second = await make_bot(automation_enabled=True)
    status, body = await post_alert(second, CONFIDENT)
    assert status == 202
    await wait_until(lambda: revokes(first, second) == 1, what="automation, on by default, to act")

    answer = await say(first, RESPONDER, "automation off")
    assert "Automation is now off" in answer
    assert (await current(second.app[SERVICES])).mode.value == "off", "the other replica reads the same switch"
    status, body = await post_alert(second, {**CONFIDENT, "id": "after-off", "user": "mallory@contoso.com"})
    assert status == 202
    await wait_until(lambda: case_card(first, body["case_id"]) or case_card(second, body["case_id"]),
                     what="the second case's card")
    await jobs_done(first)
    await jobs_done(second)
    assert revokes(first, second) == 1, "nothing automated after `automation off`"
    assert await maybe_automate(second.app[SERVICES], body["case_id"]) == [], "the second replica obeys"
    assert not [e for e in await audit_entries(clean_redis, body["case_id"]) if e["phase"] != "event"]
    switched = [e for e in await _all_entries(clean_redis) if e["action"] == "automation_switched"]
    assert [(e["actor_id"], e["state_before"], e["state_after"]) for e in switched] == [(RESPONDER, "on", "off")]
    await wait_until(lambda: announcements(first, "Automation is now off"), what="the announcement")
    assert len(announcements(first, "Automation is now off")) == 1


async def test_the_cap_pauses_automation_once_and_later_cases_wait_for_a_person(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await make_bot(automation_enabled=True, automation_max_per_hour=1)
    ids = []
    for alert_id, user in (("cap-1", "alice@contoso.com"), ("cap-2", "sam.synced@contoso.com"),
                           ("cap-3", "mallory@contoso.com")):
        status, body = await post_alert(bot, {**CONFIDENT, "id": alert_id, "user": user})
        assert status == 202
        ids.append(body["case_id"])
        await case_thread_root(bot, body["case_id"])
        await jobs_done(bot)
    assert revokes(bot) == 1, "one action within the cap, none beyond it"
    assert "Contained automatically by rule 'default'" in case_card(bot, ids[0])
    await wait_until(lambda: "Waiting for a person" in case_card(bot, ids[1]), what="the held case's note")
    assert "cap of 1 automated actions per hour" in case_card(bot, ids[1])
    assert "automatically" not in case_card(bot, ids[2]) and "Waiting" not in case_card(bot, ids[2]), \
        "automation is off now: the third case is an ordinary one"
    state = await current(bot.app[SERVICES])
    assert state.mode.value == "off" and state.by == "Riposte (cap reached)"
    paused = announcements(bot, ANNOUNCED_PAUSE)
    assert len(paused) == 1 and "automation on" in paused[0] and "admin_responder" in paused[0]
    switched = [e for e in await _all_entries(clean_redis) if e["action"] == "automation_switched"]
    assert [(e["actor_name"], e["state_after"]) for e in switched] == [("Riposte (cap reached)", "off")]
    status_text = await say(bot, RESPONDER, "automation status")
    # Names in chat answers are markdown-escaped (they may be anyone's display name): Teams shows "(cap reached)".
    assert "Automation is off" in status_text and "switched by Riposte \\(cap reached\\)" in status_text
    assert "1 actions run automatically" in status_text and "1 cases left waiting" in status_text
    back_on = await say(bot, ADMIN_RESPONDER, "automation on")
    assert "Automation is now on" in back_on and "the next action would pause automation again" in back_on


async def test_dry_run_changes_nothing_and_says_what_it_would_have_done(
    make_bot: BotFactory, clean_redis: str, tmp_path: Path
) -> None:
    bot = await make_bot(automation_dry_run=True, policy_file=policy(tmp_path, TRAVEL_RULES))
    status, body = await post_alert(bot, TRAVEL)
    assert status == 202
    await wait_until(lambda: "Dry run: would revoke sessions, then block sign-in — rule 'impossible travel'. "
                             "Nothing was changed." in case_card(bot, body["case_id"]), what="the dry run's note")
    await jobs_done(bot)
    assert tenant(bot).mutations() == [], "no Graph writes at all"
    entries = await audit_entries(clean_redis, body["case_id"], events=True)
    assert [e["rule"] for e in entries if e["action"] == "automation_dry_run"] == ["impossible travel"]
    assert not [e for e in entries if e["phase"] != "event"], "no intent, no outcome, no refusal"
    # A responder cannot turn it on for real here, an admin responder neither: the setting forbids acting.
    assert "only ever dry-runs" in await say(bot, ADMIN_RESPONDER, "automation on")


async def test_dry_run_switched_in_chat_works_while_automation_is_off(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await make_bot()
    assert "needs the admin_responder role" in await say(bot, RESPONDER, "automation dry-run")
    assert "Automation is now in dry run" in await say(bot, ADMIN_RESPONDER, "automation dry-run")
    status, body = await post_alert(bot, CONFIDENT)
    assert status == 202
    await wait_until(lambda: "Dry run: would revoke sessions — rule 'default'" in case_card(bot, body["case_id"]),
                     what="the dry run's note")
    await jobs_done(bot)
    assert tenant(bot).mutations() == []
    assert "Automation is now off" in await say(bot, RESPONDER, "automation off"), "off ends a dry run too"


async def test_administrators_and_protected_accounts_are_never_automated(
    make_bot: BotFactory, clean_redis: str, tmp_path: Path
) -> None:
    bot = await make_bot(automation_enabled=True, policy_file=policy(tmp_path, ANY_ALERT_RULES))
    cases = []
    for alert_id, user in (("admin", "grace.admin@contoso.com"), ("glass", "breakglass@contoso.onmicrosoft.com")):
        status, body = await post_alert(bot, {**SAMPLE_ALERT, "id": alert_id, "user": user})
        assert status == 202
        cases.append(body["case_id"])
        await case_thread_root(bot, body["case_id"])
    await jobs_done(bot)
    assert revokes(bot) == 0 and tenant(bot).mutations() == []
    for case_id, why in zip(cases, ("admin_responder", "protected"), strict=True):
        await wait_until(partial(did_not_act, bot, case_id), what="the card to say automation did not act")
        assert "Not automated: Revoke sessions" in case_card(bot, case_id)
        refused = [e for e in await audit_entries(clean_redis, case_id) if e["phase"] == "refused"]
        assert refused and why in refused[0]["detail"].lower(), refused


async def test_who_may_switch_is_enforced_and_audited_and_announced_once(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await make_bot()
    assert "needs the admin_responder role" in await say(bot, RESPONDER, "automation on")
    assert "holds no Riposte role" in await say(bot, NO_ROLE, "automation off")
    assert "Automation is now on" in await say(bot, ADMIN_RESPONDER, "automation on")
    assert "already on" in await say(bot, ADMIN_RESPONDER, "automation on")
    assert "Automation is now off" in await say(bot, RESPONDER, "automation off")
    assert "already off" in await say(bot, RESPONDER, "automation off")
    await wait_until(lambda: announcements(bot, "Automation is now on") and announcements(
        bot, "Automation is now off"), what="both announcements in the alert channel")
    await jobs_done(bot)
    assert len(announcements(bot, "Automation is now on")) == 1
    assert len(announcements(bot, "Automation is now off")) == 1
    assert "Switched by Ada Admin-Responder (`automation on`)" in announcements(bot, "Automation is now on")[0]
    entries = await _all_entries(clean_redis)
    refused = [(e["actor_id"], e["state_after"]) for e in entries if e["action"] == "automation_switch_refused"]
    assert refused == [(RESPONDER, "on"), (NO_ROLE, "off")]
    switched = [(e["actor_id"], e["state_after"]) for e in entries if e["action"] == "automation_switched"]
    assert switched == [(ADMIN_RESPONDER, "on"), (RESPONDER, "off")]


async def test_automation_on_is_refused_without_the_alert_token_outside_local_mode(bot: RunningBot,
                                                                                   clean_redis: str) -> None:
    services = bot.app[SERVICES]
    # As a deployment with real credentials would be (outside local mode), with and without RIPOSTE_ALERT_TOKEN.
    real = services.settings.model_copy(update={"graph_client_id": "c", "graph_client_secret": SecretStr("s")})
    assert not real.local_mode and real.automation_token_problem()
    without = dataclasses.replace(services, settings=real)
    turn = Turn(services.inflight)
    turn.answer_sent()  # as after the chat's answer: the announcement goes out at once
    answer = await automation_chat.handle(without, "automation", ADMIN_RESPONDER, "Ada Admin-Responder", turn)
    assert "stays as it is" in answer and "RIPOSTE_ALERT_TOKEN" in answer
    assert (await current(services)).mode.value == "off"
    refused = [e for e in await _all_entries(clean_redis) if e["action"] == "automation_switch_refused"]
    assert len(refused) == 1 and "RIPOSTE_ALERT_TOKEN" in refused[0]["detail"]
    with_token = dataclasses.replace(services, settings=real.model_copy(update={"alert_token": SecretStr("t")}))
    assert "Automation is now on" in await automation_chat.handle(with_token, "automation", ADMIN_RESPONDER,
                                                                  "Ada Admin-Responder", turn)


@pytest.mark.parametrize("typed", ["automation", "automation of"])
async def test_a_partial_automation_command_names_the_choices(bot: RunningBot, typed: str) -> None:
    answer = await say(bot, RESPONDER, typed)
    assert "`automation status`, `automation off`, `automation on`, `automation dry-run`" in answer


async def test_automation_off_stops_a_rule_between_its_actions(
    make_bot: BotFactory, clean_redis: str, tmp_path: Path
) -> None:
    bot = await make_bot(automation_enabled=True, policy_file=policy(tmp_path, TRAVEL_RULES))
    # The revoke waits for the test to release it.
    tenant(bot).add_fault("POST", r"/revokeSignInSessions$", status=0, until_released=True)
    status, body = await post_alert(bot, TRAVEL)
    assert status == 202
    await wait_until(lambda: "Contained automatically by rule 'impossible travel'" in case_card(
        bot, body["case_id"]), what="the rule to start")
    assert "Automation is now off" in await say(bot, RESPONDER, "automation off")
    await wait_until(lambda: revokes(bot), what="the revoke, on its way to Graph")
    tenant(bot).faults.release()
    await wait_until(lambda: "switched off while the rule ran" in case_card(bot, body["case_id"]),
                     what="the card to say the rule stopped")
    await jobs_done(bot)
    assert revokes(bot) == 1 and block_policies_made(bot) == 0, "the second action never ran"


async def test_a_failed_automated_action_is_not_called_containment(make_bot: BotFactory, clean_redis: str) -> None:
    bot = await make_bot(automation_enabled=True)
    tenant(bot).add_fault("POST", r"/revokeSignInSessions$", status=403, times=None)
    status, body = await post_alert(bot, CONFIDENT)
    assert status == 202
    await wait_until(lambda: "did not contain the user" in case_card(bot, body["case_id"]),
                     what="the card to say the rule's action failed")
    assert "Failed (see below): Revoke sessions" in case_card(bot, body["case_id"])
    assert "Contained automatically" not in case_card(bot, body["case_id"])
