"""Append-only, hash-chained audit trail in a Redis stream: an intent before every action, an outcome after, and
events (alert channel changed, retention, …). No secrets. The chain itself is described in bot/audit/chain.py.

Several processes append to the one stream. Each append is one Lua call that checks the head this process
expects and, only if it is still the head, adds the entry and moves the head: two writers can never fork the
chain. A writer that lost the race gets the current head in the same answer and tries again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import re
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis

from actions.audit import AuditEntry
from bot.audit.batch import APPEND_MANY, MAX_BATCH, batch_args
from bot.audit.chain import CHECKPOINT_PHASE, GENESIS, Checker, Verdict, entry_hash, signed
from bot.config import Settings
from bot.logs import correlation_id

log = logging.getLogger(__name__)

AUDIT_STREAM = "riposte:audit"
HEAD_KEY = "riposte:audit:head"  # hash: seq, hash, id of the newest entry; cp_seq, cp_at, cp_self of the checkpoint
CHECKPOINT_KEY = "riposte:audit:checkpoint"  # hash: the newest signed checkpoint (seq, hash, at, sig, key_id)
ANCHOR_KEY = "riposte:audit:anchor"  # hash: the signed start of the trail after retention (seq, prev, at, sig, key_id)
AUDIT_KEY_NAME = "riposte:audit-key"  # the generated key, when RIPOSTE_AUDIT_KEY is not set
APPEND_ATTEMPTS = 100  # each failed attempt means another writer's entry went in: the chain always progresses
READ_BATCH = 1000
ALWAYS_STORED = frozenset({"phase", "action", "actor_id", "actor_name", "case_id", "target_id", "target_upn",
                           "result", "detail", "request_id", "decision"})
# Field names that must never reach the trail: an event's caller passing one is a bug, refused loudly.
SECRET_NAME = re.compile(r"password|secret|token|credential|api_?key|private", re.IGNORECASE)

# KEYS: stream, head, checkpoint. ARGV: expected head seq, expected head hash, new hash, now (ms), covers seq
# ('' unless the entry is a checkpoint), covers hash, signed at, signature, key id, genesis hash, field/value pairs.
_APPEND = """
local unpack = unpack or table.unpack
local head = redis.call('HMGET', KEYS[2], 'seq', 'hash', 'cp_seq', 'cp_at', 'cp_self')
local seq = head[1] or '0'
local hash = head[2] or ARGV[10]
if seq ~= ARGV[1] or hash ~= ARGV[2] then return {0, seq, hash} end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 11))
local new_seq = tostring(tonumber(seq) + 1)
redis.call('HSET', KEYS[2], 'seq', new_seq, 'hash', ARGV[3], 'id', id)
local cp_seq = head[3] or '0'
if ARGV[5] ~= '' and tonumber(ARGV[5]) > tonumber(cp_seq) then
  redis.call('HSET', KEYS[2], 'cp_seq', ARGV[5], 'cp_at', ARGV[4], 'cp_self', new_seq)
  redis.call('HSET', KEYS[3], 'seq', ARGV[5], 'hash', ARGV[6], 'at', ARGV[7], 'sig', ARGV[8], 'key_id', ARGV[9])
end
return {1, id, cp_seq, head[4] or '0'}
"""

# KEYS: stream, anchor. ARGV: anchor seq, prev, at, sig, key id, min id kept. Trims and anchors in one step, and
# never moves the anchor back (two replicas trimming at once).
_TRIM = """
local current = redis.call('HGET', KEYS[2], 'seq')
if current and tonumber(current) >= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'prev', ARGV[2], 'at', ARGV[3], 'sig', ARGV[4], 'key_id', ARGV[5])
return redis.call('XTRIM', KEYS[1], 'MINID', ARGV[6])
"""


class AuditContention(RuntimeError):
    """Other writers kept moving the head for every attempt: the entry was not written."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def stream_ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


async def load_audit_key(redis: Redis, settings: Settings) -> bytes:
    """RIPOSTE_AUDIT_KEY, or one generated once and kept in Redis (shared by every replica), with a warning."""
    configured = settings.audit_key.get_secret_value()
    if configured:
        return configured.encode()
    await redis.set(AUDIT_KEY_NAME, secrets.token_hex(32), nx=True)
    stored = await redis.get(AUDIT_KEY_NAME)
    level = logging.INFO if settings.local_mode else logging.WARNING
    log.log(level, "RIPOSTE_AUDIT_KEY is not set: audit checkpoints are signed with a key kept in Redis beside the "
                   "trail, so whoever can rewrite the trail can re-sign it. Set RIPOSTE_AUDIT_KEY outside local mode.")
    return str(stored).encode()


@dataclasses.dataclass(frozen=True)
class Page:
    entries: list[dict[str, str]]  # oldest first, each with its stream id as "id"
    has_older: bool
    has_newer: bool


class RedisAudit:
    def __init__(self, redis: Redis, settings: Settings | None = None) -> None:
        self._redis = redis
        # Settings as main() reads them when not given (the app's builder may pass its own).
        self._settings = settings if settings is not None else Settings()
        self._key: bytes | None = None
        self._head = (0, GENESIS)  # what this process believes the head is; the append script has the last word
        self._lock = asyncio.Lock()
        self._append = redis.register_script(_APPEND)
        self._append_many = redis.register_script(APPEND_MANY)
        self._waiting: list[tuple[dict[str, str], asyncio.Future[tuple[str, int, str, int, int]]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._trim = redis.register_script(_TRIM)

    @property
    def redis(self) -> Redis:
        return self._redis

    async def _hash(self, name: str) -> dict[str, str]:
        return _decoded(await self._redis.hgetall(name))  # type: ignore[misc]

    async def key(self) -> bytes:
        if self._key is None:
            self._key = await load_audit_key(self._redis, self._settings)
        return self._key

    # Writing

    async def record(self, entry: AuditEntry) -> str:
        # The original fields are always stored (readers index them); the newer optional ones only when set.
        fields = {name: str(value) for name, value in dataclasses.asdict(entry).items()
                  if value or name in ALWAYS_STORED}
        return await self._write(fields)

    async def record_event(self, kind: str, **fields: str | int | float | bool | None) -> str:
        """An event others emit (alert received, card posted, alert channel changed, release, automation run,
        settings at start-up): phase "event", action = kind, plus the given fields (empty ones dropped).

        Field names that look like secrets are refused: a caller passing one is a bug, not something to store."""
        leaked = [name for name in fields if SECRET_NAME.search(name)]
        if leaked:
            raise ValueError(f"audit events never carry secrets; refused field(s) {', '.join(sorted(leaked))}")
        reserved = {"phase", "action", "seq", "prev", "hash"} & set(fields)
        if reserved:
            raise ValueError(f"audit event fields {', '.join(sorted(reserved))} are set by the audit itself")
        values = {name: str(value) for name, value in fields.items() if value is not None and str(value) != ""}
        return await self._write({"phase": "event", "action": kind, **values})

    async def _write(self, fields: dict[str, str]) -> str:
        fields.setdefault("at", now_iso())
        if not fields.get("correlation_id") and correlation_id.get():
            fields["correlation_id"] = correlation_id.get()  # the id the logs and an error card carry
        if self._settings.tenant_id:
            fields.setdefault("tenant", self._settings.tenant_id)
        entry_id, seq, digest, cp_seq, cp_at = await self._append_queued(fields)
        elapsed_ms = time.time() * 1000 - cp_at
        if seq - cp_seq >= self._settings.audit_checkpoint_entries or (
            elapsed_ms >= self._settings.audit_checkpoint_minutes * 60_000
        ):
            try:
                await self.checkpoint((seq, digest))
            except Exception:  # the entry is in; the next entry or the periodic task checkpoints it
                log.exception("audit checkpoint after seq %d could not be written", seq)
        return entry_id

    async def _append_queued(self, fields: dict[str, str]) -> tuple[str, int, str, int, int]:
        """Append `fields` with whatever else is waiting (bot/audit_batch.py): one round trip per batch. The batch is
        sent by a task of its own, so a writer that gives up waiting cannot cut the others' append short."""
        done: asyncio.Future[tuple[str, int, str, int, int]] = asyncio.get_running_loop().create_future()
        self._waiting.append((fields, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                results = await self._append_batch([fields for fields, _ in batch])
            except Exception as error:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for (_, done), result in zip(batch, results, strict=True):
                    if not done.done():
                        done.set_result(result)

    async def _append_batch(self, batch: list[dict[str, str]]) -> list[tuple[str, int, str, int, int]]:
        """Append `batch` in order after the current head; per entry its id, seq and hash, and the checkpoint's seq
        and time (ms) as the head had them: for every entry but the last, its own seq and now, so that only the
        batch's last entry asks for a checkpoint."""
        async with self._lock:
            for attempt in range(APPEND_ATTEMPTS):
                if attempt:  # another replica won the race: back off a random moment so that no writer starves
                    await asyncio.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))
                args, chained = batch_args(self._head, batch)
                reply = await self._append_many(keys=[AUDIT_STREAM, HEAD_KEY], args=args)
                if int(reply[0]) == 1:
                    self._head = chained[-1]
                    now_ms = int(time.time() * 1000)
                    results = [(str(entry_id), seq, digest, seq, now_ms)
                               for entry_id, (seq, digest) in zip(reply[3:], chained, strict=True)]
                    entry_id, seq, digest, _, _ = results[-1]
                    results[-1] = (entry_id, seq, digest, int(reply[1]), int(float(reply[2])))
                    return results
                self._head = (int(reply[1]), str(reply[2]))
        raise AuditContention(f"the audit head moved {APPEND_ATTEMPTS} times in a row; entries not written")

    async def _append_entry(self, fields: Mapping[str, str],
                            covers: Mapping[str, str] | None = None) -> tuple[str, int, str, int, int]:
        """Append one entry after the current head; return its id, seq and hash, and the checkpoint's seq and
        time (ms) as the head had them."""
        cover = covers or {}
        checkpoint_args = [cover.get(name, "") for name in ("seq", "hash", "at", "sig", "key_id")]
        async with self._lock:
            for attempt in range(APPEND_ATTEMPTS):
                if attempt:  # another replica won the race: back off a random moment so that no writer starves
                    await asyncio.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))
                seq, prev = self._head
                body = {**fields, "seq": str(seq + 1), "prev": prev}
                digest = entry_hash(body)
                body["hash"] = digest
                pairs = [part for name, value in body.items() for part in (name, value)]
                reply = await self._append(
                    keys=[AUDIT_STREAM, HEAD_KEY, CHECKPOINT_KEY],
                    args=[str(seq), prev, digest, str(int(time.time() * 1000)), *checkpoint_args, GENESIS, *pairs],
                )
                if int(reply[0]) == 1:
                    self._head = (seq + 1, digest)
                    return str(reply[1]), seq + 1, digest, int(reply[2]), int(float(reply[3]))
                self._head = (int(reply[1]), str(reply[2]))
        raise AuditContention(f"the audit head moved {APPEND_ATTEMPTS} times in a row; entry not written")

    async def checkpoint(self, head: tuple[int, str] | None = None) -> str:
        """Sign the chain head (seq and hash) with the audit key, as an entry in the trail and as the newest
        checkpoint. Return the checkpoint entry's id ('' when the trail is empty)."""
        if head is None:
            stored = await self._hash(HEAD_KEY)
            if not stored.get("seq"):
                return ""
            head = (int(stored["seq"]), str(stored["hash"]))
        seq, digest = head
        at = now_iso()
        record = signed(await self.key(), "head", seq, digest, at)
        fields = {"phase": CHECKPOINT_PHASE, "action": "checkpoint", "actor_name": "Riposte", "at": at,
                  "covers_seq": str(seq), "covers_hash": digest, "signed_at": at, "sig": record["sig"],
                  "key_id": record["key_id"]}
        entry_id, *_ = await self._append_entry(fields, covers=record)
        return entry_id

    async def checkpoint_if_due(self) -> str:
        """Checkpoint when entries came since the last checkpoint and it is older than the configured minutes."""
        head = await self._hash(HEAD_KEY)
        seq = int(head.get("seq") or 0)
        covered = max(int(head.get("cp_seq") or 0), int(head.get("cp_self") or 0))
        age_ms = time.time() * 1000 - float(head.get("cp_at") or 0)
        if seq > covered and age_ms >= self._settings.audit_checkpoint_minutes * 60_000:
            return await self.checkpoint((seq, str(head["hash"])))
        return ""

    # Retention

    async def trim(self, *, now: datetime | None = None, retention_days: float | None = None) -> int:
        """Remove entries older than the retention period; the trail then starts at a signed anchor (the first
        kept entry's seq and prev hash), so it still verifies. The trim is itself recorded. Returns how many
        entries were removed."""
        days = retention_days if retention_days is not None else self._settings.audit_retention_days
        moment = now or datetime.now(UTC)
        cutoff_ms = int((moment - timedelta(days=days)).timestamp() * 1000)
        oldest = await self._redis.xrange(AUDIT_STREAM, count=1)
        if not oldest or stream_ms(str(oldest[0][0])) >= cutoff_ms:
            return 0
        kept = await self._redis.xrange(AUDIT_STREAM, min=f"{cutoff_ms}-0", count=1)
        if kept:
            first = _decoded(kept[0][1])
            if "seq" not in first:
                log.warning("audit retention: the first kept entry predates the chain; not trimming")
                return 0
            seq, prev = int(first["seq"]), str(first["prev"])
        else:  # everything is older: the next entry (this trim's own record) starts the trail
            head = await self._hash(HEAD_KEY)
            seq, prev = int(head.get("seq") or 0) + 1, str(head.get("hash") or GENESIS)
        anchor = signed(await self.key(), "anchor", seq, prev, now_iso())
        removed = int(await self._trim(
            keys=[AUDIT_STREAM, ANCHOR_KEY],
            args=[str(seq), prev, anchor["at"], anchor["sig"], anchor["key_id"], f"{cutoff_ms}-0"],
        ))
        if removed <= 0:
            return 0
        cutoff = datetime.fromtimestamp(cutoff_ms / 1000, UTC).isoformat(timespec="seconds")
        await self.record_event("audit_trimmed", actor_name="Riposte retention", result="ok",
                                detail=f"removed {removed} entries older than {cutoff} ({days:g} days); the trail "
                                       f"now starts at seq {seq}, marked by a signed anchor",
                                removed=removed, first_kept_seq=seq, cutoff=cutoff)
        await self.checkpoint()
        log.info("audit retention removed %d entries older than %s", removed, cutoff)
        return removed

    # Reading

    async def scan(self, start: str = "-", end: str = "+") -> AsyncIterator[tuple[str, dict[str, str]]]:
        """Every entry from start to end (inclusive stream ids), oldest first, read in batches."""
        low = start
        while True:
            batch = await self._redis.xrange(AUDIT_STREAM, min=low, max=end, count=READ_BATCH) or []
            for entry_id, raw in batch:
                yield str(entry_id), {str(name): str(value) for name, value in (raw or {}).items()}
            if len(batch) < READ_BATCH:
                return
            low = f"({batch[-1][0]!s}"

    async def verify(self, newest: int | None = None) -> Verdict:
        """Check the whole trail (or only the links among its newest N entries, e.g. for a card)."""
        anchor = await self._hash(ANCHOR_KEY)
        checkpoint = await self._hash(CHECKPOINT_KEY)
        head = await self._hash(HEAD_KEY)
        start, from_start = "-", True
        if newest:
            window = await self._redis.xrevrange(AUDIT_STREAM, count=newest + 1) or []
            if len(window) > newest:
                start, from_start = str(window[-2][0]), False
        checker = Checker(await self.key(), anchor=anchor or None, checkpoint=checkpoint or None, head=head or None,
                          from_start=from_start)
        async for entry_id, fields in self.scan(start):
            if not checker.add(entry_id, fields):
                break
        return checker.finish()

    async def entries(
        self, *, case_id: str | None = None, target: str | None = None, limit: int = 1000
    ) -> list[dict[str, str]]:
        """Newest last. Filters by case or by target (object id or UPN) among the newest `limit` entries."""
        raw = await self._redis.xrevrange(AUDIT_STREAM, count=limit) or []
        found = [{"id": str(entry_id), **_decoded(fields)} for entry_id, fields in raw]
        found = [fields for fields in found if matches(fields, case_id, target)]
        found.reverse()
        return found

    async def page(self, *, case_id: str | None, target: str | None, size: int, before: str = "",
                   after: str = "", scan_limit: int = 5000) -> Page:
        """`size` matching entries just before `before` (or the newest), or just after `after`; oldest first.
        At most `scan_limit` entries are read per page."""
        if after:
            found = await self._matching(f"({after}", case_id, target, size, scan_limit, forward=True)
            return Page(found[:size], has_older=True, has_newer=len(found) > size)
        found = await self._matching(f"({before}" if before else "+", case_id, target, size, scan_limit,
                                     forward=False)
        shown = found[:size]
        shown.reverse()
        return Page(shown, has_older=len(found) > size, has_newer=bool(before))

    async def _matching(self, edge: str, case_id: str | None, target: str | None, size: int, scan_limit: int, *,
                        forward: bool) -> list[dict[str, str]]:
        """Up to size + 1 matching entries from `edge` on (older to newer when `forward`, else newer to older), in
        the order read; at most `scan_limit` entries read."""
        found: list[dict[str, str]] = []
        scanned = 0
        while len(found) <= size and scanned < scan_limit:
            if forward:
                batch = await self._redis.xrange(AUDIT_STREAM, min=edge, max="+", count=READ_BATCH) or []
            else:
                batch = await self._redis.xrevrange(AUDIT_STREAM, max=edge, min="-", count=READ_BATCH) or []
            scanned += len(batch)
            found += [{"id": str(i), **_decoded(f)} for i, f in batch if matches(_decoded(f), case_id, target)]
            if len(batch) < READ_BATCH:
                break
            edge = f"({batch[-1][0]!s}"
        return found


def _decoded(raw: Mapping[Any, Any] | None) -> dict[str, str]:
    return {str(name): str(value) for name, value in (raw or {}).items()}


def matches(fields: Mapping[str, str], case_id: str | None, target: str | None) -> bool:
    if case_id and fields.get("case_id") != case_id:
        return False
    if target:
        targets = (fields.get("target_id", "").lower(), fields.get("target_upn", "").lower())
        return target.lower() in targets
    return True


async def retention_forever(audit: RedisAudit, interval_seconds: float | None = None) -> None:
    """The audit's housekeeping for the app's background tasks: a signed checkpoint when entries have waited
    RIPOSTE_AUDIT_CHECKPOINT_MINUTES for one, and trimming past RIPOSTE_AUDIT_RETENTION_DAYS."""
    settings = audit._settings
    every = interval_seconds or min(settings.audit_checkpoint_minutes * 60, 3600.0)
    while True:
        try:
            await audit.checkpoint_if_due()
            await audit.trim()
        except Exception:  # Redis away for a while: try again next round
            log.exception("audit housekeeping failed; retrying in %.0f s", every)
        await asyncio.sleep(every)


def startup_settings(settings: Settings) -> dict[str, str]:
    """The settings worth an audit event at start-up (record_event("settings_at_startup", **…)): names and
    values; secrets only named (which are set), and no password inside REDIS_URL."""
    shown: dict[str, str] = {}
    sensitive: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            if value.get_secret_value():
                sensitive.append(name)
            continue
        if SECRET_NAME.search(name):
            continue
        shown[name] = value if isinstance(value, str) else json.dumps(value)
    if settings.redis_url:
        parts = urlsplit(settings.redis_url)
        port = f":{parts.port}" if parts.port else ""
        shown["redis_url"] = parts._replace(netloc=f"{parts.hostname or ''}{port}").geturl()
    shown["sensitive_settings_set"] = ",".join(sensitive)
    return shown
