"""Approvals in the case thread: request, approve (by someone else holding `approver`), reject with a reason,
expire. An approval runs the action exactly once. Its card is posted and updated by durable jobs
(bot/approvals/cards.py)."""

from __future__ import annotations

import asyncio
import logging

from actions import ACTIONS
from actions.audit import entry
from actions.runner import ActionResult, Refused
from actions.spec import Actor, SignedIn
from bot.access.levels import lacking
from bot.access.permission import permit_verb
from bot.approvals import cards as approval_cards
from bot.approvals.cards import view as _view
from bot.audit import case_notes as notes
from bot.cards.alert_card import message_card
from bot.clicks.answered import Turn
from bot.intake import alert_channel
from bot.pipeline.enqueue import refresh_card
from bot.pipeline.limiter import Priority
from bot.run.act import Approval, Ending, act
from bot.run.execution import Run, card_for, now_iso, secret_of
from bot.run.items import chosen_item
from bot.services import Card, Services
from bot.signin.handle import person_for
from bot.signin.tokens import ClickSignIn, SignInRefused
from bot.state.approvals import ApprovalRequest, new_request
from bot.state.cases import ActionRecord, Case, record_key
from bot.state.states import ApprovalState, RunState

log = logging.getLogger(__name__)
RIPOSTE = Actor(id="", name="Riposte")  # the bot itself: an expiry, a request it could not post


async def _audit(services: Services, request: ApprovalRequest, case: Case, phase: str, actor: Actor,
                 detail: str = "", decision: str = "") -> None:
    await services.audit.record(entry(phase, request.action, actor, case_id=case.id, target=case.target,
                                      result=phase, detail=detail, decision=decision))
    if phase in ("approved", "rejected", "expired"):
        services.metrics.count("riposte_approvals_total", action=request.action,
                               decision=decision or phase)
        await notes.approval_decided(services, case.id, phase, request.action, request.item_label, actor.name,
                                     detail)


async def _who(services: Services, object_id: str, name: str, turn: Turn) -> Actor:
    """The clicker with the roles they hold now and their UPN, for the audit (cached by the role check);
    without them if Entra cannot say: the entry goes in without them rather than not at all."""
    try:
        return await services.roles.actor(object_id, name, turn)
    except Exception:
        log.warning("roles of %s unknown for an approval audit entry", object_id)
        return Actor(id=object_id, name=name)


async def request(services: Services, run: Run, turn: Turn) -> Card:
    """The action's claim is held: record the request, queue the posting of its card (in the thread)."""
    case = run.case
    item = run.item
    if not approval_cards.in_thread(case) and not (await alert_channel.current(services))[0]:
        await services.cases.release_action(case.id, run.key)  # nothing asked: it may be asked again
        return await card_for(services, case, f"{run.spec.title} needs a second person's approval, and no approver "
                                              "can see a request from here: no alert channel is set. Type 'use this "
                                              "channel for alerts' in the security team's channel, then ask again.",
                              "attention")
    approval = new_request(case.id, run.spec.name, item.id if item else "", item.label if item else "",
                           run.actor.id, run.actor.name, run.options, services.settings.approval_timeout_minutes)
    await services.approvals.save(approval)
    # The request holds the action's claim until it is decided or expires, however long that is set to be.
    await services.cases.keep_claim(case.id, run.key, int(services.settings.approval_timeout_minutes * 60) + 3600)
    await _audit(services, approval, case, "approval_requested", run.actor)
    record = ActionRecord(action=run.spec.name, state=RunState.PENDING, actor_id=run.actor.id,
                          actor_name=run.actor.name, started_at=now_iso(), item=approval.item,
                          item_label=approval.item_label)
    await services.cases.put_record(case.id, record)

    # Durable: a card Teams does not take now (throttled, refusing) stays queued until it does, or the request
    # expires; the case card is updated once it is posted.
    await approval_cards.post(services, approval.id)
    return await card_for(services, case, f"{run.spec.title} needs a second person's approval: an approver must "
                                          "approve it in this thread.", "emphasis")


async def _close(services: Services, approval: ApprovalRequest, case: Case, state: RunState, summary: str) -> None:
    """End a request without running it: the action may be asked for again."""
    key = record_key(approval.action, approval.item)
    record = (await services.cases.records(case.id)).get(key)
    if record is not None:
        record.state, record.finished_at, record.summary = state, now_iso(), summary
        await services.cases.put_record(case.id, record)
    await services.cases.release_action(case.id, key)

    # Both cards through the outbox. The decider's answer is their view of the approval card, drawn from the same
    # saved request, so an update that reaches them before it shows the same.
    await approval_cards.refresh(services, approval.id)
    await refresh_card(services, case.id, Priority.INTERACTIVE)


async def _set_outcome(services: Services, approval: ApprovalRequest, outcome: str) -> None:
    """Keep what the approval card says of the approved action (its update draws it from the saved request)."""
    fresh = await services.approvals.get(approval.id) or approval
    fresh.outcome = approval.outcome = outcome
    await services.approvals.save(fresh)


async def decide(services: Services, verb: str, request_id: str, clicker_id: str, clicker_name: str,
                 reason: str, turn: Turn, signin: ClickSignIn | None = None) -> Card:
    approval = await services.approvals.get(request_id)
    case = await services.cases.get(approval.case_id) if approval else None
    if approval is None or case is None:
        return message_card("This approval request is unknown here (expired or from another deployment).",
                            "attention")
    if approval.state != ApprovalState.PENDING:
        return _view(services, approval, case, notice="This request was already decided; nothing changed.")
    if approval.expired:
        await expire(services, approval.id)
        approval = await services.approvals.get(request_id) or approval
        return _view(services, approval, case, notice="This request has expired; nothing ran.")
    if clicker_id == approval.requester_id:
        await _audit(services, approval, case, "refused", await _who(services, clicker_id, clicker_name, turn),
                     "self-approval", verb)
        return _view(services, approval, case, notice="⛔ You requested this, so you cannot approve or reject it: "
                                                      "another approver must.")
    # The target is the suspect account: it must not approve its own containment (nor get its new password).
    if case.target is not None and clicker_id.lower() == case.target.id.lower():
        await _audit(services, approval, case, "refused", await _who(services, clicker_id, clicker_name, turn),
                     "own account", verb)
        return _view(services, approval, case, notice="⛔ This request is about your own account, so you cannot "
                                                      "approve or reject it: another approver must.")
    try:
        clicker = await permit_verb(services, verb, clicker_id, clicker_name, turn)
    except Refused as refusal:
        await _audit(services, approval, case, "refused", await _who(services, clicker_id, clicker_name, turn),
                     lacking(services.policy.requirement(verb)), verb)
        return _view(services, approval, case, notice=f"⛔ {refusal}")
    reason = reason.strip()[:500]
    if verb == "reject" and not reason:
        return _view(services, approval, case, notice="Type a reason in the box, then press Reject.")
    signed_in = None
    if verb == "approve" and case.target is not None:  # delegated mode: the approver's own token runs it (bot/signin)
        try:
            signed_in = await person_for(services, signin, ACTIONS[approval.action], case.target, clicker_id,
                                         clicker_name)
        except SignInRefused as refusal:
            await _audit(services, approval, case, "refused", clicker, str(refusal), verb)
            return _view(services, approval, case, notice=f"⛔ Not approved: {refusal}", notice_link=refusal.link)
    if not await services.approvals.claim_decision(approval.id, clicker_id):
        fresh = await services.approvals.get(approval.id) or approval
        return _view(services, fresh, case, notice="Someone decided this at the same moment; nothing else ran.")
    approval.decided_by_id, approval.decided_by_name, approval.decided_at = clicker_id, clicker_name, now_iso()
    if verb == "reject":
        approval.state, approval.reason = ApprovalState.REJECTED, reason
        await services.approvals.save(approval)
        await _audit(services, approval, case, "rejected", clicker, reason, "reject")
        await _close(services, approval, case, RunState.REJECTED, f"Rejected by {clicker_name}: {reason}")
        return _view(services, approval, case)
    approval.state = ApprovalState.APPROVED
    await services.approvals.save(approval)
    await _audit(services, approval, case, "approved", clicker, decision="approve")
    return await _run_approved(services, approval, case, turn, signed_in)


async def _run_approved(services: Services, approval: ApprovalRequest, case: Case, turn: Turn,
                        signed_in: SignedIn | None = None) -> Card:
    spec = ACTIONS[approval.action]
    # the requester's right may have changed since they asked: act checks it again, fresh
    requester = await services.roles.actor(approval.requester_id, approval.requester_name, turn)
    item = await chosen_item(services, case, spec, approval.item, approval.item_label)
    run = Run(case, spec, requester, item, approval.options, approved_by=approval.decided_by_name,
              signed_in=signed_in)

    async def show_result(result: ActionResult) -> None:
        # The approval card ends with how the action ended (the case card has the details and the undo). Inline
        # (reset_password): before the approver's answer, which must stay their view (it has the password).
        await _set_outcome(services, approval, _ending(result))
        if spec.inline:
            await approval_cards.update_before_answer(services, approval, case, turn)
        else:
            await approval_cards.refresh(services, approval.id)

    outcome = "Running; this card shows the result when it ends."

    async def show_running() -> bool:  # once allowed, before it starts: the result must not be overwritten by this
        if not spec.inline:
            await _set_outcome(services, approval, outcome)
            await approval_cards.refresh(services, approval.id)
        return True

    acted = await act(services, run, Approval.GRANTED, turn, admit=show_running, on_finished=show_result)
    if acted.ending is Ending.REFUSED:
        await _set_outcome(services, approval, f"Not run: {acted.refusal}")
        await _close(services, approval, case, RunState.FAILED, f"Approved, but not run: {acted.refusal}")
        return _view(services, approval, case, outcome=approval.outcome)
    if acted.ending is not Ending.STARTED:
        await _set_outcome(services, approval, "Not run: the audit trail could not be written.")
        await _close(services, approval, case, RunState.FAILED,
                     "Approved, but the audit trail could not be written, so nothing ran. Ask again.")
        return _view(services, approval, case, outcome=approval.outcome)
    result = acted.result
    secret = secret_of(result)
    if secret:
        outcome = "Done; the temporary password is shown only to the approver who clicked (here, once)."
    elif result:  # it already ended (inline): the approver's own view must not say "running"
        outcome = _ending(result)
    return _view(services, approval, case, outcome=outcome, secret=secret)


def _ending(result: ActionResult) -> str:
    return f"Done: {result.outcome.summary}" if result.ok and result.outcome else f"Failed: {result.error}"


async def expire(services: Services, request_id: str) -> None:
    """Time is up: mark it expired (once, whichever replica gets there first) and say so on both cards."""
    approval = await services.approvals.get(request_id)
    if approval is None:
        await services.approvals.forget(request_id)
        return
    if approval.state != ApprovalState.PENDING:
        return
    case = await services.cases.get(approval.case_id)
    if not await services.approvals.claim_decision(approval.id, "expiry"):
        return
    approval.state, approval.decided_at = ApprovalState.EXPIRED, now_iso()
    await services.approvals.save(approval)
    if case is None:
        return
    await _audit(services, approval, case, "expired", RIPOSTE)
    await _close(services, approval, case, RunState.EXPIRED, "Nobody approved in time; nothing ran.")


async def expire_due_forever(services: Services, every_seconds: float) -> None:
    """Background sweep: each replica runs one; the decision claim makes each expiry happen once."""
    while True:
        try:
            for request_id in await services.approvals.due():
                await expire(services, request_id)
        except Exception:
            log.exception("approval expiry sweep failed; retrying")
        await asyncio.sleep(every_seconds)
