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
from bot.cards.alert_card import alert_card
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
        view = services.painter.view(CaseState(case, {}))
        reference, activity_id = await services.channel.post_thread(channel_id, alert_card(view), service_url)
    except BaseException:
        # Nothing half-done: the source may send the alert again and get a fresh attempt.
        await services.cases.release_alert(alert.source, alert.id)
        raise
    case.conversation = reference
    case.activity_id = activity_id
    await services.cases.save(case)
    log.info("case %s posted for alert %s/%s", case.id, alert.source, alert.id)
    return Accepted(case.id, "posted")


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
