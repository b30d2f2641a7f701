"""Polling Microsoft Graph security alerts (alerts_v2): new alerts open cases like webhook alerts do.

One replica polls at a time (a Redis lease). The watermark in Redis is a lastUpdateDateTime such that every alert
updated at or before it is durably accepted: it moves only past alerts accept_alert took. A poll reads every page
(Graph lists newest first and takes no $orderby), then handles the alerts oldest first. An alert that fails is
counted, logged and retried on the next poll, and the ones after it are still handled; they come again next time
as duplicates (the same source alert always names the same case), so nothing is lost and nothing posted twice."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

from actions.errors import RiposteError
from bot.intake.alerts import Alert, AlertInvalid, parse_graph_alert
from bot.intake.handle import accept_alert
from bot.services import Services

log = logging.getLogger(__name__)
WATERMARK_KEY = "riposte:poll:watermark"
LEASE_KEY = "riposte:poll:lease"
FIRST_LOOKBACK = timedelta(hours=1)
PAGE_SIZE = 100  # $top: alerts per page
MAX_PAGES = 50  # per poll; past it the watermark stays and the next poll reads again
FAILURES = "riposte_poll_failures_total"

# Graph writes lastUpdateDateTime with up to 7 fractional digits (100 ns); datetime keeps 6, so the fraction is
# compared as digits: two alerts 100 ns apart must not look simultaneous.
_STAMP = re.compile(r"(?P<base>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)?")
Instant = tuple[datetime, str]


def instant(stamp: str) -> Instant:
    """An ISO 8601 timestamp as an exactly ordered key; ValueError when it is not one."""
    match = _STAMP.fullmatch(stamp.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 timestamp: {stamp!r}")
    zone = match["zone"] or "Z"
    moment = datetime.fromisoformat(match["base"] + ("+00:00" if zone == "Z" else zone)).astimezone(UTC)
    return moment, (match["fraction"] or "").ljust(9, "0")


@dataclass(frozen=True)
class _Polled:
    at: Instant
    stamp: str  # as Graph wrote it: the watermark goes back to Graph in $filter
    id: str
    alert: Alert | None  # None: unreadable; it never will be, so the watermark passes it like a handled one


async def poll_once(services: Services) -> int:
    """Fetch alerts updated since the watermark and open a case for each new one; return how many were new."""
    watermark = await services.redis.get(WATERMARK_KEY)
    since = str(watermark) if watermark else (datetime.now(UTC) - FIRST_LOOKBACK).strftime("%Y-%m-%dT%H:%M:%SZ")
    floor = instant(since)
    pages = await services.tenant.security_alerts_since(since, top=PAGE_SIZE, max_pages=MAX_PAGES)
    # Graph lists newest first: what paging did not reach is older than what it did, so moving on would skip it.
    advancing = pages.complete
    if not pages.complete:
        log.warning("Graph security alerts were read only in part; the watermark stays at %s", since)
        services.metrics.count(FAILURES, reason="incomplete")
    new = 0
    ordered = sorted(_readable(services, pages.items), key=lambda item: (item.at, item.id))
    for at, group in groupby(ordered, key=lambda item: item.at):
        stamp = since
        for item in group:
            outcome = await _accept(services, item.alert, item.stamp) if item.alert else False
            advancing = advancing and outcome is not None
            new += outcome is True
            stamp = item.stamp
        # Written after each instant, not once at the end: a poll cut short (a restart) resumes where it was.
        if advancing and at > floor:
            await services.redis.set(WATERMARK_KEY, stamp)
            floor = at
    return new


async def _accept(services: Services, alert: Alert, stamp: str) -> bool | None:
    """True: a new case (or an alert joining one); False: a duplicate; None: failed, to be tried again."""
    try:
        accepted = await accept_alert(services, alert)
    except Exception as error:  # whatever it was, the alerts after this one must still be handled
        services.metrics.count(FAILURES, reason="accept")
        log.warning("Graph alert %s (updated %s) was not accepted and is retried next poll: %s: %s",
                    alert.id, stamp, type(error).__name__, error)
        return None
    # Automation runs in the case's posting job, once its user is resolved (bot/pipeline/jobs.py).
    return accepted.status != "duplicate"


def _readable(services: Services, raws: list[dict[str, Any]]) -> list[_Polled]:
    """The polled alerts in a sortable form. One that cannot be read never will be: it is counted and logged,
    and passed (without a lastUpdateDateTime it cannot even be placed, so it is dropped)."""
    polled = []
    for raw in raws:
        stamp, alert_id = str(raw.get("lastUpdateDateTime") or ""), str(raw.get("id") or "")
        try:
            at = instant(stamp)
        except ValueError as error:
            _count_invalid(services, alert_id, stamp, error)
            continue
        alert: Alert | None = None
        try:
            alert = parse_graph_alert({"@odata.type": "#microsoft.graph.security.alert", **raw})
        except AlertInvalid as invalid:
            _count_invalid(services, alert_id, stamp, invalid)
        polled.append(_Polled(at, stamp, alert_id, alert))
    return polled


def _count_invalid(services: Services, alert_id: str, stamp: str, error: Exception) -> None:
    services.metrics.count(FAILURES, reason="invalid")
    log.warning("skipped Graph alert %s (updated %s): %s", alert_id or "without id", stamp or "never", error)


async def poll_forever(services: Services, every_seconds: float) -> None:
    while True:
        try:
            if await services.redis.set(LEASE_KEY, "1", nx=True, ex=max(1, int(every_seconds))):
                new = await poll_once(services)
                if new:
                    log.info("accepted %d new alert(s) from Microsoft Graph", new)
        except RiposteError as error:
            log.warning("polling Graph security alerts failed: %s", error)
        except Exception:
            log.exception("polling Graph security alerts failed")
        await asyncio.sleep(every_seconds)
