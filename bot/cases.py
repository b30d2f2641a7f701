"""Cases in Redis: the alert, the resolved target, where its card lives, and what was done on it.

Everything a click needs is looked up here by case id; nothing is trusted from the card itself.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from actions.spec import TargetUser
from bot.alerts import Alert

CASE_TTL_SECONDS = 90 * 24 * 3600
CLAIM_TTL_SECONDS = 3600


def _case_key(case_id: str) -> str:
    return f"riposte:case:{case_id}"


def _records_key(case_id: str) -> str:
    return f"riposte:case:{case_id}:actions"


@dataclass
class Case:
    id: str
    alert: Alert
    nonce: str
    created_at: str
    target: TargetUser | None = None
    target_problem: str = ""  # why the target could not be resolved, shown on the card
    offered: tuple[str, ...] = ()
    conversation: dict[str, Any] | None = None  # serialised ConversationReference of the card's thread
    activity_id: str | None = None

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["alert"] = self.alert.to_json()
        return json.dumps(data)

    @classmethod
    def from_json(cls, raw: str) -> Case:
        data = json.loads(raw)
        data["alert"] = Alert.from_json(data["alert"])
        if data.get("target"):
            data["target"] = TargetUser(**{**data["target"], "admin_roles": tuple(data["target"]["admin_roles"])})
        data["offered"] = tuple(data.get("offered", ()))
        return cls(**data)


@dataclass
class ActionRecord:
    """The state of one action on one case, as the card shows it."""

    action: str
    state: str  # running | done | failed | interrupted
    actor_id: str
    actor_name: str
    started_at: str
    finished_at: str = ""
    summary: str = ""
    reversal: str = ""
    request_id: str = ""
    undo: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> ActionRecord:
        return cls(**json.loads(raw))


class CaseStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def claim_alert(self, source: str, alert_id: str, case_id: str) -> str | None:
        """Reserve the source alert for `case_id`; return the existing case id if it was already taken."""
        key = f"riposte:alert:{source}:{alert_id}"
        if await self._redis.set(key, case_id, nx=True, ex=CASE_TTL_SECONDS):
            return None
        existing = await self._redis.get(key)
        return str(existing) if existing else None

    async def release_alert(self, source: str, alert_id: str) -> None:
        await self._redis.delete(f"riposte:alert:{source}:{alert_id}")

    async def save(self, case: Case) -> None:
        await self._redis.set(_case_key(case.id), case.to_json(), ex=CASE_TTL_SECONDS)

    async def get(self, case_id: str) -> Case | None:
        raw = await self._redis.get(_case_key(case_id))
        return Case.from_json(str(raw)) if raw else None

    async def claim_action(self, case_id: str, action: str, actor_id: str) -> bool:
        """Exactly-once guard shared by every replica: only the first claimant runs the action."""
        claimed = await self._redis.set(f"riposte:claim:{case_id}:{action}", actor_id, nx=True, ex=CLAIM_TTL_SECONDS)
        return bool(claimed)

    async def release_action(self, case_id: str, action: str) -> None:
        """After a failure, so the action can be tried again."""
        await self._redis.delete(f"riposte:claim:{case_id}:{action}")

    async def put_record(self, case_id: str, record: ActionRecord) -> None:
        key = _records_key(case_id)
        await self._redis.hset(key, record.action, record.to_json())  # type: ignore[misc]
        await self._redis.expire(key, CASE_TTL_SECONDS)

    async def records(self, case_id: str) -> dict[str, ActionRecord]:
        raw = await self._redis.hgetall(_records_key(case_id))  # type: ignore[misc]
        return {str(name): ActionRecord.from_json(str(value)) for name, value in raw.items()}
