"""The Teams activity handler: turns activities into flows. Identity comes only from the activity."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import AdaptiveCardInvokeResponse

from bot.cards.alert_card import message_card
from bot.flows import Click, handle_click
from bot.services import Services

log = logging.getLogger(__name__)
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"


def card_response(card: dict[str, Any]) -> InvokeResponse:
    # A model, not a dict: botbuilder 4.17 serialises the body itself (a dict here answers 500).
    body = AdaptiveCardInvokeResponse(status_code=200, type=CARD_CONTENT_TYPE, value=card)
    return InvokeResponse(status=200, body=body)


class RiposteBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(self, services: Services) -> None:
        super().__init__()
        self._services = services

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            response: InvokeResponse = await super().on_invoke_activity(turn_context)
            return response
        # Raw value: botbuilder's typed AdaptiveCardInvokeValue drops fields Teams sends (trigger).
        value = activity.value if isinstance(activity.value, dict) else {}
        action = value.get("action") or {}
        raw_data = action.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        sender = activity.from_property
        channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        tenant = (channel_data.get("tenant") or {}).get("id") or getattr(activity.conversation, "tenant_id", "")
        click = Click(
            object_id=str(getattr(sender, "aad_object_id", "") or ""),
            name=str(getattr(sender, "name", "") or "someone"),
            verb=str(action.get("verb", "")),
            data=data,
            tenant_id=str(tenant or ""),
        )
        if not click.object_id:
            return card_response(message_card("This click carries no Entra identity, so nothing ran.", "attention"))
        return card_response(await handle_click(self._services, click))

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(
            "Typed commands are not available yet: use the buttons on an alert card."
        )
