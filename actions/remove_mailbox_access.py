"""remove_mailbox_access: take away another account's FullAccess to the user's mailbox."""

from __future__ import annotations

from actions.common import EXCHANGE_PERMISSION, mailbox_not_applicable, require_exchange, require_item, with_warnings
from actions.spec import ActionContext, ActionSpec, Outcome, Role

REVERSAL = (
    "“Restore access” gives FullAccess back; or Exchange admin centre › Recipients › Mailboxes › the user › "
    "Delegation › Read and manage."
)


async def _run(ctx: ActionContext) -> Outcome:
    holder = require_item(ctx, "mailbox_permission").id
    result = await require_exchange(ctx).run(
        "Remove-MailboxPermission",
        {"Identity": ctx.target.upn, "User": holder, "AccessRights": ["FullAccess"], "Confirm": False},
    )
    return Outcome(
        summary=with_warnings(f"Removed {holder}'s FullAccess to the mailbox of {ctx.target.label}.", result.warnings),
        reversal=REVERSAL,
        request_id=result.request_id,
        undo="restore_mailbox_access",
        saved={"user": holder},
    )


ACTION = ActionSpec(
    name="remove_mailbox_access",
    title="Remove access",
    description="remove this account's FullAccess to the mailbox",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission=EXCHANGE_PERMISSION,
    not_applicable=mailbox_not_applicable,
    undo="restore_mailbox_access",
    undo_title="Restore access",
    item_kind="mailbox_permission",
    offered_on_alert=False,
)
