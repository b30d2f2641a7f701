"""The one place that writes card JSON by hand, for what adaptive-cards-py 0.4.3 cannot express:

- `msteams.entities`, the mentions Teams resolves `<at>name</at>` text with: the library's `MSTeams` model has
  `width` only, and drops any other key;
- an Action.ShowCard's inline card without `version` and `$schema`: the library writes both on every
  AdaptiveCard, but an inline card has neither (Microsoft's renderer removes them from its schema and skips its
  version check), and the 83 bytes count against Teams' 28 KB.

Everything else is typed elements (bot/cards/elements.py); tests/bot/test_card_schema.py fails if card JSON is
written anywhere else in bot/. Plain dicts here, not bot.cards.elements' names: elements uses this module."""

from __future__ import annotations

from typing import Any


def bare_inline_cards(card: dict[str, Any]) -> dict[str, Any]:
    """Drop `version`/`$schema` from the inline cards of the card's own ShowCard actions (where the cards put
    them: “More actions”), in place."""
    for action in card.get("actions", ()):
        if action.get("type") == "Action.ShowCard" and isinstance(action.get("card"), dict):
            action["card"].pop("version", None)
            action["card"].pop("$schema", None)
    return card


def with_mention(card: dict[str, Any], tag: str, user_id: str, name: str) -> dict[str, Any]:
    """`card` with a mention entity for `tag` (the `<at>…</at>` text in one of its TextBlocks), naming the user by
    Entra object id (msteams-docs: "Mention support within Adaptive Cards")."""
    msteams = {**card.get("msteams", {}),
               "entities": [{"type": "mention", "text": tag, "mentioned": {"id": user_id, "name": name}}]}
    result = type(card)(card)  # a CardJson stays one: the Bot Framework adapter sends those as they are
    result["msteams"] = msteams
    return result
