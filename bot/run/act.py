"""One path to act: permit → approval → claim → start, whoever asks (a click on a card's button or a typed
command's Confirm, an approver's Approve, automation). Each caller says how approval goes for it; a refusal is
audited and counted here, for every caller alike. What the caller shows for each ending is its own business."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from actions.runner import ActionResult, Refused
from actions.spec import SignedIn
from bot.access.permission import permit
from bot.cards.elements import Link
from bot.clicks.answered import Turn
from bot.run.execution import OnFinished, Run, start
from bot.services import Services
from bot.signin import rules as signin_rules
from bot.signin.tokens import SignInRefused

log = logging.getLogger(__name__)


class Approval(StrEnum):
    ASK = "ask"  # a person asked: what the policy says needs approval waits for an approver
    GRANTED = "granted"  # an approver approved this very run (its request holds the claim)
    NEVER = "never"  # automation: what needs approval is refused, it never grants itself


class Ending(StrEnum):
    REFUSED = "refused"  # not allowed (the reason is audited and counted)
    BUSY = "busy"  # running, done or waiting for approval already: nothing changed
    NEEDS_APPROVAL = "needs_approval"  # the claim is held for the approval request the caller makes
    HELD = "held"  # the caller's own gate said no (automation's hourly cap): nothing ran, the claim is free
    NOT_STARTED = "not_started"  # the audit intent could not be written: nothing ran, the claim is free
    STARTED = "started"  # running (in the background), or finished for an inline action (its result)


@dataclass(frozen=True)
class Acted:
    ending: Ending
    refusal: str = ""
    link: Link | None = None  # a button to where a refusal can be mended (SignInRefused.link)
    result: ActionResult | None = None  # an inline action's result: it finished before act returned


Admit = Callable[[], Awaitable[bool]]
# Delegated mode (bot/signin): the person asking, signed in, when their own token must run it; may raise
# SignInAnswer (the click is answered with a sign-in request) or SignInRefused (a refusal, audited).
SignIn = Callable[[], Awaitable[SignedIn | None]]


async def refusal(services: Services, run: Run, approval: Approval) -> str | None:
    """Why `run` may not go ahead, or None: the permission rails, and approval where it cannot be asked for.
    Records nothing (automation's dry run asks this too)."""
    assert run.case.target is not None
    try:
        await permit(services, run.spec, run.actor, run.case.target)
    except Refused as refused:
        return str(refused)
    if approval is Approval.NEVER and services.policy.needs_approval(run.spec.name, run.case.target):
        return f"{run.spec.title} needs approval, which automation never grants itself"
    if approval is Approval.NEVER and signin_rules.needs_person(services.settings, run.spec, run.case.target):
        return f"{run.spec.title} runs with a person's own Entra sign-in here, which automation never has"
    return None


async def refuse(services: Services, run: Run, reason: str) -> None:
    """A refusal, audited (with who asked and the roles they held) and counted, whoever asked."""
    services.metrics.count("riposte_refusals_total", action=run.spec.name)
    await services.runner.record_refusal(run.spec, run.actor, run.case.target, run.case.id, reason)


async def refused(services: Services, run: Run, approval: Approval = Approval.ASK) -> str | None:
    """`refusal`, audited and counted when there is one (a listing click checks this before it lists)."""
    reason = await refusal(services, run, approval)
    if reason:
        await refuse(services, run, reason)
    return reason


async def act(services: Services, run: Run, approval: Approval, turn: Turn | None, *, admit: Admit | None = None,
              on_finished: OnFinished | None = None, sign_in: SignIn | None = None) -> Acted:
    """Permit, then approval, then the action's claim (once per case and item, across replicas; a listing is never
    claimed), then `admit` (the caller's own last word), then start. Approval is decided before the claim (refused
    for automation) and asked for after it (the request holds the claim, so two clicks never ask twice). `turn`:
    the click waiting for its answer (None for automation)."""
    reason = await refused(services, run, approval)
    if reason:
        return Acted(Ending.REFUSED, refusal=reason)
    assert run.case.target is not None
    # After Riposte's rails, before the claim (a sign-in request claims nothing): the asker's own token, when it runs
    # at once (no approver comes between).
    if sign_in is not None and approval is Approval.ASK and not services.policy.needs_approval(
            run.spec.name, run.case.target):
        try:
            run.signed_in = await sign_in()
        except SignInRefused as refusal_:
            await refuse(services, run, str(refusal_))
            return Acted(Ending.REFUSED, refusal=str(refusal_), link=refusal_.link)
    claimed = run.spec.read_only or approval is Approval.GRANTED  # an approval request holds the claim it won
    if not claimed and not await services.cases.claim_action(run.case.id, run.key, run.actor.id):
        return Acted(Ending.BUSY)
    if approval is Approval.ASK and services.policy.needs_approval(run.spec.name, run.case.target):
        return Acted(Ending.NEEDS_APPROVAL)
    if admit is not None and not await admit():
        if not run.spec.read_only:
            await services.cases.release_action(run.case.id, run.key)
        return Acted(Ending.HELD)
    try:
        result = await start(services, run, on_finished, turn)
    except Exception:  # begin() released the claim: nothing ran
        log.exception("audit intent could not be written; %s on case %s not run", run.spec.name, run.case.id)
        return Acted(Ending.NOT_STARTED)
    return Acted(Ending.STARTED, result=result)
