"""remove_transport_rule: keep the full definition of an organization mail-flow rule, then remove it.

Transport rules apply to the whole organization (an attacker with admin rights adds one to copy mail out).
"""

from __future__ import annotations

from actions.common import EXCHANGE_PERMISSION, require_exchange, require_item, with_warnings
from actions.errors import NotFound
from actions.spec import ActionContext, ActionSpec, Outcome, ReadBack, Role

REVERSAL = (
    "“Restore transport rule” recreates it from the definition kept with the case; or recreate it in the "
    "Exchange admin centre › Mail flow › Rules."
)


async def _run(ctx: ActionContext) -> Outcome:
    identity = require_item(ctx, "transport_rule").id
    exchange = require_exchange(ctx)
    rules, _ = await exchange.invoke("Get-TransportRule", {"Identity": identity})
    if not rules:
        raise NotFound(f"Exchange has no transport rule {identity!r}.")
    definition = rules[0]
    result = await exchange.run("Remove-TransportRule", {"Identity": identity, "Confirm": False})
    return Outcome(
        summary=with_warnings(f"Removed the transport rule “{definition.get('Name') or identity}” (organization-wide); "
                              "its full definition is kept with the case.", result.warnings),
        reversal=REVERSAL,
        request_id=result.request_id,
        undo="restore_transport_rule",
        saved={"rule": definition},
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    identity = require_item(ctx, "transport_rule").id
    try:
        rules, _ = await require_exchange(ctx).invoke("Get-TransportRule", {"Identity": identity})
    except NotFound:
        rules = []
    if rules:
        return ReadBack(False, f"the transport rule “{rules[0].get('Name') or identity}” still there "
                               f"({rules[0].get('State')})", f"rule present, State {rules[0].get('State')}")
    return ReadBack(True, f"transport rule “{identity}” gone", "rule absent")


ACTION = ActionSpec(
    name="remove_transport_rule",
    title="Remove transport rule",
    description="remove this organization mail-flow rule (its definition is kept with the case)",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission=EXCHANGE_PERMISSION,
    needs_approval=True,
    destructive=True,
    undo="restore_transport_rule",
    undo_title="Restore transport rule",
    item_kind="transport_rule",
    offered_on_alert=False,
    read_back=read_back,
)
