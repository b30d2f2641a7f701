"""The one place that writes card JSON by hand, for what adaptive-cards-py 0.4.3 cannot express.

What it lacks, and so what is here: `msteams.entities`, the mentions Teams resolves `<at>name</at>` text with
(the library's `MSTeams` model has `width` only, and drops any other key). Everything else is typed elements in
bot/cards/elements.py; tests/bot/test_card_schema.py fails if card JSON is written anywhere else in bot/."""

from __future__ import annotations

from bot.cards.elements import Card


def with_mention(card: Card, tag: str, user_id: str, name: str) -> Card:
    """`card` with a mention entity for `tag` (the `<at>…</at>` text in one of its TextBlocks), naming the user by
    Entra object id (msteams-docs: "Mention support within Adaptive Cards")."""
    msteams = {**card.get("msteams", {}),
               "entities": [{"type": "mention", "text": tag, "mentioned": {"id": user_id, "name": name}}]}
    result = type(card)(card)  # a CardJson stays one: the Bot Framework adapter sends those as they are
    result["msteams"] = msteams
    return result
