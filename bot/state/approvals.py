"""Second-person approval for risky actions: requests in Redis, decided once, expiring on their own."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from bot.state.cases import CASE_TTL_SECONDS
from bot.state.states import ApprovalState

PENDING_INDEX = "riposte:approvals:pending"
DECISION_CLAIM_SECONDS = 120


def _key(request_id: str) -> str:
    return f"riposte:approval:{request_id}"


class ApprovalRequest(BaseModel):
    """Kept in Redis as JSON (pydantic); unknown fields are ignored, missing ones take their defaults."""

    id: str
    case_id: str
    action: str
    item: str
    item_label: str
    requester_id: str
    requester_name: str
    created_at: str
    expires_at: str
    options: dict[str, Any] = Field(default_factory=dict)
    state: ApprovalState = ApprovalState.PENDING
    decided_by_id: str = ""
    decided_by_name: str = ""
    decided_at: str = ""
    reason: str = ""
    activity_id: str = ""  # the approval card's message in the case thread
    thread: dict[str, Any] = Field(default_factory=dict)  # where it was posted, when not in the case's thread
    outcome: str = ""  # how the approved action went, as its card says (drawn by bot/approvals/cards.py)

    @property
    def expired(self) -> bool:
        return datetime.fromisoformat(self.expires_at) <= datetime.now(UTC)


def new_request(case_id: str, action: str, item: str, item_label: str, requester_id: str, requester_name: str,
                options: dict[str, Any], minutes: float) -> ApprovalRequest:
    now = datetime.now(UTC)
    return ApprovalRequest(
        id=secrets.token_hex(8), case_id=case_id, action=action, item=item, item_label=item_label,
        requester_id=requester_id, requester_name=requester_name, options=options,
        created_at=now.isoformat(timespec="seconds"),
        expires_at=(now + timedelta(minutes=minutes)).isoformat(timespec="seconds"),
    )


class ApprovalStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def save(self, request: ApprovalRequest) -> None:
        await self._redis.set(_key(request.id), request.model_dump_json(), ex=CASE_TTL_SECONDS)
        if request.state == ApprovalState.PENDING:
            expires = datetime.fromisoformat(request.expires_at).timestamp()
            await self._redis.zadd(PENDING_INDEX, {request.id: expires})
        else:
            await self._redis.zrem(PENDING_INDEX, request.id)

    async def get(self, request_id: str) -> ApprovalRequest | None:
        raw = await self._redis.get(_key(request_id))
        return ApprovalRequest.model_validate_json(raw) if raw else None

    async def claim_decision(self, request_id: str, decider_id: str) -> bool:
        """Only one decision per request, whichever replica and whoever clicks first.

        The claim outlives any decision in progress but not a crash: once it lapses, a request still saved as
        pending (its decider died before saving) can be expired by the sweep instead of staying stuck."""
        key = f"{_key(request_id)}:decided"
        return bool(await self._redis.set(key, decider_id, nx=True, ex=DECISION_CLAIM_SECONDS))

    async def due(self) -> list[str]:
        """Pending requests whose time is up."""
        ids = await self._redis.zrangebyscore(PENDING_INDEX, "-inf", time.time())
        return [str(request_id) for request_id in ids]

    async def forget(self, request_id: str) -> None:
        """A request whose record is gone: stop sweeping it."""
        await self._redis.zrem(PENDING_INDEX, request_id)
