"""Nobody acts who shouldn't, and nothing runs twice: refusals, tampering, concurrency, fail-closed."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from app import main
from bot.endpoints import SERVICES
from sandbox.channel_activities import card_action_invoke
from tests.conftest import BotFactory, RunningBot
from tests.e2e.helpers import (
    ADMIN_RESPONDER,
    ALICE,
    NO_ROLE,
    RESPONDER,
    SAMPLE_ALERT,
    audit_entries,
    buttons,
    card_of,
    card_text,
    channel,
    posted_card,
    settled,
    tenant,
    wait_until,
)

APP_PY = Path(__file__).resolve().parents[2] / "app.py"
BOT_ENVIRONMENT = ("Microsoft", "GRAPH_", "RIPOSTE_", "REDIS_", "HOST")


def revokes(bot: RunningBot, user_id: str = ALICE) -> int:
    path = f"/users/{user_id}/revokeSignInSessions"
    return sum(1 for r in tenant(bot).requests if r.method == "POST" and r.path == path)


def graph_writes(bot: RunningBot) -> list[Any]:
    return tenant(bot).mutations()


async def click(bot: RunningBot, user: str, root: dict[str, Any], verb: str, data: dict[str, Any]) -> str:
    conversation_id = channel(bot).threads()[-1]["id"]
    status, answer = await channel(bot).send_invoke(user, conversation_id, root["id"], verb, data)
    assert status == 200, answer
    return card_text(answer["value"])


def raw_invoke(bot: RunningBot, user: str, root: dict[str, Any], verb: str, data: dict[str, Any]) -> dict[str, Any]:
    person = channel(bot).person(user)
    assert person is not None
    conversation_id = channel(bot).threads()[-1]["id"]
    action = {"type": "Action.Execute", "title": verb, "verb": verb, "data": data}
    return card_action_invoke(person, conversation_id, root["id"], channel(bot).service_url or "", action)


async def post_activity(session: aiohttp.ClientSession, bot: RunningBot, activity: dict[str, Any],
                        headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with session.post(f"{bot.url}/api/messages", json=activity, headers=headers or {}) as response:
        body = await response.json() if response.content_type == "application/json" else await response.text()
        return response.status, body


# -- who may act on whom ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clicker", "target_upn", "reason"),
    [
        (NO_ROLE, "alice@contoso.com", "needs the responder role; Nolan Norole does not hold it"),
        (RESPONDER, "grace.admin@contoso.com", "acting on an administrator needs the admin_responder role"),
        (RESPONDER, "rita.responder@contoso.com", "You cannot act on your own account"),
        (ADMIN_RESPONDER, "breakglass@contoso.onmicrosoft.com", "protected break-glass account"),
    ],
)
async def test_refusals_say_why_are_audited_and_write_nothing(
    bot: RunningBot, clean_redis: str, clicker: str, target_upn: str, reason: str
) -> None:
    case_id, root = await posted_card(bot, {**SAMPLE_ALERT, "id": f"refusal-{target_upn}", "user": target_upn})
    before = len(graph_writes(bot))
    data = buttons(card_of(root))["revoke_sessions"]["data"]
    assert reason in await click(bot, clicker, root, "revoke_sessions", data)
    await settled(bot)
    assert len(graph_writes(bot)) == before
    entries = await audit_entries(clean_redis, case_id)
    assert [(e["phase"], e["actor_id"]) for e in entries] == [("refused", clicker)]
    assert reason in entries[0]["detail"]


async def test_admin_target_is_flagged_on_the_card_before_any_click(bot: RunningBot) -> None:
    _, root = await posted_card(bot, {**SAMPLE_ALERT, "id": "admin-card", "user": "grace.admin@contoso.com"})
    assert "Global Administrator: acting needs the admin_responder role" in card_text(card_of(root))


async def test_break_glass_buttons_are_greyed_with_the_reason(bot: RunningBot) -> None:
    _, root = await posted_card(bot, {**SAMPLE_ALERT, "id": "bg", "user": "breakglass@contoso.onmicrosoft.com"})
    revoke = buttons(card_of(root))["revoke_sessions"]
    assert revoke["isEnabled"] is False and "break-glass" in revoke["tooltip"]


# -- tamper-proof buttons ---------------------------------------------------------------------------------


def _tampered(data: dict[str, str], other: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    return [
        ("changed case id", "revoke_sessions", {**data, "case": other["case"]}),
        ("changed action", "disable_account", data),
        ("signed with a wrong key", "revoke_sessions", {**data, "sig": "0" * 32}),
        ("nonce replayed from another card", "revoke_sessions", {**data, "nonce": other["nonce"]}),
        ("no signature", "revoke_sessions", {"case": data["case"], "nonce": data["nonce"]}),
    ]


async def test_tampered_button_data_is_refused_and_audited(bot: RunningBot, clean_redis: str) -> None:
    case_id, root = await posted_card(bot)
    _, other_root = await posted_card(bot, {**SAMPLE_ALERT, "id": "other-card"})
    data = buttons(card_of(root))["revoke_sessions"]["data"]
    other = buttons(card_of(other_root))["revoke_sessions"]["data"]
    for why, verb, forged in _tampered(data, other):
        text = await click(bot, RESPONDER, root, verb, forged)
        assert "Nothing ran" in text, why
    assert revokes(bot) == 0
    entries = await audit_entries(clean_redis, case_id) + await audit_entries(clean_redis, other["case"])
    refused = [e for e in entries if e["phase"] == "refused"]
    assert len(refused) == len(_tampered(data, other))


async def test_card_from_another_tenant_is_refused(bot: RunningBot, clean_redis: str) -> None:
    case_id, root = await posted_card(bot)
    invoke = raw_invoke(bot, RESPONDER, root, "revoke_sessions", buttons(card_of(root))["revoke_sessions"]["data"])
    invoke["channelData"]["tenant"]["id"] = invoke["conversation"]["tenantId"] = "72f988bf-0000-0000-0000-000000000000"
    async with aiohttp.ClientSession() as session:
        status, answer = await post_activity(session, bot, invoke)
    assert status == 200 and "another tenant" in card_text(answer["value"])
    assert revokes(bot) == 0
    assert [e["phase"] for e in await audit_entries(clean_redis, case_id)] == ["refused"]


# -- exactly once -----------------------------------------------------------------------------------------


async def test_fifty_concurrent_invokes_revoke_once(bot: RunningBot, clean_redis: str) -> None:
    case_id, root = await posted_card(bot)
    data = buttons(card_of(root))["revoke_sessions"]["data"]
    retried = raw_invoke(bot, RESPONDER, root, "revoke_sessions", data)  # one click, retried by Teams
    others = [raw_invoke(bot, user, root, "revoke_sessions", data) for user in (RESPONDER, ADMIN_RESPONDER)]
    activities = [retried] * 25 + [others[i % 2] for i in range(25)]
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(post_activity(session, bot, activity) for activity in activities))
    assert all(status == 200 for status, _ in answers)
    texts = [card_text(body["value"]) for _, body in answers]
    assert all("Revoke sessions" in text for text in texts)
    second_clicks = [t for t in texts if "this click changed nothing" in t or "was already done by" in t]
    assert len(second_clicks) == 49
    # The revoke runs in the background: wait for its outcome on the card, then for every action and job to end
    # (a wrongly started second run would have called Graph by then).
    await wait_until(lambda: "Revoke sessions: done by" in card_text(card_of(channel(bot).find_activity(root["id"]))),
                     what="the revoke's outcome on the card")
    await settled(bot)
    assert revokes(bot) == 1
    phases = [e["phase"] for e in await audit_entries(clean_redis, case_id)]
    assert phases.count("intent") == 1 and phases.count("outcome") == 1


async def test_two_app_instances_sharing_redis_revoke_once(make_bot: BotFactory, clean_redis: str) -> None:
    first = await make_bot()
    second = await make_bot(signing_key=SecretStr(""))  # same Redis, so the same generated signing key
    _, root = await posted_card(first)
    data = buttons(card_of(root))["revoke_sessions"]["data"]
    invoke = raw_invoke(first, RESPONDER, root, "revoke_sessions", data)
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(post_activity(session, first, invoke), post_activity(session, second, invoke))
    assert [status for status, _ in answers] == [200, 200]
    await wait_until(lambda: revokes(first) + revokes(second) >= 1, what="the revoke")
    await settled(first)
    await settled(second)
    assert revokes(first) + revokes(second) == 1


# -- inbound authentication ---------------------------------------------------------------------------------


async def test_unauthenticated_activity_is_refused_when_an_app_id_is_set(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await make_bot(microsoft_app_id="3c5a0b5e-0000-4000-8000-00000000b07", microsoft_app_password=SecretStr("x"))
    person = channel(bot).person(RESPONDER)
    assert person is not None
    data = {"case": "20261123-00000000", "nonce": "n", "sig": "s"}
    action = {"type": "Action.Execute", "title": "Revoke sessions", "verb": "revoke_sessions", "data": data}
    invoke = card_action_invoke(person, "19:x@thread.tacv2;messageid=1", "1", channel(bot).service_url or "", action)
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer not-a-jwt"}):
            status, _ = await post_activity(session, bot, invoke, headers)
            assert status == 401, headers
    assert graph_writes(bot) == []
    assert await audit_entries(clean_redis, "20261123-00000000") == []


@dataclasses.dataclass
class StartCase:
    env: dict[str, str]
    message: str


@pytest.mark.parametrize(
    "case",
    [
        StartCase({"MicrosoftAppId": "x"}, "MicrosoftAppPassword is not"),
        StartCase({"MicrosoftAppId": "x", "MicrosoftAppPassword": "y", "MicrosoftAppType": "SingleTenant"},
                  "needs MicrosoftAppTenantId"),
        StartCase({"MicrosoftAppId": "x", "MicrosoftAppPassword": "y"}, "Graph credentials are not"),
        StartCase({"GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_ID": "c", "GRAPH_CLIENT_SECRET": "s", "REDIS_URL": "redis://x"},
                  "RIPOSTE_ALLOW_UNAUTHENTICATED=true"),
        StartCase({"HOST": "0.0.0.0"}, "is not a loopback address"),
        StartCase({"GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_ID": "c"},
                  "Graph credentials are incomplete: GRAPH_CLIENT_SECRET or GRAPH_CLIENT_CERTIFICATE_PATH not set"),
        StartCase({"MicrosoftAppId": "x", "MicrosoftAppPassword": "y", "GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_ID": "c",
                   "GRAPH_CLIENT_SECRET": "s", "REDIS_URL": "redis://x", "RIPOSTE_ALLOW_UNAUTHENTICATED": "true"},
                  "RIPOSTE_ALLOW_UNAUTHENTICATED=true has no effect with MicrosoftAppId set"),
        StartCase({"GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_ID": "c", "GRAPH_CLIENT_SECRET": "s",
                   "RIPOSTE_ALLOW_UNAUTHENTICATED": "true", "HOST": "10.1.2.3", "REDIS_URL": "redis://x"},
                  "is not a loopback address"),
        StartCase({"GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_ID": "c", "GRAPH_CLIENT_SECRET": "s",
                   "RIPOSTE_ALLOW_UNAUTHENTICATED": "true", "GRAPH_ENDPOINT": "http://127.0.0.1:9"},
                  "REDIS_URL is not set"),
        StartCase({"GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_ID": "c", "GRAPH_CLIENT_SECRET": "s",
                   "RIPOSTE_ALLOW_UNAUTHENTICATED": "true", "REDIS_URL": "redis://x"}, "act as any user"),
        StartCase({"MicrosoftAppId": "x", "MicrosoftAppPassword": "y", "GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_ID": "c",
                   "GRAPH_CLIENT_SECRET": "s", "REDIS_URL": "redis://x", "RIPOSTE_AUTOMATION": "true"},
                  "RIPOSTE_AUTOMATION=true needs RIPOSTE_ALERT_TOKEN"),
    ],
)
def test_unsafe_settings_refuse_to_start_with_a_message(
    case: StartCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python app.py`'s main() in this process, with only the case's environment (and no .env file)."""
    for name in list(os.environ):
        if name.startswith(BOT_ENVIRONMENT):
            monkeypatch.delenv(name)
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    assert main([]) == 2
    stderr = capsys.readouterr().err
    assert "Riposte will not start" in stderr and case.message in stderr


async def test_python_app_py_exits_with_the_refusal(tmp_path: Path) -> None:
    """The entry point itself, once, in a process of its own: the exit status and the message on stderr."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(BOT_ENVIRONMENT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(APP_PY), env={**env, "MicrosoftAppId": "x"}, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert "Riposte will not start: MicrosoftAppId is set but MicrosoftAppPassword is not" in stderr.decode()



async def test_last_enabled_global_admin_is_never_acted_on(bot: RunningBot, clean_redis: str) -> None:
    breakglass = next(u for u in tenant(bot).users.values() if u["userPrincipalName"].startswith("breakglass"))
    breakglass["accountEnabled"] = False  # Grace is now the only enabled Global Administrator
    case_id, root = await posted_card(bot, {**SAMPLE_ALERT, "id": "last-ga", "user": "grace.admin@contoso.com"})
    before = len(graph_writes(bot))
    data = buttons(card_of(root))["disable_account"]["data"]
    text = await click(bot, ADMIN_RESPONDER, root, "disable_account", data)
    assert "last enabled Global Administrator" in text
    assert len(graph_writes(bot)) == before
    assert [e["phase"] for e in await audit_entries(clean_redis, case_id)] == ["refused"]


async def test_a_safety_check_graph_refuses_answers_a_card_that_says_so_and_nothing_runs(bot: RunningBot) -> None:
    # The last-Global-Admin check reads the role's members; without the permission Graph answers 403.
    _, root = await posted_card(bot, {**SAMPLE_ALERT, "id": "ga-check-403", "user": "grace.admin@contoso.com"})
    tenant(bot).add_fault(status=403, method="GET", path_regex="^/directoryRoles", times=None)
    before = len(graph_writes(bot))
    data = buttons(card_of(root))["disable_account"]["data"]

    text = await click(bot, ADMIN_RESPONDER, root, "disable_account", data)

    assert "Not done: Graph refused to" in text and "RoleManagement.Read.Directory" in text, text
    assert len(graph_writes(bot)) == before


async def test_a_slow_role_check_answers_in_time_and_the_next_click_works(make_bot: BotFactory) -> None:
    bot = await make_bot(answer_budget_seconds=1.0)  # Teams' ~5 s, shortened
    _, root = await posted_card(bot)
    # Graph answers the look-up only when the test releases it.
    tenant(bot).add_fault(status=0, until_released=True, method="POST",
                          path_regex=f"^/users/{RESPONDER}/checkMemberGroups$")
    data = buttons(card_of(root))["revoke_sessions"]["data"]

    try:
        text = await asyncio.wait_for(click(bot, RESPONDER, root, "revoke_sessions", data), 2.0)
    except TimeoutError:
        raise AssertionError("the answer waited for Graph") from None

    assert "Graph is slow to confirm your Riposte role, so nothing ran" in text
    assert not tenant(bot).mutations()
    # The look-up goes on after the answer and remembers the role: the next click needs no Graph call.
    tenant(bot).faults.release()
    redis = bot.app[SERVICES].redis
    await wait_until(lambda: redis.exists(f"riposte:roles:{RESPONDER}"), what="the remembered role")
    assert "Revoke sessions" in await click(bot, RESPONDER, root, "revoke_sessions", data)
    await wait_until(lambda: tenant(bot).mutations(), what="the revoke")


async def test_admin_responder_may_act_on_a_global_admin_who_is_not_the_last(bot: RunningBot) -> None:
    _, root = await posted_card(bot, {**SAMPLE_ALERT, "id": "not-last-ga", "user": "grace.admin@contoso.com"})
    data = buttons(card_of(root))["revoke_sessions"]["data"]
    text = await click(bot, ADMIN_RESPONDER, root, "revoke_sessions", data)
    assert "last enabled Global Administrator" not in text and "Not done" not in text


async def test_old_clients_cannot_reveal_a_password_to_the_whole_channel(bot: RunningBot) -> None:
    """Action.Submit answers with a message everyone sees: reset_password and approvals refuse to run that way."""
    _, root = await posted_card(bot)
    data = buttons(card_of(root))["reset_password"]["data"]
    conversation_id = channel(bot).threads()[-1]["id"]
    submit = {**data, "verb": "reset_password"}
    status, _ = await channel(bot).send_submit(RESPONDER, conversation_id, root["id"], submit)
    assert status in (200, 201)
    await wait_until(lambda: channel(bot).threads()[-1]["replies"], what="the bot's reply")
    replies = channel(bot).threads()[-1]["replies"]
    assert "needs a Teams client that supports Universal Actions" in str(replies[-1].get("text"))
    await settled(bot)
    assert not [r for r in tenant(bot).requests if r.method == "PATCH"]
