"""Alert intake: validate, keep the alert durably in Redis, answer. Posting its card is a job (bot/pipeline/jobs).

The answer never waits on Graph or Teams: one atomic Redis script decides whether the alert is new, joins a
recent case about the same user (grouping), or repeats one already kept, and queues the case's job in the same step
(bot/intake_script.py); a repeated alert queues its case's job again (nothing if still queued; a finished one finds
its card posted)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from actions import ACTIONS
from actions.errors import RiposteError
from bot.intake.alerts import Alert
from bot.intake.script import NO_CHANNEL, keep_alert
from bot.services import Services
from bot.state.cases import Case

log = logging.getLogger(__name__)
OFFERED = tuple(ACTIONS)


class ChannelNotConfigured(RiposteError):
    pass


@dataclass(frozen=True)
class Accepted:
    case_id: str
    status: str  # accepted | grouped | duplicate


def new_case_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-") + secrets.token_hex(4)


async def accept_alert(services: Services, alert: Alert) -> Accepted:
    """Keep `alert` and queue what follows; the same source id always names the same case."""
    case = Case(
        id=new_case_id(), alert=alert, nonce=secrets.token_urlsafe(12),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), offered=OFFERED,
    )
    window = int(services.settings.group_alerts_minutes * 60)
    # One round trip keeps the alert and queues its job (bot/intake_script.py), then one writes the audit event.
    case_id, status = await keep_alert(services.redis, services.queues, case, window,
                                       channel_configured=bool(services.settings.alert_channel))
    if status == NO_CHANNEL:
        raise ChannelNotConfigured(
            "No alert channel: set RIPOSTE_ALERT_CHANNEL or type 'use this channel for alerts' in a channel."
        )
    if status == "duplicate":
        return Accepted(case_id, status)
    log.info("alert %s/%s %s as case %s", alert.source, alert.id, status, case_id)
    try:
        await services.audit.record_event(
            "alert_received", case_id=case_id, result=status, source=alert.source, source_alert_id=alert.id,
            target_upn=alert.user)
    except Exception as error:  # kept and queued: a missed audit event must not refuse the alert
        log.error("audit event for alert %s/%s (case %s) could not be written: %r", alert.source, alert.id,
                  case_id, error)
    return Accepted(case_id, status)
