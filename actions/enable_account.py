"""enable_account: let the user sign in again (accountEnabled=true); the undo of disable_account."""

from __future__ import annotations

from actions.spec import ON_ADMINISTRATORS, ActionContext, ActionSpec, Aspect, Outcome, ReadBack, Role, TargetUser

REVERSAL = "Disable the account again with “Disable again” (or “Disable account”)."


def _not_applicable(target: TargetUser) -> str | None:
    return "the account is enabled" if target.account_enabled else None


async def _run(ctx: ActionContext) -> Outcome:
    request_id = await ctx.tenant.set_account_enabled(ctx.target.id, True)
    summary = f"Re-enabled the account of {ctx.target.label}: they can sign in again."
    if ctx.target.on_premises_sync:
        summary += (
            " The account is synced from on-premises: if it is disabled in Active Directory, sync disables it again."
        )
    return Outcome(summary=summary, reversal=REVERSAL, request_id=request_id, undo="disable_account")


async def read_back(ctx: ActionContext) -> ReadBack:
    user = await ctx.tenant.get_user_fields(ctx.target.id, ["accountEnabled"])
    if user.get("accountEnabled") is True:
        return ReadBack(True, "account enabled (accountEnabled true)", "accountEnabled true")
    state = f"accountEnabled {str(user.get('accountEnabled')).lower()}"
    return ReadBack(False, f"the account still disabled ({state})", state)


ACTION = ActionSpec(
    name="enable_account",
    title="Re-enable account",
    description="let the user sign in again",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission="User.EnableDisableAccount.All + User.Read.All",
    delegated_scope="User.EnableDisableAccount.All + User.Read.All",
    delegated_admin_roles=ON_ADMINISTRATORS,
    not_applicable=_not_applicable,
    undo="disable_account",
    undo_title="Disable again",
    read_back=read_back,
    changes_target=True,
    watches=frozenset({Aspect.ACCOUNT}),
)
