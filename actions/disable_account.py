"""disable_account: stop every new sign-in by setting accountEnabled=false (existing sessions need revoking)."""

from __future__ import annotations

from actions.spec import (
    ON_ADMINISTRATORS,
    ActionContext,
    ActionSpec,
    Aspect,
    Outcome,
    ReadBack,
    Role,
    SyncedAccount,
    TargetUser,
)

REVERSAL = (
    "Re-enable the account with “Re-enable account”, or in the Entra admin centre › Users › the user › "
    "Edit properties › Account enabled."
)
SYNC_WARNING = (
    " Warning: this account is synced from on-premises Active Directory, so the next directory sync may re-enable "
    "it. Disable it in Active Directory too, or use “Block sign-in” (a Conditional Access policy, which sync does "
    "not touch)."
)


def _not_applicable(target: TargetUser) -> str | None:
    return None if target.account_enabled else "the account is already disabled"


async def _run(ctx: ActionContext) -> Outcome:
    request_id = await ctx.tenant.set_account_enabled(ctx.target.id, False)
    summary = (
        f"Disabled the account of {ctx.target.label}: no new sign-ins. Sessions already open last until they are "
        "revoked (“Revoke sessions”)."
    )
    if ctx.target.on_premises_sync:
        summary += SYNC_WARNING
    return Outcome(summary=summary, reversal=REVERSAL, request_id=request_id, undo="enable_account")


async def read_back(ctx: ActionContext) -> ReadBack:
    user = await ctx.tenant.get_user_fields(ctx.target.id, ["accountEnabled"])
    if user.get("accountEnabled") is False:
        return ReadBack(True, "account disabled (accountEnabled false)", "accountEnabled false")
    state = f"accountEnabled {str(user.get('accountEnabled')).lower()}"
    return ReadBack(False, f"the account still enabled ({state})", state)


ACTION = ActionSpec(
    name="disable_account",
    title="Disable account",
    description="block every new sign-in by disabling the account",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission="User.EnableDisableAccount.All + User.Read.All",
    delegated_scope="User.EnableDisableAccount.All + User.Read.All",
    delegated_admin_roles=ON_ADMINISTRATORS,
    not_applicable=_not_applicable,
    undo="enable_account",
    undo_title="Re-enable account",
    read_back=read_back,
    changes_target=True,
    contains=True,
    watches=frozenset({Aspect.ACCOUNT}),
    on_synced=SyncedAccount(alternative="block_signin", warning=SYNC_WARNING.strip()),
)
