"""confirm_compromised: tell Identity Protection the user is compromised (user risk high; risk policies apply)."""

from __future__ import annotations

from actions.spec import ActionContext, ActionSpec, Outcome, Role

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


ACTION = ActionSpec(
    name="confirm_compromised",
    title="Confirm compromised",
    description="mark the user as compromised in Identity Protection (user risk: high)",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission="IdentityRiskyUser.ReadWrite.All",
    undo="dismiss_risk",
    undo_title="Dismiss risk",
)
