"""The card's Release button: stop watching the case's user (responders only; audited by `release`)."""

from __future__ import annotations

import hmac
from typing import Any

from actions.spec import Role
from bot.cards.alert_card import message_card
from bot.clicks.answered import Turn
from bot.run.execution import card_for
from bot.services import Card, Services
from bot.watch.schedule import release


async def release_click(services: Services, data: dict[str, Any], object_id: str, name: str, turn: Turn) -> Card:
    case = await services.cases.get(str(data.get("case", "")))
    if case is None or not hmac.compare_digest(str(data.get("nonce", "")), case.nonce):
        return message_card("Nothing to release here.", "default")
    actor = await services.roles.actor(object_id, name, turn)
    if Role.RESPONDER not in actor.roles and Role.ADMIN_RESPONDER not in actor.roles:
        return await card_for(services, case, f"⛔ Releasing needs the responder role; {actor.name} does not hold it.")
    said = await release(services, case.id, actor)
    return await card_for(services, case, said, "good")
