"""confirm_compromised: tell Identity Protection the user is compromised (user risk high; risk policies apply)."""

from __future__ import annotations

from actions.errors import NotFound
from actions.spec import RISK_WRITERS, ActionContext, ActionSpec, Outcome, ReadBack, Role

REVERSAL = (
    "“Dismiss risk” clears the user's risk; or Entra admin centre › Protection › Identity Protection › Risky users "
    "› Dismiss user risk."
)


async def _run(ctx: ActionContext) -> Outcome:
    request_id = await ctx.tenant.confirm_compromised(ctx.target.id)
    return Outcome(
        summary=f"Confirmed {ctx.target.label} as compromised: their user risk is now high, so risk-based "
                "Conditional Access policies apply, and Microsoft's detections learn from it.",
        reversal=REVERSAL,
        request_id=request_id,
        undo="dismiss_risk",
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    try:
        risky = await ctx.tenant.get_risky_user(ctx.target.id)
    except NotFound:
        return ReadBack(False, "no risk record for the user in Identity Protection", "no risk record")
    state, level = risky.get("riskState"), risky.get("riskLevel")
    facts = f"riskState {state}, riskLevel {level}"
    if state == "confirmedCompromised":
        return ReadBack(True, f"risk state confirmedCompromised (risk level {level})", facts)
    return ReadBack(False, f"risk state {state} (risk level {level}), not confirmedCompromised", facts)


ACTION = ActionSpec(
    name="confirm_compromised",
    title="Confirm compromised",
    description="mark the user as compromised in Identity Protection (user risk: high)",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission="IdentityRiskyUser.ReadWrite.All",
    delegated_scope="IdentityRiskyUser.ReadWrite.All",
    delegated_admin_roles=RISK_WRITERS,
    undo="dismiss_risk",
    undo_title="Dismiss risk",
    read_back=read_back,
)
