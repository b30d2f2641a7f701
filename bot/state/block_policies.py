"""Per user, the Conditional Access block policy Riposte created: `unblock <user>` finds it from any
conversation, and a second block is refused while the first stands and blocks (unblock removes the one it knows)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from actions.errors import NotFound, RiposteError
from actions.spec import TargetUser
from bot.services import Services


def key(user_id: str) -> str:
    return f"riposte:block-policy:{user_id.lower()}"


async def known(services: Services, user_id: str) -> dict[str, Any] | None:
    raw = await services.redis.get(key(user_id))
    return json.loads(str(raw)) if raw else None


async def refuse_second(services: Services, target: TargetUser | None) -> dict[str, Any] | None:
    """Refuse a second block while the first still blocks. A policy that no longer blocks is no reason to refuse:
    deleted (block again), or disabled / report-only (someone switched it off: the new block replaces it, and
    block_signin deletes it, so the user keeps one Riposte policy). Returns the policy to replace, if any."""
    policy = await known(services, target.id) if target else None
    if target is None or policy is None:
        return None
    try:
        current = await services.tenant.get_ca_policy(str(policy["policy_id"]))
    except NotFound:
        return None  # deleted outside Riposte: block again
    name = policy.get("displayName")
    if current.get("state") != "enabled":
        return {"policy_id": str(policy["policy_id"]), "displayName": str(current.get("displayName") or name),
                "state": str(current.get("state"))}
    raise RiposteError(f"{target.label} is already blocked by the Riposte policy “{name}”.")


async def remember(services: Services, action: str, target: TargetUser | None, saved: Mapping[str, Any] | None) -> None:
    if target is None:
        return
    if action == "block_signin" and saved:
        await services.redis.set(key(target.id), json.dumps(dict(saved)))
    elif action == "unblock_signin":
        await services.redis.delete(key(target.id))
