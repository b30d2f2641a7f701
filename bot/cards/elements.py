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


# Style that belongs to a TextRun; the rest (spacing, separator, alignment) to its RichTextBlock.
_RUN_STYLE = frozenset({"size", "weight", "color", "isSubtle", "fontType", "italic", "strikethrough", "highlight",
                        "underline"})


def run(value: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextRun", "text": value, **style}


def text(value: str, **style: Any) -> dict[str, Any]:
    """Text shown exactly as given. Every string on a card goes through here (or facts, which does): Teams reads
    TextBlock text and Fact values as markdown, so an attacker's alert title `[portal](https://evil.example)`
    would become a live link and a password with `**` would lose characters; a TextRun is never markdown."""
    layout = {key: value for key, value in style.items() if key not in _RUN_STYLE}
    return {"type": "RichTextBlock", "inlines": [run(value, **{k: v for k, v in style.items() if k in _RUN_STYLE})],
            **layout}


def facts(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """'Title: value' lines; not a FactSet, whose values Teams renders as markdown."""
    lines = [{"type": "RichTextBlock", "inlines": [run(f"{title}: ", weight="Bolder"), run(value)]}
             for title, value in pairs if value]
    return {"type": "Container", "items": lines}


def fact_line(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """'Title: value · Title: value' in one wrapped paragraph: facts for long lists (the audit), in less JSON."""
    inlines: list[dict[str, Any]] = []
    for title, value in ((title, value) for title, value in pairs if value):
        inlines += [run(f"{' · ' if inlines else ''}{title}: ", weight="Bolder"), run(value)]
    return {"type": "RichTextBlock", "inlines": inlines}


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
