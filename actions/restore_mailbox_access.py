"""restore_mailbox_access: give back the FullAccess remove_mailbox_access took away."""

from __future__ import annotations

from actions.common import EXCHANGE_PERMISSION, mailbox_not_applicable, require_exchange, require_saved, with_warnings
from actions.spec import ActionContext, ActionSpec, Outcome, Role

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
)
