"""The audit's group commit against a real Redis: entries written at once by one process go in a few appends, keep
their order and one chain with another process writing meanwhile, and each writer gets its own entry; a Redis that
is down fails every waiting writer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis as sync_redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.audit.trail import AUDIT_STREAM, RedisAudit
from bot.config import Settings
from bot.state.store import connect_redis
from sandbox.ports import free_port


@pytest.fixture
def settings(clean_redis: str) -> Settings:
    return Settings(_env_file=None, REDIS_URL=clean_redis, RIPOSTE_AUDIT_KEY="test-audit-key",  # type: ignore[call-arg]
                    RIPOSTE_AUDIT_CHECKPOINT_ENTRIES=10)


def appends(url: str) -> int:
    """Script calls Redis has run so far (every audit append is one)."""
    stats: Any = sync_redis.Redis.from_url(url).info("commandstats")
    return sum(int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_evalsha", "cmdstat_eval"))


async def test_entries_written_at_once_share_appends_and_keep_one_chain_beside_another_writer(
    settings: Settings,
) -> None:
    redis, other_redis = connect_redis(settings.redis_url), connect_redis(settings.redis_url)
    audit, other = RedisAudit(redis, settings), RedisAudit(other_redis, settings)
    try:
        await audit.record_event("warm_up", detail="first entry")
        before = appends(settings.redis_url)
        ids = await asyncio.gather(*(audit.record_event("alert_received", detail=f"burst {n}") for n in range(150)))
        burst_appends = appends(settings.redis_url) - before

        async def other_writer() -> None:
            for n in range(30):
                await other.record_event("alert_received", detail=f"other {n}")

        mixed = await asyncio.gather(other_writer(),
                                     *(audit.record_event("alert_received", detail=f"mixed {n}") for n in range(60)))
        verdict = await audit.verify()
    finally:
        await redis.aclose()
        await other_redis.aclose()

    assert verdict.ok, verdict.describe()
    # 150 entries and their checkpoints (one per batch at most) in a handful of appends, not 150.
    assert burst_appends <= 10, burst_appends
    raw: Any = sync_redis.Redis.from_url(settings.redis_url, decode_responses=True).xrange(AUDIT_STREAM)
    entries: dict[str, dict[str, str]] = {str(entry_id): dict(fields) for entry_id, fields in raw}
    assert [entries[entry_id]["detail"] for entry_id in ids] == [f"burst {n}" for n in range(150)]
    assert [entries[entry_id]["detail"] for entry_id in map(str, mixed[1:])] == [f"mixed {n}" for n in range(60)]
    assert sum(1 for fields in entries.values() if fields.get("detail", "").startswith("other ")) == 30
    seqs = sorted(int(fields["seq"]) for fields in entries.values())
    assert seqs == list(range(1, len(entries) + 1))
    assert len({fields["prev"] for fields in entries.values()}) == len(entries), "two entries share a parent"


async def test_every_waiting_writer_is_told_when_redis_is_down(settings: Settings) -> None:
    redis = connect_redis(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    audit = RedisAudit(redis, settings)
    try:
        results = await asyncio.gather(*(audit.record_event("alert_received", detail=f"n {n}") for n in range(5)),
                                       return_exceptions=True)
    finally:
        await redis.aclose()
    assert all(isinstance(result, RedisConnectionError) for result in results), results
