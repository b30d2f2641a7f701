"""Audit entries about actions and decisions, built in one place: `entry` takes the actor and the target as they
are and spells out every field the trail keeps (who, with which roles, on whom, in which case). The trail
(bot/audit/trail.py) adds the time, the tenant, the correlation id and the chain fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from actions.spec import Actor, TargetUser, roles_text


@dataclass(frozen=True)
class AuditEntry:
    phase: str  # intent | outcome | refused | interrupted | cancelled | approval_requested | approved | ...
    action: str
    actor_id: str
    actor_name: str
    case_id: str
    target_id: str = ""
    target_upn: str = ""
    result: str = ""  # ok | failed | refused | interrupted | pending
    detail: str = ""
    request_id: str = ""
    decision: str = ""  # approve | reject: on an approval decision (its card verb); the action is what it decides
    # Optional context; empty fields are not stored. The audit adds the time, the tenant and the chain fields.
    actor_upn: str = ""
    actor_roles: str = ""  # roles held at that moment, comma-separated (roles_text)
    tenant: str = ""
    correlation_id: str = ""
    state_before: str = ""  # an action's outcome: what its read-back showed before it ran ("accountEnabled true")
    state_after: str = ""  # ... and after ("accountEnabled false")
    undo_of: str = ""  # an undo: the audit entry id (stream id) of the outcome it reverses
    signed_in: str = ""  # delegated mode: whose own Entra token ran the Graph call, "Name (upn or object id)"


class AuditSink(Protocol):
    async def record(self, entry: AuditEntry) -> str:
        """Write the entry; return its id."""
        ...


def actor_fields(actor: Actor) -> dict[str, str]:
    """Who, as every entry and event names them: object id, name, UPN, and the roles held at that moment."""
    return {"actor_id": actor.id, "actor_name": actor.name, "actor_upn": actor.upn,
            "actor_roles": roles_text(actor.roles)}


def entry(phase: str, action: str, actor: Actor, *, case_id: str = "", target: TargetUser | None = None,
          result: str = "", detail: str = "", request_id: str = "", decision: str = "", state_before: str = "",
          state_after: str = "", undo_of: str = "", signed_in: str = "") -> AuditEntry:
    return AuditEntry(
        phase=phase, action=action, case_id=case_id, **actor_fields(actor),
        target_id=target.id if target else "", target_upn=target.upn if target else "",
        result=result, detail=detail, request_id=request_id, decision=decision, state_before=state_before,
        state_after=state_after, undo_of=undo_of, signed_in=signed_in,
    )
