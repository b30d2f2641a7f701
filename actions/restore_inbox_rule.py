"""restore_inbox_rule: recreate an inbox rule from the copy delete_inbox_rule kept."""

from __future__ import annotations

from actions.common import RULES_IN_OUTLOOK, mailbox_not_applicable, require_saved
from actions.spec import ActionContext, ActionSpec, Outcome, Role

REVERSAL = f"Delete it again from the inbox rules list, or {RULES_IN_OUTLOOK}."


async def _run(ctx: ActionContext) -> Outcome:
    saved = require_saved(ctx, "displayName", "actions")
    rule_id, request_id = await ctx.tenant.create_inbox_rule(ctx.target.id, saved)
    return Outcome(
        summary=f"Restored the inbox rule “{saved['displayName']}” of {ctx.target.label} (new id {rule_id}).",
        reversal=REVERSAL,
        request_id=request_id,
    )


ACTION = ActionSpec(
    name="restore_inbox_rule",
    title="Restore rule",
    description="recreate the deleted inbox rule from the copy kept with the case",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission="MailboxSettings.ReadWrite",
    not_applicable=mailbox_not_applicable,
    needs_saved=True,
    item_kind="inbox_rule",
    offered_on_alert=False,
)
