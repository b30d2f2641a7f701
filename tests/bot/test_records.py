"""The records in Redis are Pydantic models now: what the hand-written JSON of the code before them stored (the
strings below are byte for byte what it wrote) still loads through the stores, against a real redis-server, and
what they write has the same shape, so a replica still running the code before reads it too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from actions.spec import Item, TargetUser
from bot.intake.alerts import Alert, Evidence
from bot.intake.script import keep_alert
from bot.pipeline.queues import build_queues
from bot.state.approvals import ApprovalStore
from bot.state.cases import ActionRecord, CaseStore
from bot.state.states import ApprovalState, RunState, WatchState
from bot.state.store import connect_redis
from bot.watch.snapshot import Change
from bot.watch.store import WatchStore

ALERT_JSON = (
    '{"id": "a-1", "source": "defender", "title": "Suspicious inbox rule \\u201cx\\u201d", "severity": "high", '
    '"user": "alice@contoso.com", "detected_at": "2026-11-20T10:00:00Z", "description": "d", "category": "c", '
    '"confidence": "high", "evidence": [{"kind": "inbox_rule", "id": "AQAAAJ5dZqA=", "name": "Forward all"}, '
    '{"kind": "ip", "id": "203.0.113.7", "name": ""}], "recommended_actions": "r", "requested_by": "", '
    '"origin": "graph"}'
)
CASE_JSON = (
    '{"id": "c-1", "alert": ' + ALERT_JSON + ', "nonce": "n0nce", "created_at": "2026-11-20T10:00:01+00:00", '
    '"target": {"id": "00000000-0000-0000-0000-0000000000a1", "upn": "alice@contoso.com", "display_name": '
    '"Alice Target", "account_enabled": true, "user_type": "Member", "on_premises_sync": false, "mail": '
    '"alice@contoso.com", "admin_roles": ["Global Administrator"], "has_mailbox": true, "roles_unreadable": ""}, '
    '"target_problem": "", "offered": ["revoke_sessions", "disable_account"], "conversation": {"conversation": '
    '{"id": "19:x@thread.tacv2"}}, "activity_id": "1700000000000", "kind": "alert", "closed": "", "automation": ""}'
)
# A typed command's case whose user was not found, not posted yet.
COMMAND_CASE_JSON = (
    '{"id": "c-2", "alert": {"id": "cmd-1", "source": "command", "title": "revoke nobody@contoso.com", "severity": '
    '"informational", "user": "nobody@contoso.com", "detected_at": "", "description": "", "category": "", '
    '"confidence": "", "evidence": [], "recommended_actions": "", "requested_by": "r", "origin": "native"}, '
    '"nonce": "n1", "created_at": "2026-11-20T10:00:02+00:00", "target": null, "target_problem": "no such user", '
    '"offered": [], "conversation": null, "activity_id": null, "kind": "command", "closed": "", "automation": ""}'
)
RECORD_JSON = (
    '{"action": "remove_inbox_rule", "state": "done", "actor_id": "r", "actor_name": "Rita Responder", '
    '"started_at": "2026-11-20T10:01:00+00:00", "finished_at": "2026-11-20T10:01:01+00:00", "summary": "s", '
    '"reversal": "rev", "request_id": "req", "item": "AQAAAJ5dZqA=", "item_label": "Forward all", "approved_by": '
    '"Avery", "steps": ["\\u2713 one"], "verification": "Verified: gone", "verified": true, "run_id": "abcd", '
    '"options": {"app_mode": "grant"}, "actor_upn": "rita@contoso.com", "actor_roles": "responder", "audit_id": '
    '"1700000000000-0", "undo_of": ""}'
)
# Written by earlier versions: `undo` (since dropped) and none of the fields added later.
OLD_RECORD_JSON = (
    '{"action": "revoke_sessions", "state": "running", "actor_id": "r", "actor_name": "Rita Responder", '
    '"started_at": "2026-11-20T10:01:00+00:00", "finished_at": "", "summary": "", "reversal": "", "request_id": "", '
    '"undo": "none"}'
)
APPROVAL_JSON = (
    '{"id": "ap1", "case_id": "c-1", "action": "disable_account", "item": "", "item_label": "", "requester_id": "r", '
    '"requester_name": "Rita Responder", "created_at": "2026-11-20T10:02:00+00:00", "expires_at": '
    '"2026-11-20T10:32:00+00:00", "options": {"steps": ["a"]}, "state": "approved", "decided_by_id": "v", '
    '"decided_by_name": "Avery Approver", "decided_at": "2026-11-20T10:03:00+00:00", "reason": "", "activity_id": '
    '"1700000000001", "thread": {"conversation": {"id": "a:1"}}, "outcome": "Done: x"}'
)
LISTING_JSON = ('[{"kind": "inbox_rule", "id": "r1", "label": "Forward all", "suspicious": "forwards outside", '
                '"detail": {"saved": {"a": 1}}}]')
WATCH_KEY = "riposte:watch:00000000-0000-0000-0000-0000000000a1"
BASELINE_JSON = (
    '{"account": {"enabled": false, "synced": false}, "block": null, "rules": {"r1": {"name": "Forward all", '
    '"enabled": false, "suspicious": "forwards outside", "sig": "abc"}}, "forwarding": [], "methods": {}, '
    '"grants": {}, "full_access": null}'
)
WATCH_HASH = {
    "user_id": "00000000-0000-0000-0000-0000000000A1", "upn": "alice@contoso.com", "display_name": "Alice Target",
    "case_id": "c-1", "actor_id": "r", "actor_name": "Rita Responder", "started_at": "2026-11-20T10:01:01+00:00",
    "until": "1763719261.5", "has_mailbox": "1", "seq": "0", "state": "released",
    "ended": "released by Rita Responder at 10:20", "last_check": "2026-11-20T10:01:05+00:00", "last_error": "",
    "missing": '["forwarding to x@evil.example"]', "baseline": BASELINE_JSON, "generation": "1",
}
CHANGE_JSON = (
    '{"generation": 1, "at": "2026-11-20T10:16:05+00:00", "change": {"facet": "account", "key": "account", "text": '
    '"account re-enabled", "hint": "probably directory sync (the account is synced from on-premises)", "item": "", '
    '"item_label": ""}}'
)

ALERT = Alert(id="a-1", source="defender", title="Suspicious inbox rule “x”", severity="high",
              user="alice@contoso.com", detected_at="2026-11-20T10:00:00Z", description="d", category="c",
              confidence="high", evidence=(Evidence("inbox_rule", "AQAAAJ5dZqA=", "Forward all"),
                                           Evidence("ip", "203.0.113.7")),
              recommended_actions="r", origin="graph")
TARGET = TargetUser(id="00000000-0000-0000-0000-0000000000a1", upn="alice@contoso.com", display_name="Alice Target",
                    account_enabled=True, mail="alice@contoso.com", admin_roles=("Global Administrator",))


@pytest.fixture
async def redis(clean_redis: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(clean_redis, decode_responses=True)
    yield client
    await client.aclose()


async def test_cases_records_listings_and_grouped_alerts_stored_before_load(redis: Redis) -> None:
    await redis.set("riposte:case:c-1", CASE_JSON)
    await redis.set("riposte:case:c-2", COMMAND_CASE_JSON)
    await redis.hset("riposte:case:c-1:actions", mapping={"remove_inbox_rule|AQAAAJ5dZqA=": RECORD_JSON,
                                                           "revoke_sessions|": OLD_RECORD_JSON})
    await redis.hset("riposte:case:c-1:items", "inbox_rule", LISTING_JSON)  # type: ignore[misc]
    await redis.rpush("riposte:case:c-1:grouped", ALERT_JSON)  # type: ignore[misc]
    store = CaseStore(redis)

    case = await store.get("c-1")
    assert case is not None
    assert case.alert == ALERT and case.target == TARGET and case.offered == ("revoke_sessions", "disable_account")
    assert case.conversation == {"conversation": {"id": "19:x@thread.tacv2"}} and case.activity_id == "1700000000000"
    assert (case.nonce, case.created_at, case.kind, case.closed, case.automation) == (
        "n0nce", "2026-11-20T10:00:01+00:00", "alert", "", "")
    command = await store.get("c-2")
    assert command is not None
    assert command.target is None and command.activity_id is None and command.conversation is None
    assert (command.kind, command.target_problem, command.alert.requested_by) == ("command", "no such user", "r")

    records, listings, _, grouped, count = await store.card_state("c-1")
    done, old = records["remove_inbox_rule|AQAAAJ5dZqA="], records["revoke_sessions|"]
    assert done == ActionRecord(
        action="remove_inbox_rule", state=RunState.DONE, actor_id="r", actor_name="Rita Responder",
        started_at="2026-11-20T10:01:00+00:00", finished_at="2026-11-20T10:01:01+00:00", summary="s",
        reversal="rev", request_id="req", item="AQAAAJ5dZqA=", item_label="Forward all", approved_by="Avery",
        steps=["✓ one"], verification="Verified: gone", verified=True, run_id="abcd", options={"app_mode": "grant"},
        actor_upn="rita@contoso.com", actor_roles="responder", audit_id="1700000000000-0")
    assert old.state is RunState.RUNNING and old.key == "revoke_sessions|"
    assert (old.steps, old.options, old.verified, old.run_id, old.undo_of) == ([], {}, True, "", "")
    assert records == await store.records("c-1")
    rule = Item(kind="inbox_rule", id="r1", label="Forward all", suspicious="forwards outside",
                detail={"saved": {"a": 1}})
    assert listings == {"inbox_rule": [rule]} == await store.listings("c-1")
    assert grouped == (ALERT,) and count == 1 and await store.all_grouped("c-1") == [ALERT]


async def test_an_approval_stored_before_loads(redis: Redis) -> None:
    await redis.set("riposte:approval:ap1", APPROVAL_JSON)
    approval = await ApprovalStore(redis).get("ap1")
    assert approval is not None
    assert approval.state is ApprovalState.APPROVED and approval.options == {"steps": ["a"]}
    assert (approval.decided_by_name, approval.activity_id, approval.thread, approval.outcome) == (
        "Avery Approver", "1700000000001", {"conversation": {"id": "a:1"}}, "Done: x")


async def test_a_watch_stored_before_loads(redis: Redis) -> None:
    await redis.hset(WATCH_KEY, mapping=WATCH_HASH)  # type: ignore[arg-type]
    await redis.rpush(WATCH_KEY + ":changes", CHANGE_JSON)  # type: ignore[misc]
    watch = await WatchStore(redis).get("00000000-0000-0000-0000-0000000000A1")
    assert watch is not None
    assert (watch.until, watch.has_mailbox, watch.seq, watch.generation) == (1763719261.5, True, 0, 1)
    assert watch.state is WatchState.RELEASED and watch.ended == "released by Rita Responder at 10:20"
    assert watch.missing == ["forwarding to x@evil.example"] and watch.baseline == json.loads(BASELINE_JSON)
    change = Change("account", "account", "account re-enabled",
                    "probably directory sync (the account is synced from on-premises)")
    assert watch.changes == [(1, "2026-11-20T10:16:05+00:00", change)]
    assert watch.reverted == [("2026-11-20T10:16:05+00:00", change)]


async def test_a_watch_not_checked_yet_loads(redis: Redis) -> None:
    """As `start` writes it: no baseline ("") and nothing missing ("[]") until the first check."""
    fresh = {**WATCH_HASH, "state": "watching", "ended": "", "last_check": "", "missing": "[]", "baseline": "",
             "has_mailbox": "0"}
    await redis.hset(WATCH_KEY, mapping=fresh)  # type: ignore[arg-type]
    watch = await WatchStore(redis).get("00000000-0000-0000-0000-0000000000a1")
    assert watch is not None
    assert watch.state is WatchState.WATCHING and watch.baseline is None and watch.missing == []
    assert watch.has_mailbox is False and watch.changes == []


@pytest.mark.parametrize("state", ["pending", "running", "done", "failed", "interrupted", "reversed", "rejected",
                                   "expired"])
async def test_every_action_state_the_code_writes_loads(redis: Redis, state: str) -> None:
    await redis.hset("riposte:case:c-1:actions", "revoke_sessions|",  # type: ignore[misc]
                     OLD_RECORD_JSON.replace('"running"', f'"{state}"'))
    record = (await CaseStore(redis).records("c-1"))["revoke_sessions|"]
    assert record.state == state and record.state is RunState(state)


async def test_what_the_models_write_has_the_shape_written_before(redis: Redis, clean_redis: str) -> None:
    """Same keys, same values: a replica on the code before reads what this code writes, and the other way round.
    (The text differs only in spacing and in non-ASCII characters written as UTF-8 instead of \\u escapes.)"""
    cases, approvals = CaseStore(redis), ApprovalStore(redis)
    for raw in (CASE_JSON, COMMAND_CASE_JSON):
        case_id = json.loads(raw)["id"]
        await redis.set(f"riposte:case:{case_id}", raw)
        case = await cases.get(case_id)
        assert case is not None
        await cases.save(case)
        assert json.loads(str(await redis.get(f"riposte:case:{case_id}"))) == json.loads(raw)

    await redis.hset("riposte:case:c-1:actions", "x", RECORD_JSON)  # type: ignore[misc]
    record = (await cases.records("c-1"))["x"]
    await cases.put_record("c-1", record)
    stored = await redis.hget("riposte:case:c-1:actions", record.key)  # type: ignore[misc]
    assert json.loads(str(stored)) == json.loads(RECORD_JSON)

    await redis.set("riposte:approval:ap1", APPROVAL_JSON)
    approval = await approvals.get("ap1")
    assert approval is not None
    await approvals.save(approval)
    assert json.loads(str(await redis.get("riposte:approval:ap1"))) == json.loads(APPROVAL_JSON)

    await cases.save_listing("c-1", "inbox_rule", [Item(kind="inbox_rule", id="r1", label="Forward all",
                                                        suspicious="forwards outside", detail={"saved": {"a": 1}})])
    listing = await redis.hget("riposte:case:c-1:items", "inbox_rule")  # type: ignore[misc]
    assert json.loads(str(listing)) == json.loads(LISTING_JSON)

    # The intake's script stores a new case's JSON and an alert joining a case as the models write them.
    case = await cases.get("c-1")
    assert case is not None
    await redis.set("riposte:open-case:alice@contoso.com", "c-1")
    joining = case.model_copy(update={"id": "c-3", "alert": ALERT.model_copy(update={"id": "a-2"})})
    bob = {"id": "a-3", "user": "bob@contoso.com"}
    new = case.model_copy(update={"id": "c-4", "alert": ALERT.model_copy(update=bob)})
    queues = build_queues(connect_redis(clean_redis, decode_responses=False), heartbeat_seconds=7)
    try:
        assert await keep_alert(redis, queues, joining, 60, channel_configured=True) == ("c-1", "grouped")
        assert await keep_alert(redis, queues, new, 60, channel_configured=True) == ("c-4", "accepted")
    finally:
        await queues.close()
    joined = await redis.lrange("riposte:case:c-1:grouped", 0, -1)  # type: ignore[misc]
    assert [json.loads(raw) for raw in joined] == [{**json.loads(ALERT_JSON), "id": "a-2"}]
    kept = json.loads(str(await redis.get("riposte:case:c-4")))
    assert kept == {**json.loads(CASE_JSON), "id": "c-4", "alert": {**json.loads(ALERT_JSON), **bob}}

    watches = WatchStore(redis)
    await redis.hset(WATCH_KEY, mapping=WATCH_HASH)  # type: ignore[arg-type]
    change = Change("account", "account", "account re-enabled",
                    "probably directory sync (the account is synced from on-premises)")
    assert await watches.first_report("00000000-0000-0000-0000-0000000000a1", 1, change, "2026-11-20T10:16:05+00:00")
    entries = await redis.lrange(WATCH_KEY + ":changes", 0, -1)  # type: ignore[misc]
    assert [json.loads(raw) for raw in entries] == [json.loads(CHANGE_JSON)]
