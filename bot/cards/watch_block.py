"""What the case card says about containment (contained / partly contained / reverted / released), and the reply
that tells the responder something was undone. Pure: views in, card JSON out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from adaptive_cards import card as ac
from adaptive_cards.types import Colors, ContainerStyle, FontSize, FontWeight, Spacing

from bot.cards.elements import Action, Card, Element, action_set, card, container, text
from bot.cards.raw import with_mention

STATE_STYLE = {"contained": ContainerStyle.GOOD, "partly contained": ContainerStyle.WARNING,
               "reverted": ContainerStyle.ATTENTION, "released": ContainerStyle.DEFAULT,
               "watch ended": ContainerStyle.DEFAULT, "checking": ContainerStyle.EMPHASIS}
STATE_ICON = {"contained": "🛡️", "partly contained": "⚠️", "reverted": "🚨", "released": "🔓", "watch ended": "⏹️",
              "checking": "🔎"}


@dataclass(frozen=True)
class WatchView:
    state: str  # contained | partly contained | reverted | released | watch ended | checking
    lines: tuple[str, ...]  # what is missing, what was undone (with when), or why watching stopped
    last_check: str  # "2026-11-21 11:04 UTC", or "" before the first
    footer: str  # "Watching until … (every 15 min)" or "Not watched any more: …"
    release: ac.ActionExecute | None = None  # the Release button
    problem: str = ""  # the last check failed: why


def watch_block(view: WatchView) -> ac.Container:
    headline = f"{STATE_ICON.get(view.state, '•')} Containment: {view.state}"
    if view.last_check:
        headline += f" · last checked {view.last_check}"
    items: list[Element] = [text(headline, weight=FontWeight.BOLDER)]
    items.extend(text(f"• {line}", spacing=Spacing.NONE) for line in view.lines)
    if view.problem:
        items.append(text(f"Last check failed: {view.problem}", color=Colors.WARNING))
    items.append(text(view.footer, subtle=True, size=FontSize.SMALL))
    if view.release is not None:
        items.append(action_set([view.release]))
    return container(items, style=STATE_STYLE.get(view.state))


_MARKUP = re.compile(r"[<>\[\]()*_`~#|\\]")


def mention_name(name: str) -> str:
    """A display name safe inside `<at>…</at>` in a TextBlock (markdown): no tags, links or emphasis."""
    return _MARKUP.sub("", name).strip() or "responder"


def change_reply(responder_id: str, responder_name: str, user_label: str, found: list[str], advice: str,
                 buttons: Sequence[Action]) -> Card:
    """A reply in the case's thread that @mentions the responder who contained the user (Teams: `<at>` text plus a
    mention entity in the card's msteams.entities, by Entra object id) with the buttons to act again."""
    name = mention_name(responder_name)
    tag = f"<at>{name}</at>" if responder_id else name  # no id (automation acted): nobody to mention
    body: list[Element] = [
        # A TextBlock: Teams resolves mentions in TextBlocks only. The name is cleaned of markup above.
        ac.TextBlock(text=f"{tag}, something you contained was undone.", wrap=True, weight=FontWeight.BOLDER),
        container([text(f"{user_label}:", weight=FontWeight.BOLDER),
                   *(text(f"• {line}", spacing=Spacing.NONE) for line in found)], style=ContainerStyle.ATTENTION),
    ]
    if advice:
        body.append(text(advice))
    result = card(body, buttons or None)
    return with_mention(result, tag, responder_id, name) if responder_id else result
