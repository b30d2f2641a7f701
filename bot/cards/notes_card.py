"""Case notes: one reply in the case's thread holding the notes of a few seconds (who, what, when, outcome, Graph
request id), so that the channel is the case's record while the card keeps its current state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adaptive_cards import card as ac
from adaptive_cards.types import FontSize, FontWeight, Spacing

from bot.cards.elements import Card, Element, card, container, paragraph, run, text, when

NOTES_HEADING = "Case record"


@dataclass(frozen=True)
class NoteLine:
    icon: str  # ✅ ❌ ⚠ 👍 👎 ⌛ 🔓 ⏹
    at: str  # ISO time of the event
    who: str
    what: str
    outcome: str = ""
    request_id: str = ""
    lines: tuple[str, ...] = ()  # details under it: a bundle's steps, the read-back


def _note(note: NoteLine) -> ac.Container:
    # Every string here may come from outside (a rule's name, a display name, a rejection reason): TextRuns only.
    head = paragraph([
        run(f"{note.icon} {when(note.at)} · "), run(note.who, weight=FontWeight.BOLDER), run(f": {note.what}"),
        *([run(f" — {note.outcome}")] if note.outcome else []),
    ])
    items: list[Element] = [head, *(text(f"• {line}", spacing=Spacing.NONE, subtle=True) for line in note.lines)]
    if note.request_id:
        items.append(text(f"Graph request id: {note.request_id}", spacing=Spacing.NONE, subtle=True,
                          size=FontSize.SMALL))
    return container(items)


def notes_card(notes: Sequence[NoteLine]) -> Card:
    return card([text(NOTES_HEADING, weight=FontWeight.BOLDER, size=FontSize.SMALL, subtle=True),
                 *(_note(note) for note in notes)])
