"""The card inputs an action declares (actions.spec.CardInput), drawn: a choice set, or a heading and a toggle
per choice. Pure."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from actions.spec import CardInput
from bot.cards.elements import text


def toggle_id(card_input: CardInput, value: str) -> str:
    return f"{card_input.input_id}_{value}"


def draw(card_input: CardInput, leave_out: Collection[str] = ()) -> tuple[dict[str, Any], ...]:
    """`leave_out`: choice values not to offer (a bundle's steps are action names; those the policy switches off)."""
    if card_input.many:  # each toggle on by default: unticking one leaves that choice out
        return (text(card_input.label, weight="Bolder", spacing="Medium"), *(
            {"type": "Input.Toggle", "id": toggle_id(card_input, choice.value), "title": choice.title,
             "value": "true", "valueOn": "true", "valueOff": "false"}
            for choice in card_input.choices if choice.value not in leave_out))
    return ({"type": "Input.ChoiceSet", "id": card_input.input_id, "style": "expanded", "value": card_input.default,
             "label": card_input.label,
             "choices": [{"title": choice.title, "value": choice.value} for choice in card_input.choices]},)
