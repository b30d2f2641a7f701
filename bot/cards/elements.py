"""Small Adaptive Card building blocks on adaptive-cards-py's typed elements (schema 1.5, what Teams renders).

Builders put elements together from here; `card` turns the typed tree into the JSON Teams receives. Enum values
come out lower-case (`"bolder"`, `"attention"`): Adaptive Cards reads them case-insensitively, as the 1.5 schema's
patterns say. Raw card JSON is written in one place only: bot/cards/raw.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adaptive_cards import card as ac
from adaptive_cards.types import (
    ActionStyle,
    Colors,
    ContainerStyle,
    FontSize,
    FontType,
    FontWeight,
    MSTeams,
    MSTeamsCardWidth,
    Spacing,
)

from bot.cards.raw import bare_inline_cards

Card = dict[str, Any]
Element = ac.ElementT  # what a card's body, a Container or a ShowCard holds
Action = ac.ActionT  # what a card's actions or an ActionSet holds
SCHEMA_VERSION = "1.5"
FULL_WIDTH = MSTeams(width=MSTeamsCardWidth.FULL)  # Teams' own property: the card takes the thread's width


class CardJson(dict[str, Any]):
    """A card built here: plain JSON all the way down (str, numbers, bools, None, lists, dicts), so it can be
    handed to a serializer as it is, without a walk over every node."""


def as_json(model: ac.AdaptiveCard) -> Card:
    # mode="json": plain strings for the enums (the library's to_dict keeps enum members); exclude_none as to_dict.
    return CardJson(model.model_dump(mode="json", by_alias=True, exclude_none=True))


def adaptive_card(body: Sequence[Element], actions: Sequence[Action] | None = None) -> ac.AdaptiveCard:
    return ac.AdaptiveCard(version=SCHEMA_VERSION, body=list(body), actions=list(actions) if actions else None,
                           msteams=FULL_WIDTH)


def card(body: Sequence[Element], actions: Sequence[Action] | None = None) -> Card:
    return bare_inline_cards(as_json(adaptive_card(body, actions)))


def run(value: str, *, weight: FontWeight | None = None, size: FontSize | None = None, color: Colors | None = None,
        subtle: bool | None = None, font_type: FontType | None = None) -> ac.TextRun:
    return ac.TextRun(text=value, weight=weight, size=size, color=color, is_subtle=subtle, font_type=font_type)


def text(value: str, *, spacing: Spacing | None = None, weight: FontWeight | None = None,
         size: FontSize | None = None, color: Colors | None = None, subtle: bool | None = None,
         font_type: FontType | None = None) -> ac.RichTextBlock:
    """Text shown exactly as given. Every string on a card goes through here (or facts, which does): Teams reads
    TextBlock text and Fact values as markdown, so an attacker's alert title `[portal](https://evil.example)`
    would become a live link and a password with `**` would lose characters; a TextRun is never markdown."""
    return ac.RichTextBlock(
        inlines=[run(value, weight=weight, size=size, color=color, subtle=subtle, font_type=font_type)],
        spacing=spacing)


def paragraph(runs: Sequence[ac.TextRun], *, spacing: Spacing | None = None) -> ac.RichTextBlock:
    """Several runs (each its own style) in one wrapped paragraph: less JSON than a block per line."""
    return ac.RichTextBlock(inlines=list(runs), spacing=spacing)


def facts(pairs: list[tuple[str, str]]) -> ac.Container:
    """'Title: value' lines; not a FactSet, whose values Teams renders as markdown."""
    return ac.Container(items=[paragraph([run(f"{title}: ", weight=FontWeight.BOLDER), run(value)])
                               for title, value in pairs if value])


def fact_line(pairs: list[tuple[str, str]]) -> ac.RichTextBlock:
    """'Title: value · Title: value' in one wrapped paragraph: facts for long lists (the audit), in less JSON."""
    runs: list[ac.TextRun] = []
    for title, value in ((title, value) for title, value in pairs if value):
        runs += [run(f"{' · ' if runs else ''}{title}: ", weight=FontWeight.BOLDER), run(value)]
    return paragraph(runs)


Link = tuple[str, str]  # (a button's title, the https URL it opens): where a notice says to go


def notice_block(notice: str, style: ContainerStyle, link: Link | None = None) -> ac.Container:
    """A notice on top of a card (a refusal, a warning), with a button to where it says to go."""
    items: list[Element] = [text(notice, weight=FontWeight.BOLDER)]
    if link is not None:
        items.append(action_set([open_url(*link)]))
    return container(items, style=style)


def container(items: Sequence[Element], style: ContainerStyle | None = None) -> ac.Container:
    """A styled container bleeds to the card's edges, so its colour reads as a band."""
    return ac.Container(items=list(items), style=style, bleed=True if style else None)


def action_set(actions: Sequence[Action]) -> ac.ActionSet:
    return ac.ActionSet(actions=list(actions))


def execute(title: str, verb: str, data: dict[str, Any], *, enabled: bool = True, tooltip: str = "",
            style: ActionStyle | None = None) -> ac.ActionExecute:
    """A Universal Action button, with the Action.Submit fallback older clients need. `mode=None`: the library
    writes its default `"mode": "primary"` on every action otherwise, which Teams assumes anyway."""
    fallback = ac.ActionSubmit(title=title, data={**data, "verb": verb}, mode=None)
    return ac.ActionExecute(title=title, verb=verb, data=data, style=style, is_enabled=None if enabled else False,
                            tooltip=tooltip or None, fallback=fallback, mode=None)


def open_url(title: str, url: str) -> ac.ActionOpenUrl:
    return ac.ActionOpenUrl(title=title, url=url, mode=None)


def show_card(title: str, body: Sequence[Element]) -> ac.ActionShowCard:
    """A button that unfolds more of the card in place (no round trip to the bot). The inline card's version is
    the library's requirement; `card` drops it from the JSON (bot/cards/raw.py)."""
    return ac.ActionShowCard(title=title, card=ac.AdaptiveCard(version=SCHEMA_VERSION, body=list(body)), mode=None)


def when(iso: str) -> str:
    """'2026-11-21 10:32 UTC' from an ISO timestamp (shown as given if it does not parse)."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M UTC")
