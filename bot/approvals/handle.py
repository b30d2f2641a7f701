"""Approvals in the case thread: request, approve (by someone else holding `approver`), reject with a reason,
expire. An approval runs the action exactly once."""

from __future__ import annotations

import asyncio
import logging

from actions import ACTIONS
from actions.block_user import STEP_TITLES
from actions.errors import RiposteError
from actions.runner import ActionResult, AuditEntry, Refused, roles_text
from actions.spec import Item
from bot.access.levels import lacking
from bot.access.permission import permit, permit_verb
from bot.audit import case_notes as notes
from bot.cards.alert_card import message_card
from bot.cards.approval_card import ApprovalView, approval_card
from bot.intake import alert_channel
from bot.run.execution import Run, after_the_answer, card_for, now_iso, secret_of, start, update_case_card
from bot.services import Card, Services
from bot.state.approvals import ApprovalRequest, new_request
from bot.state.cases import ActionRecord, Case, record_key

log = logging.getLogger(__name__)
WHO_MAY_APPROVE = "anyone with the Riposte approver role, except the requester"


def _view(services: Services, request: ApprovalRequest, case: Case, notice: str = "", outcome: str = "",
          secret: str = "") -> Card:
    spec = ACTIONS[request.action]
    sign = services.signer.data
    return approval_card(ApprovalView(
        action_title=spec.title, target_label=case.target.label if case.target else case.alert.user,
        item_label=request.item_label, reversible=spec.reversible, reversal=spec.reversal,
        requester_name=request.requester_name, requested_at=request.created_at, expires_at=request.expires_at,
        state=request.state, approve_data=sign(case.id, "approve", case.nonce, request.id),
        reject_data=sign(case.id, "reject", case.nonce, request.id), who_may_approve=WHO_MAY_APPROVE,
        decided_by=request.decided_by_name, decided_at=request.decided_at, reason=request.reason,
        outcome=outcome, notice=notice, choice=_choice(request.options), secret=secret,
    ))


def _choice(options: dict[str, object]) -> str:
    """The requester's choices, spelled out: the approver must see a tenant-wide deletion for what it is."""
    if options.get("mode") == "app":
        return "delete the app from the whole tenant"
    if options.get("mode") == "grant":
        return "revoke this user's consent only (the app stays in the tenant)"
    steps = options.get("steps")
    if isinstance(steps, list):
        return "steps: " + ", ".join(STEP_TITLES.get(str(step), str(step)) for step in steps)
    return ""


async def _audit(services: Services, request: ApprovalRequest, case: Case, phase: str, actor_id: str,
                 actor_name: str, detail: str = "", decision: str = "") -> None:
    await services.audit.record(AuditEntry(
        phase=phase, action=request.action, actor_id=actor_id, actor_name=actor_name, case_id=case.id,
        target_id=case.target.id if case.target else "", target_upn=case.target.upn if case.target else "",
        result=phase, detail=detail, decision=decision, actor_roles=await _roles_of(services, actor_id),
    ))
    if phase in ("approved", "rejected", "expired"):
        services.metrics.count("riposte_approvals_total", action=request.action,
                               decision=decision or phase)
        await notes.approval_decided(services, case.id, phase, request.action, request.item_label, actor_name,
                                     detail)


async def _roles_of(services: Services, actor_id: str) -> str:
    """The roles the requester or decider holds now (just checked, so cached), for the audit; "" if unknown."""
    try:
        return roles_text(await services.roles.roles(actor_id)) if actor_id else ""
    except Exception:  # the entry goes in without them rather than not at all
        log.warning("roles of %s unknown for an approval audit entry", actor_id)
        return ""


async def request(services: Services, run: Run) -> Card:
    """The action's claim is held: record the request, post the approval card in the thread."""
    case = run.case
    item = run.item
    approval = new_request(case.id, run.spec.name, item.id if item else "", item.label if item else "",
                           run.actor.id, run.actor.name, run.options, services.settings.approval_timeout_minutes)
    await services.approvals.save(approval)
    # The request holds the action's claim until it is decided or expires, however long that is set to be.
    await services.cases.keep_claim(case.id, run.key, int(services.settings.approval_timeout_minutes * 60) + 3600)
    await _audit(services, approval, case, "approval_requested", run.actor.id, run.actor.name)
    record = ActionRecord(action=run.spec.name, state="pending", actor_id=run.actor.id, actor_name=run.actor.name,
                          started_at=now_iso(), item=approval.item, item_label=approval.item_label)
    await services.cases.put_record(case.id, record)

    async def show_request() -> None:
        try:
            await _post_request(services, approval, case)
        except Exception as error:  # nobody could approve: end the request rather than leave it pending unseen
            log.exception("approval request %s could not be posted", approval.id)
            approval.state = "failed"
            await services.approvals.save(approval)
            await _audit(services, approval, case, "failed", "", "Riposte", f"approval card not posted: {error}")
            await _close(services, approval, case, "failed", "The approval request could not be posted in Teams "
                                                              f"({error}); nothing ran. Ask again.")
            return
        await update_case_card(services, case)

    after_the_answer(services, show_request)
    return await card_for(services, case, f"{run.spec.title} needs a second person's approval: an approver must "
                                          "approve it in this thread.", "emphasis")


async def _post_request(services: Services, approval: ApprovalRequest, case: Case) -> None:
    """In the case's thread; for a command typed in a personal chat, where no approver can see it, in a new
    thread of the alert channel instead."""
    conversation = case.conversation or {}
    personal = str((conversation.get("conversation") or {}).get("id", "")).startswith("a:")
    card = _view(services, approval, case)
    in_thread = bool(conversation) and not personal
    channel_id, service_url = ("", "") if in_thread else await alert_channel.current(services)
    if not in_thread and not channel_id:
        raise RiposteError("no alert channel is set for approvers to see it: type 'use this channel for alerts' "
                           "in the security team's channel")
    if in_thread:
        approval.activity_id = await services.channel.reply(conversation, card)
    else:
        approval.thread, approval.activity_id = await services.channel.post_thread(channel_id, card, service_url)
    await services.approvals.save(approval)


async def _close(services: Services, approval: ApprovalRequest, case: Case, state: str, summary: str) -> None:
    """End a request without running it: the action may be asked for again."""
    key = record_key(approval.action, approval.item)
    record = (await services.cases.records(case.id)).get(key)
    if record is not None:
        record.state, record.finished_at, record.summary = state, now_iso(), summary
        await services.cases.put_record(case.id, record)
    await services.cases.release_action(case.id, key)

    async def show() -> None:  # reached from a click too: Teams must get its answer first
        await _update_approval_card(services, approval, case)
        await update_case_card(services, case)

    after_the_answer(services, show)


async def _update_approval_card(services: Services, approval: ApprovalRequest, case: Case, outcome: str = "") -> None:
    conversation = approval.thread or case.conversation
    if conversation and approval.activity_id:
        try:
            await services.channel.update_card(conversation, approval.activity_id,
                                               _view(services, approval, case, outcome=outcome))
        except Exception:
            log.exception("could not update approval card %s", approval.id)


async def decide(services: Services, verb: str, request_id: str, clicker_id: str, clicker_name: str,
                 reason: str) -> Card:
    approval = await services.approvals.get(request_id)
    case = await services.cases.get(approval.case_id) if approval else None
    if approval is None or case is None:
        return message_card("This approval request is unknown here (expired or from another deployment).",
                            "attention")
    if approval.state != "pending":
        return _view(services, approval, case, notice="This request was already decided; nothing changed.")
    if approval.expired:
        await expire(services, approval.id)
        approval = await services.approvals.get(request_id) or approval
        return _view(services, approval, case, notice="This request has expired; nothing ran.")
    if clicker_id == approval.requester_id:
        await _audit(services, approval, case, "refused", clicker_id, clicker_name, "self-approval", verb)
        return _view(services, approval, case, notice="⛔ You requested this, so you cannot approve or reject it: "
                                                      "another approver must.")
    # The target is the suspect account: it must not approve its own containment (nor get its new password).
    if case.target is not None and clicker_id.lower() == case.target.id.lower():
        await _audit(services, approval, case, "refused", clicker_id, clicker_name, "own account", verb)
        return _view(services, approval, case, notice="⛔ This request is about your own account, so you cannot "
                                                      "approve or reject it: another approver must.")
    try:
        await permit_verb(services, verb, clicker_id, clicker_name)
    except Refused as refusal:
        await _audit(services, approval, case, "refused", clicker_id, clicker_name,
                     lacking(services.policy.requirement(verb)), verb)
        return _view(services, approval, case, notice=f"⛔ {refusal}")
    reason = reason.strip()[:500]
    if verb == "reject" and not reason:
        return _view(services, approval, case, notice="Type a reason in the box, then press Reject.")
    if not await services.approvals.claim_decision(approval.id, clicker_id):
        fresh = await services.approvals.get(approval.id) or approval
        return _view(services, fresh, case, notice="Someone decided this at the same moment; nothing else ran.")
    approval.decided_by_id, approval.decided_by_name, approval.decided_at = clicker_id, clicker_name, now_iso()
    if verb == "reject":
        approval.state, approval.reason = "rejected", reason
        await services.approvals.save(approval)
        await _audit(services, approval, case, "rejected", clicker_id, clicker_name, reason, "reject")
        await _close(services, approval, case, "rejected", f"Rejected by {clicker_name}: {reason}")
        return _view(services, approval, case)
    approval.state = "approved"
    await services.approvals.save(approval)
    await _audit(services, approval, case, "approved", clicker_id, clicker_name, decision="approve")
    return await _run_approved(services, approval, case)


async def _run_approved(services: Services, approval: ApprovalRequest, case: Case) -> Card:
    spec = ACTIONS[approval.action]
    requester = await services.roles.actor(approval.requester_id, approval.requester_name)
    assert case.target is not None
    try:  # the requester's right may have changed since they asked: check it again, fresh
        await permit(services, spec, requester, case.target)
    except Refused as refusal:
        await services.runner.record_refusal(spec, requester, case.target, case.id, str(refusal))
        await _close(services, approval, case, "failed", f"Approved, but not run: {refusal}")
        return _view(services, approval, case, outcome=f"Not run: {refusal}")
    item = None
    if approval.item:
        listed = (await services.cases.listings(case.id)).get(spec.item_kind or "", [])
        item = next((i for i in listed if i.id == approval.item), None) or Item(
            kind=spec.item_kind or "", id=approval.item, label=approval.item_label)
    run = Run(case, spec, requester, item, approval.options, approved_by=approval.decided_by_name)

    async def show_result(result: ActionResult) -> None:
        # The approval card ends with how the action ended (the case card has the details and the undo). Inline
        # (reset_password): before the approver's answer, which must stay their view (it has the password).
        await _update_approval_card(services, approval, case, _ending(result))

    outcome = "Running; this card shows the result when it ends."
    if not spec.inline:  # before starting: the result, when it comes, must not be overwritten by this
        await _update_approval_card(services, approval, case, outcome)
    try:
        result = await start(services, run, show_result)
    except Exception:
        log.exception("approved %s on case %s could not start", spec.name, case.id)
        await _close(services, approval, case, "failed", "Approved, but the audit trail could not be written, so "
                                                          "nothing ran. Ask again.")
        return _view(services, approval, case, outcome="Not run: the audit trail could not be written.")
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
    if approval.state != "pending":
        return
    case = await services.cases.get(approval.case_id)
    if not await services.approvals.claim_decision(approval.id, "expiry"):
        return
    approval.state, approval.decided_at = "expired", now_iso()
    await services.approvals.save(approval)
    if case is None:
        return
    await _audit(services, approval, case, "expired", "", "Riposte")
    await _close(services, approval, case, "expired", "Nobody approved in time; nothing ran.")


async def expire_due_forever(services: Services, every_seconds: float) -> None:
    """Background sweep: each replica runs one; the decision claim makes each expiry happen once."""
    while True:
        try:
            for request_id in await services.approvals.due():
                await expire(services, request_id)
        except Exception:
            log.exception("approval expiry sweep failed; retrying")
        await asyncio.sleep(every_seconds)
