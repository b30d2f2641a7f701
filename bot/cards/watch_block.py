"""What the case card says about containment (contained / partly contained / reverted / released), and the reply
that tells the responder something was undone. Pure: views in, card JSON out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.cards.elements import Card, card, container, text

STATE_STYLE = {"contained": "good", "partly contained": "warning", "reverted": "attention", "released": "default",
               "watch ended": "default", "checking": "emphasis"}
STATE_ICON = {"contained": "🛡️", "partly contained": "⚠️", "reverted": "🚨", "released": "🔓", "watch ended": "⏹️",
              "checking": "🔎"}


@dataclass(frozen=True)
class WatchView:
    state: str  # contained | partly contained | reverted | released | watch ended | checking
    lines: tuple[str, ...]  # what is missing, what was undone (with when), or why watching stopped
    last_check: str  # "2026-11-21 11:04 UTC", or "" before the first
    footer: str  # "Watching until … (every 15 min)" or "Not watched any more: …"
    release: dict[str, Any] | None = None  # the rendered Release button
    problem: str = ""  # the last check failed: why


def watch_block(view: WatchView) -> dict[str, Any]:
    headline = f"{STATE_ICON.get(view.state, '•')} Containment: {view.state}"
    if view.last_check:
        headline += f" · last checked {view.last_check}"
    items: list[dict[str, Any]] = [text(headline, weight="Bolder")]
    items.extend(text(f"• {line}", spacing="None") for line in view.lines)
    if view.problem:
        items.append(text(f"Last check failed: {view.problem}", color="Warning"))
    items.append(text(view.footer, isSubtle=True, size="Small"))
    if view.release is not None:
        items.append({"type": "ActionSet", "actions": [view.release]})
    return container(items, style=STATE_STYLE.get(view.state))


_MARKUP = re.compile(r"[<>\[\]()*_`~#|\\]")


def mention_name(name: str) -> str:
    """A display name safe inside `<at>…</at>` in a TextBlock (markdown): no tags, links or emphasis."""
    return _MARKUP.sub("", name).strip() or "responder"


def change_reply(responder_id: str, responder_name: str, user_label: str, found: list[str], advice: str,
                 buttons: list[dict[str, Any]]) -> Card:
    """A reply in the case's thread that @mentions the responder who contained the user (Teams: `<at>` text plus a
    mention entity in the card's msteams.entities, by Entra object id) with the buttons to act again."""
    name = mention_name(responder_name)
    tag = f"<at>{name}</at>" if responder_id else name  # no id (automation acted): nobody to mention
    body: list[dict[str, Any]] = [
        # A TextBlock: Teams resolves mentions in TextBlocks only. The name is cleaned of markup above.
        {"type": "TextBlock", "text": f"{tag}, something you contained was undone.", "wrap": True,
         "weight": "Bolder"},
        container([text(f"{user_label}:", weight="Bolder"),
                   *(text(f"• {line}", spacing="None") for line in found)], style="attention"),
    ]
    if advice:
        body.append(text(advice))
    result = card(body, buttons or None)
    if responder_id:
        result["msteams"] = {**result.get("msteams", {}), "entities": [
            {"type": "mention", "text": tag, "mentioned": {"id": responder_id, "name": name}},
        ]}
    return result
