"""Alert intake: validate, open a case, resolve the user, post the card as a new thread in the alert channel."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from actions import ACTIONS
from actions.errors import NotFound, RiposteError
from bot import alert_channel
from bot.alerts import Alert
from bot.cards.alert_card import alert_card, grouped_alert_card
from bot.cases import Case
from bot.services import Services
from bot.views import CaseState

log = logging.getLogger(__name__)


class ChannelNotConfigured(RiposteError):
    pass


@dataclass(frozen=True)
class Accepted:
    case_id: str
    status: str  # posted | duplicate


def new_case_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-") + secrets.token_hex(4)


async def accept_alert(services: Services, alert: Alert) -> Accepted:
    """Open a case for `alert` and post its card; a repeated source alert returns the existing case."""
    channel_id, service_url = await alert_channel.current(services)
    if not channel_id:
        raise ChannelNotConfigured(
            "No alert channel: set RIPOSTE_ALERT_CHANNEL or type 'use this channel for alerts' in a channel."
        )
    case_id = new_case_id()
    existing = await services.cases.claim_alert(alert.source, alert.id, case_id)
    if existing:
        return Accepted(existing, "duplicate")
    try:
        case = await _open_case(services, alert, case_id)
        grouped = await _group_into_open_case(services, alert, case)
        if grouped:
            await services.cases.claim_alert_for(alert.source, alert.id, grouped)
            return Accepted(grouped, "grouped")
        view = services.painter.view(CaseState(case, {}))
        reference, activity_id = await services.channel.post_thread(channel_id, alert_card(view), service_url)
    except BaseException:
        # Nothing half-done: the source may send the alert again and get a fresh attempt.
        await services.cases.release_alert(alert.source, alert.id)
        raise
    case.conversation = reference
    case.activity_id = activity_id
    await services.cases.save(case)
    if case.target and services.settings.group_alerts_minutes > 0:
        await services.redis.set(_open_case_key(case.target.id), case.id,
                                 ex=int(services.settings.group_alerts_minutes * 60))
    log.info("case %s posted for alert %s/%s", case.id, alert.source, alert.id)
    return Accepted(case.id, "posted")


def _open_case_key(user_id: str) -> str:
    return f"riposte:open-case:{user_id.lower()}"


async def _group_into_open_case(services: Services, alert: Alert, case: Case) -> str | None:
    """With RIPOSTE_GROUP_ALERTS_MINUTES, a further alert about a user with a recent case joins that case's
    thread (one place to act on the user) instead of opening another; returns that case's id."""
    if services.settings.group_alerts_minutes <= 0 or case.target is None:
        return None
    open_id = await services.redis.get(_open_case_key(case.target.id))
    existing = await services.cases.get(str(open_id)) if open_id else None
    if existing is None or not existing.conversation:
        return None
    await services.channel.reply(existing.conversation, grouped_alert_card(alert))
    log.info("alert %s/%s grouped into case %s", alert.source, alert.id, existing.id)
    return existing.id


async def _open_case(services: Services, alert: Alert, case_id: str) -> Case:
    case = Case(
        id=case_id, alert=alert, nonce=secrets.token_urlsafe(12),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), offered=tuple(ACTIONS),
    )
    try:
        case.target = await services.tenant.get_user(alert.user)
    except NotFound:
        case.target_problem = "no such user in this tenant"
    except RiposteError as error:
        case.target_problem = str(error)
    await services.cases.save(case)
    return case
