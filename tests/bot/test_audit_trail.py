"""The audit trail against a real Redis: the hash chain verifies, and `python app.py audit verify` (called
in-process) names the first broken entry after an edit, a deletion, an insertion or a truncation made directly
in Redis; concurrent writers cannot fork it; export carries every field; retention trims and still verifies."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis as sync_redis

from actions.audit import AuditEntry
from bot.audit.chain import entry_hash, signature_problem
from bot.audit.cli import csv_fields, main
from bot.audit.trail import ANCHOR_KEY, AUDIT_STREAM, CHECKPOINT_KEY, RedisAudit
from bot.config import Settings
from bot.state.store import connect_redis

AUDIT_KEY = "test-audit-key-kept-apart"


@pytest.fixture
def settings(clean_redis: str) -> Settings:
    return Settings(_env_file=None, REDIS_URL=clean_redis, RIPOSTE_AUDIT_KEY=AUDIT_KEY,  # type: ignore[call-arg]
                    RIPOSTE_AUDIT_CHECKPOINT_ENTRIES=10, MicrosoftAppTenantId="tenant-1")


def entry(n: int, **extra: str) -> AuditEntry:
    return AuditEntry(phase="intent" if n % 2 else "outcome", action="revoke_sessions", actor_id=f"actor-{n % 3}",
                      actor_name="Rita Responder", case_id=f"case-{n % 4}", target_id="alice-id",
                      target_upn="alice@contoso.com", result="pending", detail=f"entry {n}", **extra)


async def write(settings: Settings, count: int, pause_after: int | None = None) -> RedisAudit:
    redis = connect_redis(settings.redis_url)
    audit = RedisAudit(redis, settings)
    for n in range(count):
        await audit.record(entry(n, actor_roles="responder"))
        if n == pause_after:
            await asyncio.sleep(0.05)  # a clean millisecond boundary for time filters
    await redis.aclose()
    return audit


def fill(settings: Settings, count: int, pause_after: int | None = None) -> None:
    asyncio.run(write(settings, count, pause_after))


def stream(url: str) -> list[tuple[str, dict[str, str]]]:
    raw: Any = sync_redis.Redis.from_url(url, decode_responses=True).xrange(AUDIT_STREAM)
    return [(str(entry_id), {str(name): str(value) for name, value in fields.items()}) for entry_id, fields in raw]


def rewrite(url: str, change: Callable[[list[tuple[str, dict[str, str]]]], list[tuple[str, dict[str, str]]]]) -> None:
    """Tamper as someone with Redis access would: rebuild the stream with the same ids, changed."""
    client = sync_redis.Redis.from_url(url, decode_responses=True)
    entries = change(stream(url))
    client.delete(AUDIT_STREAM)
    for entry_id, fields in entries:
        client.xadd(AUDIT_STREAM, fields, id=entry_id)  # type: ignore[arg-type]


def by_seq(entries: list[tuple[str, dict[str, str]]], seq: int) -> tuple[str, dict[str, str]]:
    return next((entry_id, fields) for entry_id, fields in entries if fields.get("seq") == str(seq))


def run_cli(argv: list[str], settings: Settings, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv, settings)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_verify_passes_on_a_real_trail(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    fill(settings, 25)
    code, out, _ = run_cli(["verify"], settings, capsys)
    assert code == 0, out
    assert "Audit chain holds" in out and "signed checkpoint covers seq" in out
    entries = stream(settings.redis_url)
    assert [int(fields["seq"]) for _, fields in entries] == list(range(1, len(entries) + 1))
    first = entries[0][1]
    assert first["tenant"] == "tenant-1" and first["actor_roles"] == "responder" and first["at"]
    assert any(fields["phase"] == "checkpoint" for _, fields in entries)


def test_an_edited_entry_is_named(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    fill(settings, 12)
    edited_id, _ = by_seq(stream(settings.redis_url), 5)

    def edit(entries: list[tuple[str, dict[str, str]]]) -> list[tuple[str, dict[str, str]]]:
        return [(i, {**f, "detail": "nothing happened"} if i == edited_id else f) for i, f in entries]

    rewrite(settings.redis_url, edit)
    code, _, err = run_cli(["verify"], settings, capsys)
    assert code == 1
    assert f"BROKEN at entry {edited_id} (seq 5)" in err and "edited" in err


def test_an_edit_with_a_recomputed_hash_is_caught_at_the_next_entry(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(settings, 12)
    edited_id, _ = by_seq(stream(settings.redis_url), 5)
    next_id, _ = by_seq(stream(settings.redis_url), 6)

    def edit(entries: list[tuple[str, dict[str, str]]]) -> list[tuple[str, dict[str, str]]]:
        changed = []
        for entry_id, fields in entries:
            if entry_id == edited_id:
                fields = {**fields, "actor_name": "Someone Else"}
                fields["hash"] = entry_hash(fields)
            changed.append((entry_id, fields))
        return changed

    rewrite(settings.redis_url, edit)
    code, _, err = run_cli(["verify"], settings, capsys)
    assert code == 1 and f"BROKEN at entry {next_id} (seq 6)" in err and "prev hash" in err


def test_a_deleted_entry_is_named(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    fill(settings, 12)
    entries = stream(settings.redis_url)
    deleted_id, _ = by_seq(entries, 7)
    after_id, _ = by_seq(entries, 8)
    sync_redis.Redis.from_url(settings.redis_url).xdel(AUDIT_STREAM, deleted_id)
    code, _, err = run_cli(["verify"], settings, capsys)
    assert code == 1
    assert f"BROKEN at entry {after_id} (seq 8)" in err and "entries 7–7 are missing" in err


def test_an_inserted_entry_is_named(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    fill(settings, 12)
    _, before = by_seq(stream(settings.redis_url), 3)
    # A careful forger: the entry links to seq 3, takes seq 4 and has a correct hash of its own.
    forged = {**before, "detail": "forged: approved by the CISO", "seq": "4", "prev": before["hash"]}
    forged["hash"] = entry_hash(forged)

    def insert(entries: list[tuple[str, dict[str, str]]]) -> list[tuple[str, dict[str, str]]]:
        fields = [f for _, f in entries]
        at = next(n for n, f in enumerate(fields) if f.get("seq") == "3") + 1
        fields.insert(at, forged)
        base = entries[0][0].split("-")[0]
        return [(f"{base}-{n}", f) for n, f in enumerate(fields)]  # ids renumbered to make room, order kept

    rewrite(settings.redis_url, insert)
    after = stream(settings.redis_url)
    forged_at = next(n for n, (_, f) in enumerate(after) if f.get("detail", "").startswith("forged"))
    code, _, err = run_cli(["verify"], settings, capsys)
    assert code == 1
    # The forgery fits seq 3, so the first entry that no longer fits is the real seq 4, right after it.
    real_id = after[forged_at + 1][0]
    assert f"BROKEN at entry {real_id} (seq 4)" in err and "inserted" in err


def test_an_entry_without_chain_fields_inserted_is_named(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(settings, 6)
    sync_redis.Redis.from_url(settings.redis_url).xadd(AUDIT_STREAM, {"phase": "outcome", "detail": "made up"})
    entry_id = stream(settings.redis_url)[-1][0]
    code, _, err = run_cli(["verify"], settings, capsys)
    assert code == 1 and f"BROKEN at entry {entry_id}" in err and "no chain fields" in err


def test_a_truncated_trail_is_caught_up_to_the_last_checkpoint(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(settings, 25)
    client = sync_redis.Redis.from_url(settings.redis_url, decode_responses=True)
    covered = int(client.hget(CHECKPOINT_KEY, "seq") or 0)  # type: ignore[arg-type]
    assert covered >= 20
    cut = [entry_id for entry_id, fields in stream(settings.redis_url) if int(fields["seq"]) >= covered - 2]
    client.xdel(AUDIT_STREAM, *cut)
    client.delete("riposte:audit:head")  # a careful intruder hides the head too; the signed checkpoint remains
    code, _, err = run_cli(["verify"], settings, capsys)
    assert code == 1
    assert f"covers seq {covered} but the trail ends at seq {covered - 3}" in err and "cut off" in err


def test_a_forged_checkpoint_is_refused(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    fill(settings, 12)
    sync_redis.Redis.from_url(settings.redis_url).hset(CHECKPOINT_KEY, "seq", "3")
    code, _, err = run_cli(["verify"], settings, capsys)
    assert code == 1 and "signature does not match" in err


async def test_concurrent_writers_on_separate_connections_keep_one_chain(settings: Settings) -> None:
    async def writer(number: int) -> None:
        redis = connect_redis(settings.redis_url)
        audit = RedisAudit(redis, settings)
        try:
            for n in range(50):
                await audit.record(entry(n, correlation_id=f"writer-{number}"))
        finally:
            await redis.aclose()

    await asyncio.gather(*(writer(number) for number in range(4)))
    redis = connect_redis(settings.redis_url)
    try:
        verdict = await RedisAudit(redis, settings).verify()
    finally:
        await redis.aclose()
    assert verdict.ok, verdict.describe()
    entries = stream(settings.redis_url)
    assert sum(1 for _, fields in entries if fields.get("correlation_id", "").startswith("writer-")) == 200
    assert len({fields["prev"] for _, fields in entries}) == len(entries), "two entries share a parent: a fork"


def test_export_jsonl_and_csv_carry_every_field_and_filter_by_time(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(settings, 20, pause_after=9)
    entries = stream(settings.redis_url)
    code, out, _ = run_cli(["export", "--format", "jsonl"], settings, capsys)
    assert code == 0
    exported = [json.loads(line) for line in out.splitlines()]
    assert exported == [{"id": entry_id, **fields} for entry_id, fields in entries]
    assert all({"seq", "prev", "hash", "at"} <= set(row) for row in exported)

    code, out, _ = run_cli(["export", "--format", "csv"], settings, capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == len(entries)
    for row, (entry_id, fields) in zip(rows, entries, strict=True):
        rebuilt = csv_fields(row)
        assert row["id"] == entry_id and rebuilt == fields
        assert entry_hash(rebuilt) == fields["hash"], "the SIEM can check each row's hash"

    # --since / --until: the tenth entry's time splits the trail (there is a pause after it).
    tenth = next(fields for _, fields in entries if fields.get("detail") == "entry 9")
    split = datetime.fromisoformat(tenth["at"]) + timedelta(milliseconds=20)
    code, out, _ = run_cli(["export", "--format", "jsonl", "--since", split.isoformat()], settings, capsys)
    later = [json.loads(line) for line in out.splitlines()]
    code2, out, _ = run_cli(["export", "--format", "jsonl", "--until", split.isoformat()], settings, capsys)
    earlier = [json.loads(line) for line in out.splitlines()]
    assert code == code2 == 0 and later and earlier
    assert {row["id"] for row in later} | {row["id"] for row in earlier} == {entry_id for entry_id, _ in entries}
    assert all(datetime.fromisoformat(row["at"]) >= split for row in later if row["phase"] != "checkpoint")
    assert "entry 9" in {row.get("detail") for row in earlier} and "entry 10" in {row.get("detail") for row in later}


def test_an_export_file_verifies_and_an_edited_copy_does_not(
    settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    fill(settings, 15)
    _, out, _ = run_cli(["export", "--format", "jsonl"], settings, capsys)
    good = tmp_path / "audit.jsonl"
    good.write_text(out)
    code, out_text, _ = run_cli(["verify", "--file", str(good)], settings, capsys)
    assert code == 0, out_text
    lines = out.splitlines()
    row = json.loads(lines[4])
    row["result"] = "ok"
    bad = tmp_path / "edited.jsonl"
    bad.write_text("\n".join([*lines[:4], json.dumps(row), *lines[5:]]) + "\n")
    code, _, err = run_cli(["verify", "--file", str(bad)], settings, capsys)
    assert code == 1 and f"BROKEN at entry {row['id']} (seq 5)" in err


@pytest.mark.parametrize("argv, message", [
    (["export"], "--format"),
    (["export", "--format", "xml"], "invalid choice"),
    (["export", "--format", "csv", "--since", "yesterday"], "is not an ISO 8601 time"),
    ([], "required"),
    (["rewrite"], "invalid choice"),
])
def test_bad_arguments_say_what_is_wrong_and_exit_2(
    settings: Settings, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run_cli(argv, settings, capsys)
    assert code == 2 and message in err


def test_retention_trims_old_entries_leaves_a_signed_anchor_audits_the_trim_and_still_verifies(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(settings, 20, pause_after=9)
    entries = stream(settings.redis_url)
    first_kept_id, first_kept = next((i, f) for i, f in entries if f.get("detail") == "entry 10")
    cutoff = datetime.fromtimestamp(int(first_kept_id.split("-")[0]) / 1000, UTC)
    now = cutoff + timedelta(days=settings.audit_retention_days)

    async def trim_twice() -> tuple[int, int]:
        redis = connect_redis(settings.redis_url)
        try:
            audit = RedisAudit(redis, settings)
            return await audit.trim(now=now), await audit.trim(now=now)
        finally:
            await redis.aclose()

    removed, again = asyncio.run(trim_twice())
    assert removed == sum(1 for i, _ in entries if i < first_kept_id) > 0
    assert again == 0, "a second trim at the same time removes nothing and records nothing"
    after = stream(settings.redis_url)
    assert after[0] == (first_kept_id, first_kept)
    anchor: dict[str, str] = sync_redis.Redis.from_url(settings.redis_url, decode_responses=True).hgetall(
        ANCHOR_KEY)  # type: ignore[assignment]
    assert anchor["seq"] == first_kept["seq"] and anchor["prev"] == first_kept["prev"]
    assert signature_problem(AUDIT_KEY.encode(), "anchor", anchor) == ""
    trims = [fields for _, fields in after if fields.get("action") == "audit_trimmed"]
    assert len(trims) == 1 and trims[0]["removed"] == str(removed) and trims[0]["phase"] == "event"
    assert after[-1][1]["phase"] == "checkpoint", "the trim is covered by a checkpoint at once"

    code, out, _ = run_cli(["verify"], settings, capsys)
    assert code == 0 and f"seq {first_kept['seq']}–" in out, out
    # Deleting the first kept entry is still caught: the signed anchor says where the trail starts.
    sync_redis.Redis.from_url(settings.redis_url).xdel(AUDIT_STREAM, first_kept_id)
    code, _, err = run_cli(["verify"], settings, capsys)
    assert code == 1 and f"retention trimmed the trail to seq {first_kept['seq']}" in err


async def test_events_refuse_secret_looking_fields(settings: Settings) -> None:
    redis = connect_redis(settings.redis_url)
    try:
        audit = RedisAudit(redis, settings)
        with pytest.raises(ValueError, match="never carry secrets"):
            await audit.record_event("settings_at_startup", graph_client_secret="x")
        await audit.record_event("release", actor_name="Rita", target_upn="alice@contoso.com", empty="")
    finally:
        await redis.aclose()
    [(_, fields)] = [pair for pair in stream(settings.redis_url) if pair[1].get("action") == "release"]
    assert fields["phase"] == "event" and "empty" not in fields and fields["tenant"] == "tenant-1"
