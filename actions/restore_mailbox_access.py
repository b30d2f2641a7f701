"""restore_mailbox_access: give back the FullAccess remove_mailbox_access took away."""

from __future__ import annotations

from actions.common import EXCHANGE_PERMISSION, mailbox_not_applicable, require_exchange, require_saved, with_warnings
from actions.remove_mailbox_access import full_access_of
from actions.spec import ActionContext, ActionSpec, Aspect, Outcome, ReadBack, Role

REVERSAL = "Remove it again from the mailbox permissions list."


async def _run(ctx: ActionContext) -> Outcome:
    holder = str(require_saved(ctx, "user")["user"])
    result = await require_exchange(ctx).run(
        "Add-MailboxPermission",
        {"Identity": ctx.target.upn, "User": holder, "AccessRights": ["FullAccess"], "InheritanceType": "All"},
    )
    return Outcome(
        summary=with_warnings(f"Gave {holder} FullAccess to the mailbox of {ctx.target.label} again.",
                              result.warnings),
        reversal=REVERSAL,
        request_id=result.request_id,
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    holder = str(require_saved(ctx, "user")["user"])
    if await full_access_of(ctx, holder):
        return ReadBack(True, f"{holder} has FullAccess to the mailbox", f"{holder} FullAccess")
    return ReadBack(False, f"{holder} without FullAccess to the mailbox", f"{holder} no FullAccess")


ACTION = ActionSpec(
    name="restore_mailbox_access",
    title="Restore access",
    description="give back the mailbox FullAccess Riposte removed",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission=EXCHANGE_PERMISSION,
    not_applicable=mailbox_not_applicable,
    needs_saved=True,
    item_kind="mailbox_permission",
    offered_on_alert=False,
    read_back=read_back,
    watches=frozenset({Aspect.FULL_ACCESS}),
)
