"""Append-only audit trail in a Redis stream: an intent before every action, an outcome after. No secrets."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from redis.asyncio import Redis

from actions.runner import AuditEntry

AUDIT_STREAM = "riposte:audit"
# Bounded so a noisy tenant cannot fill Redis; ~ trimming keeps XADD O(1).
AUDIT_MAX_ENTRIES = 1_000_000


class RedisAudit:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def record(self, entry: AuditEntry) -> str:
        fields = {key: str(value) for key, value in dataclasses.asdict(entry).items()}
        fields["at"] = datetime.now(UTC).isoformat(timespec="seconds")
        entry_id = await self._redis.xadd(
            AUDIT_STREAM, fields, maxlen=AUDIT_MAX_ENTRIES, approximate=True  # type: ignore[arg-type]
        )
        return str(entry_id)

    async def entries(
        self, *, case_id: str | None = None, target: str | None = None, limit: int = 1000
    ) -> list[dict[str, str]]:
        """Newest last. Filters by case or by target (object id or UPN)."""
        raw = await self._redis.xrevrange(AUDIT_STREAM, count=limit) or []
        found: list[dict[str, str]] = []
        for entry_id, raw_fields in raw:
            fields = {str(key): str(value) for key, value in (raw_fields or {}).items()}
            if case_id and fields.get("case_id") != case_id:
                continue
            targets = (fields.get("target_id", "").lower(), fields.get("target_upn", "").lower())
            if target and target.lower() not in targets:
                continue
            found.append({"id": str(entry_id), **fields})
        found.reverse()
        return found
