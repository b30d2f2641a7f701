"""Where alerts go: the channel a responder chose in chat (remembered in Redis), else RIPOSTE_ALERT_CHANNEL."""

from __future__ import annotations

import json

from bot.services import Services

ALERT_CHANNEL_KEY = "riposte:alert-channel"


async def remember(services: Services, channel_id: str, service_url: str, set_by: str) -> None:
    payload = {"channel_id": channel_id, "service_url": service_url, "set_by": set_by}
    await services.redis.set(ALERT_CHANNEL_KEY, json.dumps(payload))


async def current(services: Services) -> tuple[str, str]:
    """The channel id and its Bot Connector service URL; the newest choice in chat wins over the setting."""
    raw = await services.redis.get(ALERT_CHANNEL_KEY)
    if raw:
        chosen = json.loads(str(raw))
        return str(chosen["channel_id"]), str(chosen.get("service_url") or services.settings.service_url)
    return services.settings.alert_channel, services.settings.service_url
