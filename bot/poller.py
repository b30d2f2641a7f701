"""Polling Microsoft Graph security alerts (alerts_v2): new alerts open cases like webhook alerts do.

One replica polls at a time (a Redis lease); the watermark (the last lastUpdateDateTime seen) is in Redis, and a
source alert already turned into a case is a duplicate, so an overlap between polls posts nothing twice."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from actions.errors import RiposteError
from bot.alerts import AlertInvalid, parse_graph_alert
from bot.automation import maybe_automate
from bot.intake import accept_alert
from bot.services import Services

log = logging.getLogger(__name__)
WATERMARK_KEY = "riposte:poll:watermark"
LEASE_KEY = "riposte:poll:lease"
FIRST_LOOKBACK = timedelta(hours=1)


async def poll_once(services: Services) -> int:
    """Fetch alerts updated since the watermark and open a case for each new one; return how many were posted."""
    watermark = await services.redis.get(WATERMARK_KEY)
    since = str(watermark) if watermark else (datetime.now(UTC) - FIRST_LOOKBACK).strftime("%Y-%m-%dT%H:%M:%SZ")
    posted = 0
    for raw in await services.tenant.security_alerts_since(since):
        raw.setdefault("@odata.type", "#microsoft.graph.security.alert")
        try:
            alert = parse_graph_alert(raw)
        except AlertInvalid as invalid:
            log.warning("skipped Graph alert %s: %s", raw.get("id"), invalid)
        else:
            accepted = await accept_alert(services, alert)
            if accepted.status == "posted":
                posted += 1
                await maybe_automate(services, accepted.case_id)
        updated = str(raw.get("lastUpdateDateTime") or "")
        if updated > since:
            since = updated
            await services.redis.set(WATERMARK_KEY, since)
    return posted


async def poll_forever(services: Services, every_seconds: float) -> None:
    while True:
        try:
            if await services.redis.set(LEASE_KEY, "1", nx=True, ex=max(1, int(every_seconds))):
                posted = await poll_once(services)
                if posted:
                    log.info("posted %d new alert(s) from Microsoft Graph", posted)
        except RiposteError as error:
            log.warning("polling Graph security alerts failed: %s", error)
        except Exception:
            log.exception("polling Graph security alerts failed")
        await asyncio.sleep(every_seconds)
