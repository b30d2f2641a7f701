"""POST /api/alerts: validation answers that name the bad fields, duplicates, auth, and nothing stored on error."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis_async
from pydantic import SecretStr

from tests.conftest import BotFactory, RunningBot
from tests.e2e.helpers import (
    SAMPLE_ALERT,
    USERS,
    audit_entries,
    card_of,
    card_text,
    case_thread_root,
    channel,
    execute_buttons,
    jobs_done,
    post_alert,
    wait_until,
)


async def stored_keys(redis_url: str) -> list[str]:
    client = redis_async.Redis.from_url(redis_url, decode_responses=True)
    try:
        # Deployment state (the signing and audit keys, the audit's start-up entry) is there before any alert.
        return sorted([key async for key in client.scan_iter("riposte:*")])
    finally:
        await client.aclose()


def without(field: str) -> dict[str, Any]:
    return {key: value for key, value in SAMPLE_ALERT.items() if key != field}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (without("user"), "user", "is required"),
        ({**SAMPLE_ALERT, "severity": "urgent"}, "severity", "must be one of informational, low, medium, high"),
        ({**SAMPLE_ALERT, "user": "not an address"}, "user", "must be a UPN"),
        ({**SAMPLE_ALERT, "evidence": [{"kind": "laptop", "id": "x"}]}, "evidence[0].kind", "must be one of"),
        ([1, 2, 3], "body", "must be a JSON object"),
    ],
)
async def test_bad_alert_is_refused_naming_the_field(
    bot: RunningBot, clean_redis: str, body: Any, field: str, message: str
) -> None:
    before = await stored_keys(clean_redis)
    status, answer = await post_alert(bot, body)
    assert status == 400
    assert message in answer["fields"][field]
    assert field in answer["error"] or answer["error"].startswith("invalid alert")
    assert await stored_keys(clean_redis) == before
    assert channel(bot).threads() == []


async def test_body_that_is_not_json_is_refused(bot: RunningBot, clean_redis: str) -> None:
    before = await stored_keys(clean_redis)
    status, answer = await post_alert(bot, None, raw=b"{not json")
    assert status == 400 and "not valid JSON" in answer["error"]
    assert await stored_keys(clean_redis) == before


async def test_one_megabyte_body_is_refused_as_too_large(bot: RunningBot, clean_redis: str) -> None:
    before = await stored_keys(clean_redis)
    huge = {**SAMPLE_ALERT, "description": "x" * (1024 * 1024)}
    status, answer = await post_alert(bot, huge)
    assert status == 413 and "256 KB" in answer["error"]
    assert await stored_keys(clean_redis) == before
    assert channel(bot).threads() == []


async def test_same_source_alert_twice_is_a_duplicate_of_the_first_case(bot: RunningBot) -> None:
    first_status, first = await post_alert(bot, SAMPLE_ALERT)
    second_status, second = await post_alert(bot, SAMPLE_ALERT)
    assert (first_status, first["status"]) == (202, "accepted")
    assert (second_status, second) == (202, {"case_id": first["case_id"], "status": "duplicate"})
    await case_thread_root(bot, first["case_id"])
    await jobs_done(bot)
    assert len(channel(bot).threads()) == 1


async def test_graph_security_alert_is_accepted(bot: RunningBot) -> None:
    graph_alert = {
        "@odata.type": "#microsoft.graph.security.alert", "id": "da637551227677560813_-961444813",
        "title": "Suspicious inbox forwarding rule", "severity": "high",
        "detectionSource": "microsoftDefenderForOffice365",
        "createdDateTime": "2026-11-21T10:15:00Z", "category": "InitialAccess",
        "evidence": [
            {"@odata.type": "#microsoft.graph.security.userEvidence",
             "userAccount": {"userPrincipalName": "alice@contoso.com"}},
            {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "203.0.113.7"},
        ],
    }
    status, answer = await post_alert(bot, graph_alert)
    assert (status, answer["status"]) == (202, "accepted")


async def test_unknown_user_gets_a_card_whose_buttons_say_why_they_are_off(bot: RunningBot) -> None:
    status, answer = await post_alert(bot, {**SAMPLE_ALERT, "id": "ghost", "user": "ghost@contoso.com"})
    assert status == 202
    card = card_of(await case_thread_root(bot, answer["case_id"]))
    revoke = next(action for action in execute_buttons(card["actions"]) if action["verb"] == "revoke_sessions")
    assert [action["title"] for action in card["actions"]] == ["More actions"], "greyed ones are never shown first"
    assert revoke["isEnabled"] is False and "no such user in this tenant" in revoke["tooltip"]


async def test_health_answers_ok_when_redis_answers(bot: RunningBot) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/healthz") as response:
        body = await response.json()
        assert response.status == 200 and body["redis"] == "ok"
    # The test Redis runs without AOF: /healthz says what the audit trail would lose.
    assert body["persistence"]["aof_enabled"] is False and "AOF is off" in body["persistence"]["warning"]
    assert body["persistence"]["rdb_last_bgsave_status"] == "ok"


async def test_alert_token_is_required_when_set(make_bot: BotFactory) -> None:
    bot = await make_bot(alert_token=SecretStr("s3cret-token"))
    url = f"{bot.url}/api/alerts"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=SAMPLE_ALERT) as response:
            assert response.status == 401 and "bearer token" in (await response.json())["error"]
        async with session.post(url, json=SAMPLE_ALERT, headers={"Authorization": "Bearer wrong"}) as response:
            assert response.status == 401
        async with session.post(url, json=SAMPLE_ALERT, headers={"Authorization": "Bearer s3cret-token"}) as response:
            assert response.status == 202


async def test_a_further_alert_about_the_same_user_joins_the_open_case_when_grouping_is_on(
    make_bot: BotFactory,
) -> None:
    bot = await make_bot(group_alerts_minutes=60)
    first_status, first = await post_alert(bot, SAMPLE_ALERT)
    second_status, second = await post_alert(bot, {**SAMPLE_ALERT, "id": "another", "title": "Impossible travel"})
    assert (first_status, first["status"], second_status) == (202, "accepted", 202)
    assert second == {"case_id": first["case_id"], "status": "grouped"}
    await case_thread_root(bot, first["case_id"])

    def card_shows_the_grouped_alert() -> bool:
        [thread] = channel(bot).threads()
        text = card_text(card_of(thread["root"]))
        return "1 more alert(s) about this user joined this case" in text and "HIGH · Impossible travel" in text

    await wait_until(card_shows_the_grouped_alert, what="the card listing the grouped alert")
    _, again = await post_alert(bot, {**SAMPLE_ALERT, "id": "another"})
    assert again == {"case_id": first["case_id"], "status": "duplicate"}
    _, other = await post_alert(bot, {**SAMPLE_ALERT, "id": "sam", "user": "sam.synced@contoso.com"})
    assert other["status"] == "accepted"
    await case_thread_root(bot, other["case_id"])
    await jobs_done(bot)
    assert len(channel(bot).threads()) == 2
    assert not channel(bot).threads()[0]["replies"]  # a grouped alert updates the card; it posts nothing


async def test_alerts_naming_one_person_by_upn_object_id_or_mail_join_one_case(make_bot: BotFactory) -> None:
    """Senders name a user differently (Defender's UPN, a Graph alert's object id, a mail address): once the first
    alert's user is resolved, the others join its case rather than opening a second thread."""
    bot = await make_bot(group_alerts_minutes=60)
    _, first = await post_alert(bot, {**SAMPLE_ALERT, "id": "by-upn", "user": "Alice@Contoso.com"})
    await case_thread_root(bot, first["case_id"])  # posted: the user was resolved
    alice = USERS["alice"]
    _, by_id = await post_alert(bot, {**SAMPLE_ALERT, "id": "by-id", "user": alice["id"]})
    assert by_id == {"case_id": first["case_id"], "status": "grouped"}
    _, by_upn = await post_alert(bot, {**SAMPLE_ALERT, "id": "by-upn-again", "user": alice["userPrincipalName"]})
    assert by_upn == {"case_id": first["case_id"], "status": "grouped"}
    _, bob = await post_alert(bot, {**SAMPLE_ALERT, "id": "bob", "user": "bob@contoso.com"})
    assert bob["status"] == "accepted"
    await jobs_done(bot)
    assert len(channel(bot).threads()) == 2


async def test_the_audit_entry_of_an_alert_carries_the_requests_correlation_id(bot: RunningBot,
                                                                                clean_redis: str) -> None:
    async with aiohttp.ClientSession() as session, session.post(
        f"{bot.url}/api/alerts", json=SAMPLE_ALERT, headers={"X-Correlation-Id": "soc-ticket-4711"}
    ) as response:
        assert response.status == 202
        case_id = (await response.json())["case_id"]
    [received] = [e for e in await audit_entries(clean_redis, case_id, events=True)
                  if e["action"] == "alert_received"]
    assert received["correlation_id"] == "soc-ticket-4711"  # the id in the logs, on error cards and here
