"""Runs one action: role → applicability → audit intent → state before → call → read-back → audit outcome.

`authorize` and `record_intent` happen before the click is answered (so a refusal is instant and nothing runs
without an intent on record); `execute` runs in the background and leaves an outcome in the audit (or hands it to
its caller, which records it once it holds the right to). Entries are built by actions.audit.entry.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from actions.audit import AuditSink, entry
from actions.errors import RiposteError, ServiceError
from actions.graph import acting_as
from actions.spec import ActionContext, ActionSpec, Actor, Exchange, Item, Outcome, Role, SignedIn, TargetUser, Tenant
from actions.verification import RETRY_DELAYS, state_before, verify

log = logging.getLogger(__name__)


def _label(person: SignedIn | None) -> str:
    return person.label if person else ""


class Refused(RiposteError):
    """The actor may not run this action on this target; the message says why and what is needed."""


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    outcome: Outcome | None = None
    error: str = ""
    request_id: str | None = None
    state_before: str = ""  # what the action's read-back showed before the call
    state_after: str = ""  # ... and after a run that went through (nothing is read after a failure)


def _state_after(outcome: Outcome) -> str:
    verification = outcome.verification
    if verification is None:
        return ""
    return verification.state or verification.observed if verification.checked else f"unknown ({verification.observed})"


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
        self, spec: ActionSpec, actor: Actor, target: TargetUser | None, case_id: str, reason: str
    ) -> None:
        await self._audit.record(entry("refused", spec.name, actor, case_id=case_id, target=target,
                                       result="refused", detail=reason))

    async def record_intent(self, spec: ActionSpec, actor: Actor, target: TargetUser, case_id: str,
                            item: Item | None = None, options: Mapping[str, Any] | None = None,
                            undo_of: str = "", signed_in: SignedIn | None = None) -> None:
        """Written before anything changes; if this raises, the action must not run. Says exactly what will run:
        on which item (an app, a rule), with which choices (app vs. consent, the bundle's steps) and, in delegated
        mode, with whose own Entra rights."""
        what = [f"item: {item.label} ({item.id})"] if item else []
        what += [f"{name}: {value}" for name, value in sorted((options or {}).items())]
        await self._audit.record(entry("intent", spec.name, actor, case_id=case_id, target=target,
                                       result="pending", detail="; ".join(what), undo_of=undo_of,
                                       signed_in=_label(signed_in)))

    async def record_interrupted(self, spec: ActionSpec, actor: Actor, target: TargetUser, case_id: str,
                                 detail: str = "the bot shut down before Graph answered; check the user's state "
                                               "before retrying", undo_of: str = "", state_after: str = "") -> None:
        await self._audit.record(entry("interrupted", spec.name, actor, case_id=case_id, target=target,
                                       result="interrupted", detail=detail, undo_of=undo_of,
                                       state_after=state_after))

    async def record_outcome(self, spec: ActionSpec, actor: Actor, target: TargetUser, case_id: str,
                             result: ActionResult, undo_of: str = "", signed_in: SignedIn | None = None) -> str:
        """The outcome with Graph's request id and the state before → after; returns the entry's id (an undo
        links to it)."""
        detail = result.outcome.summary if result.outcome else result.error
        if result.outcome and result.outcome.verification:
            detail += f" {result.outcome.verification.message}"
        return await self._audit.record(entry(
            "outcome", spec.name, actor, case_id=case_id, target=target, result="ok" if result.ok else "failed",
            detail=detail, request_id=result.request_id or "", state_before=result.state_before,
            state_after=result.state_after, undo_of=undo_of, signed_in=_label(signed_in),
        ))

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
        previous: Mapping[str, Any] | None = None,
        record: bool = True,
        signed_in: SignedIn | None = None,
    ) -> ActionResult:
        """Run the action and read it back. The outcome goes to the audit unless `record` is False: then the caller
        writes it (bot.run.execution, once it holds the right to settle the run). `signed_in`: the person whose own
        token the guarded Graph writes carry (delegated mode); reads and read-backs keep the app's."""
        context = ActionContext(
            tenant=self._tenant, target=target, case_id=case_id, exchange=self._exchange, item=item, saved=saved,
            options=options or {}, started_at=started_at or datetime.now(UTC).isoformat(timespec="seconds"),
            previous=previous,
        )
        before = await state_before(spec, context)  # for the audit's before → after; never stops the action
        try:
            with acting_as(signed_in):
                outcome = await spec.run(context)
        except ServiceError as error:
            result = ActionResult(ok=False, error=f"{error} Nothing else was changed.", request_id=error.request_id,
                                  state_before=before)
        except RiposteError as error:
            result = ActionResult(ok=False, error=f"{error} Nothing else was changed.", state_before=before)
        except Exception:
            error_id = secrets.token_hex(4)
            log.exception("action %s on case %s failed unexpectedly (error id %s)", spec.name, case_id, error_id)
            result = ActionResult(
                ok=False,
                error=f"Unexpected error (id {error_id}, in the bot's log). Nothing else was changed.",
                state_before=before,
            )
        else:
            # Graph's 2xx says the change was accepted, not that it holds: read it back before saying "done".
            outcome = replace(outcome, verification=await verify(spec, context, outcome, self._read_back_delays))
            result = ActionResult(ok=True, outcome=outcome, request_id=outcome.request_id, state_before=before,
                                  state_after=_state_after(outcome))
        if not record:
            return result
        try:
            await self.record_outcome(spec, actor, target, case_id, result, signed_in=signed_in)
        except Exception:
            # The change happened (or not) whatever the audit store says: keep the result, log what was lost.
            log.exception("audit outcome of %s on case %s (%s) could not be written", spec.name, case_id,
                          "ok" if result.ok else "failed")
        return result
