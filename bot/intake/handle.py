"""Alert intake: validate, keep the alert durably in Redis, answer. Posting its card is a job (bot/pipeline/jobs).

The answer never waits on Graph or Teams: one atomic Redis script decides whether the alert is new, joins a
recent case about the same user (grouping), or repeats one already kept; then the case's posting job is queued.
A crash between the two is mended by the sender's retry: a repeated alert queues its case's job again."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from actions import ACTIONS
from actions.errors import RiposteError
from bot.intake import alert_channel
from bot.intake.alerts import Alert
from bot.pipeline import enqueue as jobs
from bot.pipeline.limiter import Priority
from bot.services import Services
from bot.state.cases import Case

log = logging.getLogger(__name__)


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
    channel_id, _service_url = await alert_channel.current(services)
    if not channel_id:
        raise ChannelNotConfigured(
            "No alert channel: set RIPOSTE_ALERT_CHANNEL or type 'use this channel for alerts' in a channel."
        )
    case = Case(
        id=new_case_id(), alert=alert, nonce=secrets.token_urlsafe(12),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"), offered=tuple(ACTIONS),
    )
    window = int(services.settings.group_alerts_minutes * 60)
    case_id, status = await services.cases.open_or_join(case, window)
    # The job and the audit event are independent round trips: sent together, the answer waits for the slower.
    queued = (jobs.refresh_card(services, case_id, Priority.BULK) if status == "grouped"
              else jobs.post_case(services, case_id))  # a repeat re-queues: its first attempt may have died
    if status == "duplicate":
        await queued
        return Accepted(case_id, status)
    log.info("alert %s/%s %s as case %s", alert.source, alert.id, status, case_id)
    queue_result, audited = await asyncio.gather(queued, services.audit.record_event(
        "alert_received", case_id=case_id, result=status, source=alert.source, source_alert_id=alert.id,
        target_upn=alert.user), return_exceptions=True)
    if isinstance(queue_result, BaseException):
        raise queue_result
    if isinstance(audited, BaseException):  # kept and queued: a missed audit event must not refuse the alert
        log.error("audit event for alert %s/%s (case %s) could not be written: %r", alert.source, alert.id,
                  case_id, audited)
    return Accepted(case_id, status)
