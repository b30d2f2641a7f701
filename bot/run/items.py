"""The item an action acts on (an inbox rule, an app...), always as Riposte listed it: a click, an approval and
crash recovery find it here, by id, never from the card."""

from __future__ import annotations

from actions.relations import reversed_by
from actions.spec import ActionSpec, Item
from bot.services import Services
from bot.state.cases import Case, record_key


async def chosen_item(services: Services, case: Case, spec: ActionSpec, item_id: str,
                      label: str | None = None) -> Item | None:
    """The listed item `item_id` of the kind `spec` acts on. Not listed (any more): with `label` (what an
    approval request or a run recorded), that item by id and label; for an undo, the item the action it reverses
    worked on; else None (list again)."""
    if not spec.item_kind or not item_id:
        return None
    listed = (await services.cases.listings(case.id)).get(spec.item_kind, [])
    found = next((item for item in listed if item.id == item_id), None)
    if found is not None:
        return found
    if label is not None:
        return Item(kind=spec.item_kind, id=item_id, label=label)
    if spec.needs_saved:
        records = await services.cases.records(case.id)
        for name in reversed_by(spec.name):
            record = records.get(record_key(name, item_id))
            if record is not None:
                return Item(kind=spec.item_kind, id=item_id, label=record.item_label)
    return None
