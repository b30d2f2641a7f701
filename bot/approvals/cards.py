"""An approval request's card in Teams, sent through the outbox as durable jobs on the interactive queue: posted
once (in the case's thread, or a new thread of the alert channel for a case typed in a personal chat), then
updated to the request as it stands whenever it changes. What Teams does not take now stays queued.

Idempotent like the case card: posting records the message's id on the request, and a run that finds it posts
nothing; an update draws the request when its send slot is granted, and sends again if the request changed
meanwhile (a version counter), so only the latest state goes out, however many changes were queued.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from actions import ACTIONS
from actions.errors import RiposteError
from actions.spec import ActionSpec
from bot.cards.approval_card import ApprovalView, approval_card
from bot.cards.elements import Link
from bot.clicks.answered import Turn
from bot.clicks.options import spelled_out
from bot.intake import alert_channel
from bot.pipeline.enqueue import refresh_card
from bot.pipeline.limiter import Priority
from bot.services import Card, Services
from bot.signin import rules as signin_rules
from bot.state.approvals import ApprovalRequest
from bot.state.cases import Case
from bot.state.states import ApprovalState

log = logging.getLogger(__name__)
POST_APPROVAL = "post_approval"
REFRESH_APPROVAL = "refresh_approval"
WHO_MAY_APPROVE = "anyone with the Riposte approver role, except the requester"
MAX_REDRAWS = 5
# An inline action's approver sees the temporary password in their answer; an update of the approval card replaces
# that view, so one that Teams did not take before the answer waits this long (time to copy the password).
PASSWORD_VIEW_SECONDS = 300


class NoApprovalChannel(RiposteError):
    """A request from a personal chat, and no alert channel for approvers to see it in: it waits for one."""


def view(services: Services, request: ApprovalRequest, case: Case, notice: str = "", outcome: str = "",
         secret: str = "", notice_link: Link | None = None) -> Card:
    spec = ACTIONS[request.action]
    sign = services.signer.data
    return approval_card(ApprovalView(
        action_title=spec.title, target_label=case.target.label if case.target else case.alert.user,
        item_label=request.item_label, reversible=spec.reversible, reversal=spec.reversal,
        requester_name=request.requester_name, requested_at=request.created_at, expires_at=request.expires_at,
        state=request.state, approve_data=sign(case.id, "approve", case.nonce, request.id),
        reject_data=sign(case.id, "reject", case.nonce, request.id), who_may_approve=WHO_MAY_APPROVE,
        decided_by=request.decided_by_name, decided_at=request.decided_at, reason=request.reason,
        outcome=outcome, notice=notice, notice_link=notice_link, choice=spelled_out(spec, request.options),
        secret=secret,
        entra_roles=_entra_roles(services, spec, case),
    ))


def _entra_roles(services: Services, spec: ActionSpec, case: Case) -> str:
    """Delegated mode: the approver's own token runs it, so Graph checks the approver's Entra role."""
    roles = signin_rules.roles_text(services.settings, spec, case.target) if case.target else ""
    return f"{roles} (the approver signs in; their own Entra rights run it)" if roles else ""


def in_thread(case: Case) -> bool:
    """Approvers see the request in the case's thread, unless the case lives in a personal chat."""
    conversation = case.conversation or {}
    return bool(conversation) and not str((conversation.get("conversation") or {}).get("id", "")).startswith("a:")


def _version_key(request_id: str) -> str:
    return f"riposte:approval:{request_id}:card-version"


async def _version(services: Services, request_id: str) -> str:
    return str(await services.redis.get(_version_key(request_id)) or "0")


async def post(services: Services, request_id: str) -> None:
    """Queue the posting of the request's card (nothing happens if it is queued already or posted)."""
    await services.queues.enqueue(services.queues.interactive, POST_APPROVAL, key=f"approval-post:{request_id}",
                                  request_id=request_id)


async def refresh(services: Services, request_id: str, in_seconds: float = 0) -> None:
    """Queue an update of the request's card to the request as it stands (coalesced, like a case card's)."""
    await services.redis.incr(_version_key(request_id))
    await services.queues.enqueue(services.queues.interactive, REFRESH_APPROVAL,
                                  key=f"approval-card:{request_id}:{'later' if in_seconds else 'now'}",
                                  scheduled=time.time() + in_seconds if in_seconds else 0, request_id=request_id)


async def update_before_answer(services: Services, request: ApprovalRequest, case: Case, turn: Turn) -> None:
    """For an action run inside the approver's click (its answer carries the temporary password, which must stay
    their view): update the shared card now, before the answer; if Teams does not take it in the little time an
    answer leaves, queue it for after the approver has had time to read the password."""
    conversation = request.thread or case.conversation
    if not conversation or not request.activity_id:
        return  # not posted yet: the posting draws the request as it stands
    try:
        await services.channel.update_card(conversation, request.activity_id,
                                           view(services, request, case, outcome=request.outcome), turn=turn)
    except Exception as error:
        log.warning("approval card %s not updated before the answer (%s); queued", request.id, error)
        await refresh(services, request.id, PASSWORD_VIEW_SECONDS)


async def run_post(services: Services, request_id: str) -> None:
    request = await services.approvals.get(request_id)
    case = await services.cases.get(request.case_id) if request else None
    if request is None or case is None:
        log.error("approval request %s to post is not in Redis (expired?): nothing to post", request_id)
        return
    if request.activity_id:
        return  # posted (the job ran before, or ran twice)
    if request.state != ApprovalState.PENDING:
        log.warning("approval request %s ended (%s) before its card could be posted; not posting it",
                    request_id, request.state)
        return
    version = await _version(services, request_id)
    card = view(services, request, case, outcome=request.outcome)
    thread: dict[str, Any] = {}
    if in_thread(case):
        assert case.conversation
        activity_id = await services.channel.reply(case.conversation, card, Priority.INTERACTIVE)
    else:
        channel_id, service_url = await alert_channel.current(services)
        if not channel_id:
            raise NoApprovalChannel(f"approval request {request_id} waits for an alert channel: type 'use this "
                                    "channel for alerts' in the security team's channel")
        thread, activity_id = await services.channel.post_thread(channel_id, card, service_url,
                                                                 Priority.INTERACTIVE)
    # A crash here (posted, not recorded) makes the retry post the request a second time: both carry its buttons,
    # and the request is decided once whichever is clicked.
    fresh = await services.approvals.get(request_id) or request
    fresh.activity_id, fresh.thread = activity_id, thread
    await services.approvals.save(fresh)
    if await _version(services, request_id) != version:  # it changed while this card was drawn and sent
        await refresh(services, request_id)
    await refresh_card(services, case.id, Priority.INTERACTIVE)


async def _send_current(services: Services, request: ApprovalRequest, case: Case) -> str:
    """Update the request's card, drawn once the send slot is taken; the version drawn."""
    drawn: list[str] = []

    async def draw() -> Card:
        drawn.append(await _version(services, request.id))
        fresh = await services.approvals.get(request.id) or request
        return view(services, fresh, case, outcome=fresh.outcome)

    await services.channel.update_card(request.thread or case.conversation or {}, request.activity_id, draw,
                                       Priority.INTERACTIVE)
    return drawn[-1] if drawn else ""


async def run_refresh(services: Services, request_id: str) -> None:
    for _ in range(MAX_REDRAWS):
        request = await services.approvals.get(request_id)
        case = await services.cases.get(request.case_id) if request else None
        if request is None or case is None or not request.activity_id:
            return  # gone, or not posted yet: the posting draws the request as it stands then
        if await _send_current(services, request, case) == await _version(services, request_id):
            return
    raise RiposteError(f"approval card {request_id} changes faster than it can be sent; sending it again later")


def job_functions(services: Services) -> dict[str, Any]:
    async def post_job(ctx: dict[str, Any], *, request_id: str) -> None:
        await run_post(services, request_id)

    async def refresh_job(ctx: dict[str, Any], *, request_id: str) -> None:
        await run_refresh(services, request_id)

    return {POST_APPROVAL: post_job, REFRESH_APPROVAL: refresh_job}
