"""Cases in Redis: the alert, the resolved target, where its card lives, and what was done on it.

Everything a click needs is looked up here by case id; nothing is trusted from the card itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter
from redis.asyncio import Redis

from actions.spec import Item, TargetUser
from bot.intake.alerts import Alert
from bot.state.states import RunState

CASE_TTL_SECONDS = 90 * 24 * 3600
CLAIM_TTL_SECONDS = 3600


def case_key(case_id: str) -> str:
    return f"riposte:case:{case_id}"


def _records_key(case_id: str) -> str:
    return f"riposte:case:{case_id}:actions"


def _lease_key(case_id: str, key: str) -> str:
    return f"riposte:lease:{case_id}:{key}"


class Case(BaseModel):
    """Kept in Redis as JSON (pydantic): records written by earlier versions load, their fields since dropped are
    ignored (pydantic's default for unknown fields) and the ones added since take their defaults."""

    id: str
    alert: Alert
    nonce: str
    created_at: str
    target: TargetUser | None = None
    target_problem: str = ""  # why the target could not be resolved, shown on the card
    offered: tuple[str, ...] = ()
    conversation: dict[str, Any] | None = None  # serialised ConversationReference of the card's thread
    activity_id: str | None = None
    kind: str = "alert"  # alert | command (a typed command's confirm card) | status
    closed: str = ""  # why the card takes no more clicks (e.g. "Cancelled by Rita Responder")
    automation: str = ""  # what automation did or would do with it (bot/automation/run.py), shown on the card


def record_key(action: str, item: str = "") -> str:
    """Records, claims and saved copies are per action and, for per-item actions, per item."""
    return f"{action}|{item}"


class ActionRecord(BaseModel):
    """The state of one action on one case, as the card shows it. Kept in Redis as JSON (pydantic); `undo`, written
    by earlier versions (the action's spec now says what reverses it), is ignored like any unknown field."""

    action: str
    state: RunState
    actor_id: str
    actor_name: str
    started_at: str
    finished_at: str = ""
    summary: str = ""
    reversal: str = ""
    request_id: str = ""
    item: str = ""
    item_label: str = ""
    approved_by: str = ""
    steps: list[str] = Field(default_factory=list)  # bundle: one line per step
    verification: str = ""  # the read-back after the run: "Verified: …" or "Graph accepted the change but …"
    verified: bool = True  # False: the read-back did not show the change (the card warns)
    run_id: str = ""  # one run of the action: its lease and the settling of its outcome are per run
    # The choices the run used (bundle steps, app mode, excluded break-glass ids; never a secret): crash recovery
    # reads the action back with them.
    options: dict[str, Any] = Field(default_factory=dict)
    # Delegated mode: whose own Entra rights ran it, "Name (upn)" (never a token); left out when empty, so a record
    # of an app-run action keeps the shape earlier versions wrote and read.
    signed_in: str = Field("", exclude_if=lambda value: not value)
    # For the audit, should recovery write the run's ending: who ran it as Entra had them then.
    actor_upn: str = ""
    actor_roles: str = ""  # actions.spec.roles_text
    audit_id: str = ""  # the audit entry of its outcome: an undo of it links there (AuditEntry.undo_of)
    undo_of: str = ""  # this run reverses that outcome

    @property
    def key(self) -> str:
        return record_key(self.action, self.item)


# The items last listed on a card, per kind: a JSON list in the case's `items` hash.
LISTING = TypeAdapter(list[Item])


# KEYS: the run's settle key. ARGV: who asks, TTL, holders it may take over. Returns the previous holder ('' if
# none) when granted, nil otherwise.
_SETTLE_SCRIPT = """
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return ''
end
if holder == ARGV[1] then return holder end
for i = 3, #ARGV do
  if holder == ARGV[i] then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
    return holder
  end
end
return nil
"""
GROUPED_SUFFIX = ":grouped"
GROUPED_KEPT_ON_CARD = 3


def _grouped_key(case_id: str) -> str:
    return case_key(case_id) + GROUPED_SUFFIX


class CaseStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._settle = redis.register_script(_SETTLE_SCRIPT)

    async def grouped(self, case_id: str) -> tuple[tuple[Alert, ...], int]:
        """The latest alerts that joined the case, and how many joined in all."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.lrange(_grouped_key(case_id), -GROUPED_KEPT_ON_CARD, -1)
            pipe.llen(_grouped_key(case_id))
            latest, count = await pipe.execute()
        return tuple(Alert.model_validate_json(raw) for raw in latest), int(count)

    async def all_grouped(self, case_id: str) -> list[Alert]:
        raw = await self._redis.lrange(_grouped_key(case_id), 0, -1)  # type: ignore[misc]
        return [Alert.model_validate_json(item) for item in raw]

    async def claim_alert(self, source: str, alert_id: str, case_id: str) -> str | None:
        """Reserve the source alert for `case_id`; return the existing case id if it was already taken."""
        key = f"riposte:alert:{source}:{alert_id}"
        if await self._redis.set(key, case_id, nx=True, ex=CASE_TTL_SECONDS):
            return None
        existing = await self._redis.get(key)
        return str(existing) if existing else None

    async def claim_alert_for(self, source: str, alert_id: str, case_id: str) -> None:
        """The source alert belongs to another (grouping) case: its repeats are duplicates of that one."""
        await self._redis.set(f"riposte:alert:{source}:{alert_id}", case_id, ex=CASE_TTL_SECONDS)

    async def release_alert(self, source: str, alert_id: str) -> None:
        await self._redis.delete(f"riposte:alert:{source}:{alert_id}")

    async def save(self, case: Case) -> None:
        await self._redis.set(case_key(case.id), case.model_dump_json(), ex=CASE_TTL_SECONDS)

    async def get(self, case_id: str) -> Case | None:
        raw = await self._redis.get(case_key(case_id))
        return Case.model_validate_json(raw) if raw else None

    async def claim_action(self, case_id: str, key: str, actor_id: str) -> bool:
        """Exactly-once guard shared by every replica: only the first claimant runs the action (on that item).

        A claim lapses after CLAIM_TTL_SECONDS unless kept (a last resort: a run whose process died is settled by
        recovery within a minute, see `lease`). It is kept after success (a second click is told who did it) and
        released after a failure or when the reverse action ran, so the action can be run again."""
        claimed = await self._redis.set(f"riposte:claim:{case_id}:{key}", actor_id, nx=True, ex=CLAIM_TTL_SECONDS)
        return bool(claimed)

    async def lease(self, case_id: str, key: str, run_id: str, seconds: int) -> None:
        """Hold (or renew) the lease of a running action: while it exists the run's process is alive. The claim
        is kept as long: whatever happens, only the run itself or the recovery of it releases it."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(_lease_key(case_id, key), run_id, ex=seconds)
            pipe.expire(f"riposte:claim:{case_id}:{key}", CLAIM_TTL_SECONDS)
            await pipe.execute()

    async def lease_left(self, case_id: str, key: str, run_id: str) -> float:
        """Seconds left on `run_id`'s lease; 0 when it lapsed (its process stopped renewing it)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(_lease_key(case_id, key))
            pipe.pttl(_lease_key(case_id, key))
            holder, left = await pipe.execute()
        return max(0, int(left)) / 1000 if holder is not None and str(holder) == run_id else 0.0

    async def end_lease(self, case_id: str, key: str) -> None:
        await self._redis.delete(_lease_key(case_id, key))

    async def settle(self, case_id: str, run_id: str, by: str, *, take_from: tuple[str, ...] = ()) -> str | None:
        """The one right to record how run `run_id` ended: its own process and any worker recovering it may race
        for it (a process that lost Redis for a while, a recovery that read the tenant), and only one wins. Granted
        again to the same `by` (a retry whose first answer was lost) and taken over from a holder in `take_from`
        (a run's process that settled but died or gave up before its record said so). Returns the previous holder
        ("" if none) when granted, None when not."""
        previous = await self._settle(keys=[f"riposte:settled:{case_id}:{run_id}"],
                                      args=[by, CASE_TTL_SECONDS, *take_from])
        return None if previous is None else str(previous)

    async def settled_by(self, case_id: str, run_id: str) -> str:
        return str(await self._redis.get(f"riposte:settled:{case_id}:{run_id}") or "")

    async def first_lapse(self, case_id: str, run_id: str) -> bool:
        """True the first time a recovery finds run `run_id`'s lease lapsed (then once more is needed)."""
        return bool(await self._redis.set(f"riposte:lapsed:{case_id}:{run_id}", "1", nx=True, ex=CASE_TTL_SECONDS))

    async def mark_settled(self, case_id: str, run_id: str, how: str) -> None:
        """Note how far the holder got (e.g. its audit ending written), for a recovery taking over."""
        await self._redis.set(f"riposte:settled:{case_id}:{run_id}", how, xx=True, keepttl=True)

    async def keep_claim(self, case_id: str, key: str, seconds: int = CASE_TTL_SECONDS) -> None:
        await self._redis.expire(f"riposte:claim:{case_id}:{key}", seconds)

    async def release_action(self, case_id: str, key: str) -> None:
        await self._redis.delete(f"riposte:claim:{case_id}:{key}")

    async def put_record(self, case_id: str, record: ActionRecord) -> None:
        key = _records_key(case_id)
        await self._redis.hset(key, record.key, record.model_dump_json())  # type: ignore[misc]
        await self._redis.expire(key, CASE_TTL_SECONDS)

    async def save_removed(self, case_id: str, key: str, saved: Mapping[str, Any]) -> None:
        """What a destructive action removed, kept next to the case so the undo restores exactly that."""
        redis_key = f"riposte:case:{case_id}:saved"
        await self._redis.hset(redis_key, key, json.dumps(saved))  # type: ignore[misc]
        await self._redis.expire(redis_key, CASE_TTL_SECONDS)

    async def removed(self, case_id: str, key: str) -> dict[str, Any] | None:
        raw = await self._redis.hget(f"riposte:case:{case_id}:saved", key)  # type: ignore[misc]
        return json.loads(raw) if raw else None

    async def saved_keys(self, case_id: str) -> frozenset[str]:
        keys = await self._redis.hkeys(f"riposte:case:{case_id}:saved")  # type: ignore[misc]
        return frozenset(str(key) for key in keys)

    async def card_state(
        self, case_id: str
    ) -> tuple[dict[str, ActionRecord], dict[str, list[Item]], frozenset[str], tuple[Alert, ...], int]:
        """Records, listings, saved-copy keys and grouped alerts in one round trip: every card drawn needs them."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(_records_key(case_id))
            pipe.hgetall(f"riposte:case:{case_id}:items")
            pipe.hkeys(f"riposte:case:{case_id}:saved")
            pipe.lrange(_grouped_key(case_id), -GROUPED_KEPT_ON_CARD, -1)
            pipe.llen(_grouped_key(case_id))
            records, items, saved, grouped, grouped_count = await pipe.execute()
        return (
            {str(key): ActionRecord.model_validate_json(value) for key, value in records.items()},
            {str(kind): LISTING.validate_json(value) for kind, value in items.items()},
            frozenset(str(key) for key in saved),
            tuple(Alert.model_validate_json(raw) for raw in grouped),
            int(grouped_count),
        )

    async def save_listing(self, case_id: str, kind: str, items: list[Item]) -> None:
        """The items last listed on the card: a per-item click is checked against this, never trusted as sent."""
        redis_key = f"riposte:case:{case_id}:items"
        # Delete first so the newest list is last in the (small, insertion-ordered) hash: the card shows it first.
        await self._redis.hdel(redis_key, kind)  # type: ignore[misc]
        await self._redis.hset(redis_key, kind, LISTING.dump_json(items))  # type: ignore[misc]
        await self._redis.expire(redis_key, CASE_TTL_SECONDS)

    async def listings(self, case_id: str) -> dict[str, list[Item]]:
        raw = await self._redis.hgetall(f"riposte:case:{case_id}:items")  # type: ignore[misc]
        return {str(kind): LISTING.validate_json(value) for kind, value in raw.items()}

    async def records(self, case_id: str) -> dict[str, ActionRecord]:
        raw = await self._redis.hgetall(_records_key(case_id))  # type: ignore[misc]
        return {str(key): ActionRecord.model_validate_json(value) for key, value in raw.items()}
