"""dismiss_risk: clear the user's risk in Identity Protection (the undo of confirm_compromised)."""

from __future__ import annotations

from actions.errors import NotFound
from actions.spec import RISK_WRITERS, ActionContext, ActionSpec, Outcome, ReadBack, Role

REVERSAL = "“Confirm compromised” marks the user compromised again."


async def _run(ctx: ActionContext) -> Outcome:
    request_id = await ctx.tenant.dismiss_risk(ctx.target.id)
    return Outcome(
        summary=f"Dismissed the risk of {ctx.target.label}: user risk is none (risk state “dismissed”).",
        reversal=REVERSAL,
        request_id=request_id,
        undo="confirm_compromised",
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    try:
        risky = await ctx.tenant.get_risky_user(ctx.target.id)
    except NotFound:
        return ReadBack(True, "no risk record for the user (nothing at risk)", "no risk record")
    state, level = risky.get("riskState"), risky.get("riskLevel")
    facts = f"riskState {state}, riskLevel {level}"
    if state in ("dismissed", "remediated", "none") or level == "none":
        return ReadBack(True, f"risk state {state} (risk level {level})", facts)
    return ReadBack(False, f"risk state {state} (risk level {level}), not dismissed", facts)


ACTION = ActionSpec(
    name="dismiss_risk",
    title="Dismiss risk",
    description="clear the user's risk in Identity Protection",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission="IdentityRiskyUser.ReadWrite.All",
    delegated_scope="IdentityRiskyUser.ReadWrite.All",
    delegated_admin_roles=RISK_WRITERS,
    undo="confirm_compromised",
    undo_title="Confirm compromised again",
    offered_on_alert=False,
    read_back=read_back,
)
