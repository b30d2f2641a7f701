"""remove_mailbox_access: take away another account's FullAccess to the user's mailbox."""

from __future__ import annotations

from actions.common import EXCHANGE_PERMISSION, mailbox_not_applicable, require_exchange, require_item, with_warnings
from actions.spec import ActionContext, ActionSpec, Aspect, Outcome, ReadBack, Role

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


async def full_access_of(ctx: ActionContext, holder: str) -> bool:
    """Whether `holder` has FullAccess to the target's mailbox, as Exchange lists it now."""
    entries, _ = await require_exchange(ctx).invoke("Get-MailboxPermission", {"Identity": ctx.target.upn,
                                                                              "User": holder})
    return any(str(entry.get("User") or "").lower() == holder.lower() and not entry.get("Deny")
               and "fullaccess" in str(entry.get("AccessRights") or "").replace(" ", "").lower()
               for entry in entries)


async def read_back(ctx: ActionContext) -> ReadBack:
    holder = require_item(ctx, "mailbox_permission").id
    if await full_access_of(ctx, holder):
        return ReadBack(False, f"{holder} still with FullAccess to the mailbox", f"{holder} FullAccess")
    return ReadBack(True, f"FullAccess of {holder} gone", f"{holder} no FullAccess")


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
    read_back=read_back,
    contains=True,
    watches=frozenset({Aspect.FULL_ACCESS}),
)
