"""The choices a click carries for its action, read against what the action declares (ActionSpec.inputs): only
declared values come through, never free text from the card."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actions.spec import ActionSpec, CardInput
from bot.cards.inputs import toggle_id


def _read(card_input: CardInput, data: Mapping[str, Any]) -> Any:
    values = [choice.value for choice in card_input.choices]
    if card_input.many:  # a toggle the card did not send counts as on (its default)
        return [value for value in values if str(data.get(toggle_id(card_input, value), "true")).lower() == "true"]
    chosen = str(data.get(card_input.input_id, ""))
    return chosen if chosen in values else card_input.default


def read_options(spec: ActionSpec, data: Mapping[str, Any]) -> dict[str, Any]:
    return {card_input.option: _read(card_input, data) for card_input in spec.inputs}


def spelled_out(spec: ActionSpec, options: Mapping[str, Any]) -> str:
    """The choices in words, for an approver: a tenant-wide deletion must read as one."""
    said = []
    for card_input in spec.inputs:
        value = options.get(card_input.option)
        by_value = {choice.value: choice for choice in card_input.choices}
        if card_input.many and isinstance(value, list):
            said.append(f"{card_input.option}: " + ", ".join(
                by_value[str(v)].title if str(v) in by_value else str(v) for v in value))
        elif not card_input.many and str(value) in by_value:
            choice = by_value[str(value)]
            said.append(choice.said or choice.title)
    return "; ".join(said)
