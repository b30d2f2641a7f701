"""restore_transport_rule: recreate a transport rule (New-TransportRule) from the definition kept with the case."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actions.common import EXCHANGE_PERMISSION, require_exchange, require_saved, with_warnings
from actions.errors import NotFound
from actions.spec import ActionContext, ActionSpec, Outcome, ReadBack, Role
from actions.transport_rule_parameters import RESTORABLE

REVERSAL = "Remove it again from the transport rules list, or Exchange admin centre › Mail flow › Rules."
_BY_LOWER = {name.lower(): name for name in RESTORABLE}


def new_rule_parameters(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Get-TransportRule's output as New-TransportRule's parameters: only names New-TransportRule takes (an allow
    list: Get-TransportRule returns many it refuses), only set values (false is every switch's default, and an
    unset condition comes back false or empty), and State as -Enabled."""
    parameters = {
        _BY_LOWER[key.lower()]: value for key, value in definition.items()
        if key.lower() in _BY_LOWER and value is not None and value is not False and value not in ("", [], {})
    }
    parameters["Enabled"] = str(definition.get("State", "Enabled")).lower() == "enabled"
    return parameters


async def _run(ctx: ActionContext) -> Outcome:
    definition = require_saved(ctx, "rule")["rule"]
    parameters = new_rule_parameters(definition)
    result = await require_exchange(ctx).run("New-TransportRule", parameters)
    summary = f"Recreated the transport rule “{parameters.get('Name')}” from the definition kept with the case."
    return Outcome(
        summary=with_warnings(summary, result.warnings),
        reversal=REVERSAL,
        request_id=result.request_id,
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    name = str(new_rule_parameters(require_saved(ctx, "rule")["rule"]).get("Name"))
    try:
        rules, _ = await require_exchange(ctx).invoke("Get-TransportRule", {"Identity": name})
    except NotFound:
        return ReadBack(False, f"no transport rule named “{name}”", "rule absent")
    state = rules[0].get("State") if rules else None
    if rules:
        return ReadBack(True, f"transport rule “{name}” present ({state})", f"rule present, State {state}")
    return ReadBack(False, f"no rule “{name}”", "rule absent")


ACTION = ActionSpec(
    name="restore_transport_rule",
    title="Restore transport rule",
    description="recreate the removed transport rule from its saved definition",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission=EXCHANGE_PERMISSION,
    needs_saved=True,
    item_kind="transport_rule",
    offered_on_alert=False,
    read_back=read_back,
)
