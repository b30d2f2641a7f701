"""Runs one action: role → applicability → audit intent → call → audit outcome → result.

`authorize` and `record_intent` happen before the click is answered (so a refusal is instant and nothing runs
without an intent on record); `execute` runs in the background and always leaves an outcome in the audit.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from actions.errors import RiposteError, ServiceError
from actions.spec import ActionContext, ActionSpec, Exchange, Item, Outcome, Role, TargetUser, Tenant
from actions.verification import RETRY_DELAYS, verify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who clicked or typed: always taken from the authenticated activity."""

    id: str  # Entra object id
    name: str
    roles: frozenset[Role] = frozenset()
    upn: str = ""  # when the activity or Graph told it; Teams activities usually do not


def roles_text(roles: frozenset[Role]) -> str:
    """The roles someone held at that moment, as the audit records them."""
    return ",".join(sorted(role.value for role in roles))


@dataclass(frozen=True)
class AuditEntry:
    phase: str  # intent | outcome | refused | interrupted
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
    state_before: str = ""
    state_after: str = ""
    undo_of: str = ""  # for an undo: "<case id>/<action it reverses>"


class AuditSink(Protocol):
    async def record(self, entry: AuditEntry) -> str: ...


class Refused(RiposteError):
    """The actor may not run this action on this target; the message says why and what is needed."""


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    outcome: Outcome | None = None
    error: str = ""
    request_id: str | None = None


def authorize(spec: ActionSpec, actor: Actor, target: TargetUser, required: Role | None = None) -> None:
    """Raise Refused unless the actor holds the role the action (and the target) require.

    `required` is the policy's role for this action (defaults to the action's own)."""
    role = required or spec.role
    if role not in actor.roles and Role.ADMIN_RESPONDER not in actor.roles:
        raise Refused(f"{spec.title} needs the {role.value} role; {actor.name} does not hold it.")
    if target.is_admin and Role.ADMIN_RESPONDER not in actor.roles:
        raise Refused(
            f"{target.label} holds {target.privilege}: acting on an administrator needs the admin_responder role."
        )
    reason = spec.not_applicable(target)
    if reason:
        raise Refused(f"{spec.title} does not apply: {reason}")


def _entry(phase: str, spec: ActionSpec, actor: Actor, target: TargetUser, case_id: str, **extra: Any) -> AuditEntry:
    return AuditEntry(
        phase=phase,
        action=spec.name,
        actor_id=actor.id,
        actor_name=actor.name,
        case_id=case_id,
        target_id=target.id,
        target_upn=target.upn,
        actor_upn=actor.upn,
        actor_roles=roles_text(actor.roles),
        **extra,
    )


class ActionRunner:
    def __init__(self, tenant: Tenant, audit: AuditSink, exchange: Exchange | None = None,
                 read_back_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self._tenant = tenant
        self._audit = audit
        self._exchange = exchange
        self._read_back_delays = tuple(read_back_delays)

    @property
    def exchange(self) -> Exchange | None:
        return self._exchange

    async def record_refusal(
        self, spec: ActionSpec, actor: Actor, target: TargetUser, case_id: str, reason: str
    ) -> None:
        await self._audit.record(_entry("refused", spec, actor, target, case_id, result="refused", detail=reason))

    async def record_intent(self, spec: ActionSpec, actor: Actor, target: TargetUser, case_id: str,
                            item: Item | None = None, options: Mapping[str, Any] | None = None) -> None:
        """Written before anything changes; if this raises, the action must not run. Says exactly what will run:
        on which item (an app, a rule) and with which choices (app vs. consent, the bundle's steps)."""
        what = [f"item: {item.label} ({item.id})"] if item else []
        what += [f"{name}: {value}" for name, value in sorted((options or {}).items())]
        await self._audit.record(_entry("intent", spec, actor, target, case_id, result="pending",
                                        detail="; ".join(what)))

    async def record_interrupted(self, spec: ActionSpec, actor: Actor, target: TargetUser, case_id: str,
                                 detail: str = "the bot shut down before Graph answered; check the user's state "
                                               "before retrying") -> None:
        await self._audit.record(
            _entry("interrupted", spec, actor, target, case_id, result="interrupted", detail=detail)
        )

    async def record_outcome(
        self, spec: ActionSpec, actor: Actor, target: TargetUser, case_id: str, result: ActionResult
    ) -> None:
        detail = result.outcome.summary if result.outcome else result.error
        if result.outcome and result.outcome.verification:
            detail += f" {result.outcome.verification.message}"
        await self._audit.record(
            _entry(
                "outcome", spec, actor, target, case_id,
                result="ok" if result.ok else "failed",
                detail=detail,
                request_id=result.request_id or "",
            )
        )

    async def execute(
        self,
        spec: ActionSpec,
        actor: Actor,
        target: TargetUser,
        case_id: str,
        *,
        item: Item | None = None,
        saved: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        started_at: str = "",
        record: bool = True,
    ) -> ActionResult:
        """Run the action and read it back. The outcome goes to the audit unless `record` is False: then the caller
        writes it (bot.run.execution, once it holds the right to settle the run)."""
        context = ActionContext(
            tenant=self._tenant, target=target, case_id=case_id, exchange=self._exchange, item=item, saved=saved,
            options=options or {}, started_at=started_at or datetime.now(UTC).isoformat(timespec="seconds"),
        )
        try:
            outcome = await spec.run(context)
        except ServiceError as error:
            result = ActionResult(ok=False, error=f"{error} Nothing else was changed.", request_id=error.request_id)
        except RiposteError as error:
            result = ActionResult(ok=False, error=f"{error} Nothing else was changed.")
        except Exception:
            error_id = secrets.token_hex(4)
            log.exception("action %s on case %s failed unexpectedly (error id %s)", spec.name, case_id, error_id)
            result = ActionResult(
                ok=False,
                error=f"Unexpected error (id {error_id}, in the bot's log). Nothing else was changed.",
            )
        else:
            # Graph's 2xx says the change was accepted, not that it holds: read it back before saying "done".
            outcome = replace(outcome, verification=await verify(spec, context, outcome,
                                                                  self._read_back_delays))
            result = ActionResult(ok=True, outcome=outcome, request_id=outcome.request_id)
        if not record:
            return result
        try:
            await self.record_outcome(spec, actor, target, case_id, result)
        except Exception:
            # The change happened (or not) whatever the audit store says: keep the result, log what was lost.
            log.exception("audit outcome of %s on case %s (%s) could not be written", spec.name, case_id,
                          "ok" if result.ok else "failed")
        return result
