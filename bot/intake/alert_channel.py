"""Where alerts go: the channel a responder chose in chat (remembered in Redis), else RIPOSTE_ALERT_CHANNEL; and
the Bot Connector service URL to post there, as Teams last sent it (it differs by region), else the setting."""

from __future__ import annotations

import json

from bot.services import Services

ALERT_CHANNEL_KEY = "riposte:alert-channel"
SERVICE_URL_KEY = "riposte:service-url"


async def learn_service_url(services: Services, service_url: str) -> None:
    """Remember the service URL an authenticated activity from our tenant came with (one cheap write each)."""
    await services.redis.set(SERVICE_URL_KEY, service_url)


async def remember(services: Services, channel_id: str, service_url: str, set_by: str, team_id: str = "") -> None:
    payload = {"channel_id": channel_id, "service_url": service_url, "set_by": set_by, "team_id": team_id}
    await services.redis.set(ALERT_CHANNEL_KEY, json.dumps(payload))


async def forget_team(services: Services, team_id: str, why: str) -> str | None:
    """The bot left the team (uninstalled, or removed): the alert channel chosen there can no longer be posted to,
    so forget it (its alerts stay queued, and /healthz says why, until a channel is chosen again). Returns the
    channel forgotten, if any."""
    raw = await services.redis.get(ALERT_CHANNEL_KEY)
    if not raw:
        return None
    chosen = json.loads(str(raw))
    if team_id and chosen.get("team_id") and chosen["team_id"] != team_id:
        return None  # another team's removal: this channel is still reachable
    await services.redis.delete(ALERT_CHANNEL_KEY)
    await services.audit.record_event("alert_channel_cleared", state_before=str(chosen.get("channel_id")),
                                      state_after="(none)", result="ok", detail=why)
    return str(chosen.get("channel_id"))


async def current(services: Services) -> tuple[str, str]:
    """The channel id and its Bot Connector service URL; the newest choice in chat wins over the setting."""
    raw, learned = await services.redis.mget(ALERT_CHANNEL_KEY, SERVICE_URL_KEY)
    service_url = str(learned or services.settings.service_url)
    if raw:
        chosen = json.loads(str(raw))
        # The URL Teams last used wins over the one recorded when the channel was chosen (it can move).
        return str(chosen["channel_id"]), str(learned or chosen.get("service_url") or services.settings.service_url)
    return services.settings.alert_channel, service_url
