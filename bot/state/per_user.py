"""Saved copies kept per user, for actions that declare `kept_per_user` (block_signin's policy): the undo finds
the copy from any conversation (`unblock <user>`), and the action's next run gets it (ctx.previous) to decide
whether a second one is needed. The copy is set when the action is done and dropped when its undo is done."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from actions import ACTIONS
from actions.relations import kept_originals
from actions.spec import ActionSpec, Aspect, TargetUser
from bot.services import Services


def key(spec: ActionSpec, user_id: str) -> str:
    return f"riposte:{spec.kept_per_user}:{user_id.lower()}"


async def known(services: Services, spec: ActionSpec, user_id: str) -> dict[str, Any] | None:
    if not spec.kept_per_user:
        return None
    raw = await services.redis.get(key(spec, user_id))
    return json.loads(str(raw)) if raw else None


async def watched(services: Services, aspect: Aspect, user_id: str) -> dict[str, Any] | None:
    """The copy kept for the user by an action that changes `aspect` (the watch reads the block policy by it)."""
    for spec in ACTIONS.values():
        if spec.kept_per_user and aspect in spec.watches:
            copy = await known(services, spec, user_id)
            if copy:
                return copy
    return None


async def remember(services: Services, spec: ActionSpec, target: TargetUser | None,
                   saved: Mapping[str, Any] | None) -> None:
    """After `spec` is done: keep its copy, or drop the copies it reverses."""
    if target is None:
        return
    if spec.kept_per_user and saved:
        await services.redis.set(key(spec, target.id), json.dumps(dict(saved)))
    for original in kept_originals(spec.name):
        await services.redis.delete(key(original, target.id))
