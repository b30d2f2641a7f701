"""Watches in Redis: one per user, belonging to the case whose containment started it.

`riposte:watch:{user}` is a hash; each writer sets only its own fields (a check its results, a release the state),
so a release landing while a check runs is never overwritten. Around it: the facets a Riposte action changed on
purpose (re-read as the new baseline, not reported), the changes found (a list), one report-once guard per change
and watch generation, and the case → user pointer the card and `release` look up.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field, field_validator
from redis.asyncio import Redis

from bot.state.cases import CASE_TTL_SECONDS
from bot.state.states import WatchState
from bot.watch.snapshot import FACETS, Change, Snapshot


def _key(user_id: str) -> str:
    return f"riposte:watch:{user_id.lower()}"


def _case_key(case_id: str) -> str:
    return f"riposte:watch-case:{case_id}"


# Both scripts compare the stored state with 'watching' (WatchState.WATCHING).
# Claim check number ARGV[1] of a live watch: advance `seq` past it, once, whoever runs it.
_CLAIM = """
if redis.call('HGET', KEYS[1], 'state') ~= 'watching' then return 0 end
if redis.call('HGET', KEYS[1], 'seq') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'seq', tostring(tonumber(ARGV[1]) + 1))
return 1
"""
# Record a check's baseline only if no Riposte action re-based the watch since the check read it (generation
# ARGV[1]): a check in flight across an action may hold a snapshot from before it, and writing that last would make
# the next check report Riposte's own change as an undone containment. The re-basing check queued by the action
# reads the tenant afresh instead. ARGV[5..]: the rebase marks this check read and settled.
_CHECKED = """
if redis.call('HGET', KEYS[1], 'generation') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'last_check', ARGV[2], 'last_error', '', 'baseline', ARGV[3], 'missing', ARGV[4])
for i = 5, #ARGV do redis.call('SREM', KEYS[2], ARGV[i]) end
return 1
"""
_STOP = """
if redis.call('HGET', KEYS[1], 'state') ~= 'watching' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'ended', ARGV[2])
return 1
"""


class Found(BaseModel):
    """One entry of the `:changes` list (JSON): a change found in a watch generation, and when."""

    generation: int
    at: str
    change: Change


class Watch(BaseModel):
    """The watch hash, read through pydantic: its fields are text (numbers as digits, `has_mailbox` "1" or "0"),
    `missing` and `baseline` JSON text ("" before the first check); `changes` comes from the `:changes` list."""

    user_id: str
    upn: str
    display_name: str
    case_id: str
    actor_id: str
    actor_name: str
    started_at: str
    until: float  # epoch seconds
    has_mailbox: bool = True
    seq: int = 0
    generation: int = 1
    state: WatchState = WatchState.WATCHING
    ended: str = ""  # what ended it, in words ("Released by Rita Responder at …")
    last_check: str = ""
    last_error: str = ""
    missing: list[str] = Field(default_factory=list)
    baseline: Snapshot | None = None
    changes: list[tuple[int, str, Change]] = Field(default_factory=list)  # (generation, found at, change)

    @field_validator("missing", mode="before")
    @classmethod
    def _missing_text(cls, value: Any) -> Any:
        return json.loads(value or "[]") if isinstance(value, str) else value

    @field_validator("baseline", mode="before")
    @classmethod
    def _baseline_text(cls, value: Any) -> Any:
        return (json.loads(value) if value else None) if isinstance(value, str) else value

    @property
    def reverted(self) -> list[tuple[str, Change]]:
        """Changes found in this generation (since the last containment action): what the card calls reverted."""
        return [(at, change) for generation, at, change in self.changes if generation == self.generation]


class WatchStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._claim = redis.register_script(_CLAIM)
        self._stop = redis.register_script(_STOP)
        self._checked = redis.register_script(_CHECKED)

    async def start(self, watch: Watch) -> None:
        key = _key(watch.user_id)
        fields: dict[str | bytes, str] = {
            "user_id": watch.user_id, "upn": watch.upn, "display_name": watch.display_name, "case_id": watch.case_id,
            "actor_id": watch.actor_id, "actor_name": watch.actor_name, "started_at": watch.started_at,
            "until": str(watch.until), "has_mailbox": "1" if watch.has_mailbox else "0", "seq": "0",
            "state": WatchState.WATCHING, "ended": "", "last_check": "", "last_error": "", "missing": "[]",
            "baseline": "",
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            pipe.hincrby(key, "generation", 1)
            pipe.sadd(key + ":rebase", *FACETS)
            pipe.set(_case_key(watch.case_id), watch.user_id, ex=CASE_TTL_SECONDS)
            for name in (key, key + ":rebase", key + ":changes"):
                pipe.expire(name, CASE_TTL_SECONDS)
            await pipe.execute()

    async def user_of_case(self, case_id: str) -> str | None:
        raw = await self._redis.get(_case_key(case_id))
        return str(raw) if raw else None

    async def get(self, user_id: str) -> Watch | None:
        key = _key(user_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(key)
            pipe.lrange(key + ":changes", 0, -1)
            raw, changes = await pipe.execute()
        if not raw:
            return None
        found = [Found.model_validate_json(item) for item in changes]
        return Watch.model_validate({**raw, "changes": [(entry.generation, entry.at, entry.change) for entry in found]})

    async def get_for_case(self, case_id: str) -> Watch | None:
        user = await self.user_of_case(case_id)
        watch = await self.get(user) if user else None
        return watch if watch is not None and watch.case_id == case_id else None

    async def claim(self, user_id: str, seq: int) -> bool:
        return bool(await self._claim(keys=[_key(user_id)], args=[str(seq)]))

    async def rebase(self, user_id: str, facets: frozenset[str]) -> int:
        """A Riposte action changed these facets on purpose: the next check re-reads them as the baseline, and
        what was reported before may be reported again (a new generation). Returns the generation."""
        key = _key(user_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key + ":rebase", *facets)
            pipe.hincrby(key, "generation", 1)
            _, generation = await pipe.execute()
        return int(generation)

    async def pending_rebase(self, user_id: str) -> frozenset[str]:
        members = await self._redis.smembers(_key(user_id) + ":rebase")  # type: ignore[misc]
        return frozenset(str(member) for member in members)

    async def first_report(self, user_id: str, generation: int, change: Change, at: str) -> bool:
        """True once per change and generation, across every replica: only then is it recorded and reported."""
        key = _key(user_id)
        if not await self._redis.set(f"{key}:reported:{generation}:{change.key}", at, nx=True,
                                     ex=CASE_TTL_SECONDS):
            return False
        entry = Found(generation=generation, at=at, change=change).model_dump_json()
        await self._redis.rpush(key + ":changes", entry)  # type: ignore[misc]
        await self._redis.expire(key + ":changes", CASE_TTL_SECONDS)
        return True

    async def checked(self, user_id: str, generation: int, at: str, baseline: Snapshot, missing: list[str],
                      rebased: frozenset[str]) -> bool:
        """Record a check read at `generation`; False (nothing written) when an action re-based the watch since."""
        key = _key(user_id)
        return bool(await self._checked(keys=[key, key + ":rebase"],
                                        args=[str(generation), at, json.dumps(baseline), json.dumps(missing),
                                              *sorted(rebased)]))

    async def failed(self, user_id: str, at: str, problem: str) -> None:
        await self._redis.hset(_key(user_id), mapping={"last_check": at, "last_error": problem})  # type: ignore[misc]

    async def stop(self, user_id: str, state: WatchState, why: str) -> bool:
        """End a live watch (released or window over); False when it had already ended."""
        return bool(await self._stop(keys=[_key(user_id)], args=[state, why]))
