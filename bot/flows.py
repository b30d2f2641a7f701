"""The click flow: identify, look up the case, verify the button, authorize, claim, record intent, answer;
then act in the background and update the card everyone sees.

Handlers stay thin: they turn an activity into a `Click` and hand it here.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

from actions import ACTIONS
from actions.runner import Actor, AuditEntry, Refused, authorize
from actions.spec import ActionSpec
from bot.authz import check_protected
from bot.cards.alert_card import alert_card, message_card
from bot.cards.elements import when
from bot.cases import ActionRecord, Case
from bot.services import Card, Services
from bot.views import case_view

log = logging.getLogger(__name__)
CARD_UPDATE_ATTEMPTS = 3
STATE_STORE_DOWN = "The state store (Redis) is unreachable, so nothing was changed. Try again in a minute."


@dataclass(frozen=True)
class Click:
    """A button click, as the authenticated activity tells it."""

    object_id: str  # from.aadObjectId
    name: str
    verb: str
    data: dict[str, Any]
    tenant_id: str  # channelData.tenant.id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def _card_for(services: Services, case: Case, notice: str = "", style: str = "attention") -> Card:
    records = await services.cases.records(case.id)
    view = case_view(case, records, services.settings.protected_users, services.signer, notice, style)
    return alert_card(view)


async def handle_click(services: Services, click: Click) -> Card:
    """Return the card to answer the invoke with; slow work continues in the background.

    Fails closed: if Redis cannot be reached, nothing runs."""
    try:
        return await _handle_click(services, click)
    except RedisError:
        log.exception("state store unreachable while handling a click on %r", click.verb)
        return message_card(STATE_STORE_DOWN, "attention")


async def _refuse_tampered(services: Services, click: Click, case_id: str, why: str) -> None:
    log.warning("refused a click (%s) on case %r, verb %r, by %s", why, case_id, click.verb, click.object_id)
    await services.audit.record(
        AuditEntry(phase="refused", action=click.verb[:64], actor_id=click.object_id, actor_name=click.name,
                   case_id=case_id[:64], result="refused", detail=why)
    )


async def _handle_click(services: Services, click: Click) -> Card:
    case_id = str(click.data.get("case", ""))
    expected_tenant = services.settings.tenant_id
    if expected_tenant and click.tenant_id != expected_tenant:
        await _refuse_tampered(services, click, case_id, f"card from another tenant ({click.tenant_id!r})")
        return message_card("This card comes from another tenant than the one Riposte serves. Nothing ran.",
                            "attention")
    if not services.signer.verify(click.verb, click.data):
        await _refuse_tampered(services, click, case_id, "button data failed its signature check")
        return message_card("This button's data was altered or is not from this deployment. Nothing ran.",
                            "attention")
    case = await services.cases.get(case_id)
    if case is None:
        return message_card("This card's case is unknown here (expired, or from another deployment). Nothing ran.",
                            "attention")
    spec = ACTIONS.get(click.verb)
    if spec is None or click.verb not in case.offered or not hmac.compare_digest(
        str(click.data.get("nonce", "")), case.nonce
    ):
        await _refuse_tampered(services, click, case.id, "action not offered on this card, or a stale nonce")
        return await _card_for(services, case, "This button is not valid for this card. Nothing ran.")
    actor = await services.roles.actor(click.object_id, click.name)
    if case.target is None:
        return await _card_for(services, case, f"Nothing ran: the user could not be resolved ({case.target_problem}).")
    try:
        check_protected(actor, case.target, services.settings.protected_users)
        authorize(spec, actor, case.target, services.policy.role_for(spec.name))
    except Refused as refusal:
        await services.runner.record_refusal(spec, actor, case.target, case.id, str(refusal))
        return await _card_for(services, case, f"⛔ Not done: {refusal}")
    if not await services.cases.claim_action(case.id, spec.name, actor.id):
        return await _card_for(services, case, await _already(services, case, spec), "warning")
    try:
        await services.runner.record_intent(spec, actor, case.target, case.id)
    except Exception:
        await services.cases.release_action(case.id, spec.name)
        log.exception("audit intent could not be written; %s not run", spec.name)
        return await _card_for(services, case, "The audit trail could not be written, so nothing ran. Try again.")
    record = ActionRecord(action=spec.name, state="running", actor_id=actor.id, actor_name=actor.name,
                          started_at=_now())
    await services.cases.put_record(case.id, record)
    services.inflight.start(
        _run_and_update(services, case, spec, actor, record),
        lambda: _interrupted(services, case, spec, actor, record),
    )
    return await _card_for(services, case)


async def _already(services: Services, case: Case, spec: ActionSpec) -> str:
    record = (await services.cases.records(case.id)).get(spec.name)
    if record is None or record.state == "running":
        who = f" by {record.actor_name} at {when(record.started_at)}" if record else ""
        return f"{spec.title} is already running (started{who}); this click changed nothing."
    return f"{spec.title} was already done by {record.actor_name} at {when(record.finished_at)}."


async def _run_and_update(
    services: Services, case: Case, spec: ActionSpec, actor: Actor, record: ActionRecord
) -> None:
    assert case.target is not None
    result = await services.runner.execute(spec, actor, case.target, case.id)
    record.finished_at = _now()
    if result.ok and result.outcome:
        record.state, record.summary = "done", result.outcome.summary
        record.reversal, record.undo = result.outcome.reversal, result.outcome.undo or ""
    else:
        record.state, record.summary = "failed", result.error
        await services.cases.release_action(case.id, spec.name)
    record.request_id = result.request_id or ""
    await services.cases.put_record(case.id, record)
    await update_case_card(services, case)


async def _interrupted(services: Services, case: Case, spec: ActionSpec, actor: Actor, record: ActionRecord) -> None:
    assert case.target is not None
    await services.runner.record_interrupted(spec, actor, case.target, case.id)
    record.state, record.finished_at = "interrupted", _now()
    record.summary = "The bot shut down before Graph answered. Check the user's state before retrying."
    await services.cases.put_record(case.id, record)
    await services.cases.release_action(case.id, spec.name)
    await update_case_card(services, case)


async def update_case_card(services: Services, case: Case) -> None:
    """Replace the thread's card with the case as it stands now (every viewer sees it)."""
    if not case.conversation or not case.activity_id:
        return
    card = await _card_for(services, case)
    for attempt in range(1, CARD_UPDATE_ATTEMPTS + 1):
        try:
            await services.channel.update_card(case.conversation, case.activity_id, card)
            return
        except Exception:
            if attempt == CARD_UPDATE_ATTEMPTS:
                log.exception("could not update the card of case %s; the audit has the outcome", case.id)
                return
            await asyncio.sleep(0.5 * 2**attempt)
