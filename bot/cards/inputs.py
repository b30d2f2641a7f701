"""Card inputs an action reads when its button is clicked (Teams sends their values with the click): checkboxes
(Block user's steps) and a choice (Remove app's mode). Which inputs an action has is the action's business
(actions.spec.CardInput); how an input looks on a card is decided here only. Pure."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from adaptive_cards import card as ac
from adaptive_cards.types import ChoiceInputStyle, FontWeight, Spacing

from actions.spec import CardInput
from bot.cards.elements import Element, text


def toggle_id(card_input: CardInput, value: str) -> str:
    return f"{card_input.input_id}_{value}"


def draw(card_input: CardInput, leave_out: Collection[str] = ()) -> list[Element]:
    """`leave_out`: choice values not to offer (a bundle's steps are action names; those the policy switches off)."""
    if card_input.many:  # each toggle on by default: unticking one leaves that choice out
        return toggles(card_input.label, [(toggle_id(card_input, choice.value), choice.title)
                                          for choice in card_input.choices if choice.value not in leave_out])
    return [choice(card_input.input_id, card_input.label,
                   [(option.value, option.title) for option in card_input.choices], card_input.default)]


def toggles(heading: str, choices: Sequence[tuple[str, str]], *, ticked: bool = True) -> list[Element]:
    """A heading, then one checkbox per (input id, title); a ticked box sends "true", an unticked one "false"."""
    boxes: list[Element] = [ac.InputToggle(id=input_id, title=title, value="true" if ticked else "false",
                                           value_on="true", value_off="false") for input_id, title in choices]
    return [text(heading, weight=FontWeight.BOLDER, spacing=Spacing.MEDIUM), *boxes]


def choice(input_id: str, label: str, choices: Sequence[tuple[str, str]], value: str) -> ac.InputChoiceSet:
    """Radio buttons (all choices shown, one picked): (value, title) pairs, `value` picked to begin with."""
    return ac.InputChoiceSet(id=input_id, label=label, style=ChoiceInputStyle.EXPANDED, value=value,
                             choices=[ac.InputChoice(title=title, value=choice_value)
                                      for choice_value, title in choices])
