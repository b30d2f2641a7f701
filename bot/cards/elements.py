"""Small Adaptive Card building blocks (schema 1.5, what Teams renders)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

Card = dict[str, Any]
SCHEMA_VERSION = "1.5"


class CardJson(dict[str, Any]):
    """A card built here: plain JSON all the way down (str, numbers, bools, None, lists, dicts), so it can be
    handed to a serializer as it is, without a walk over every node."""


def card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> Card:
    result: Card = CardJson({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": SCHEMA_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    })
    if actions:
        result["actions"] = actions
    return result


def text(value: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": value, "wrap": True, **style}


def facts(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "FactSet", "facts": [{"title": title, "value": value} for title, value in pairs if value]}


def container(items: list[dict[str, Any]], style: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "Container", "items": items}
    if style:
        block["style"] = style
        block["bleed"] = True
    return block


def execute(
    title: str, verb: str, data: dict[str, Any], *, enabled: bool = True, tooltip: str = "", style: str = ""
) -> dict[str, Any]:
    """A Universal Action button, with the Action.Submit fallback older clients need."""
    action: dict[str, Any] = {"type": "Action.Execute", "title": title, "verb": verb, "data": data}
    if style:
        action["style"] = style
    if not enabled:
        action["isEnabled"] = False
    if tooltip:
        action["tooltip"] = tooltip
    action["fallback"] = {"type": "Action.Submit", "title": title, "data": {**data, "verb": verb}}
    return action


def when(iso: str) -> str:
    """'2026-11-21 10:32 UTC' from an ISO timestamp (shown as given if it does not parse)."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M UTC")
