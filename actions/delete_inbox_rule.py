"""delete_inbox_rule: keep a full copy of one inbox rule with the case, then delete it from the mailbox."""

from __future__ import annotations

from actions.common import mailbox_not_applicable, require_item
from actions.errors import NotFound
from actions.spec import ActionContext, ActionSpec, Aspect, Outcome, ReadBack, Role
from actions.tenant_mail import RULE_FIELDS

REVERSAL = "“Restore rule” recreates it from the copy kept with the case (with a new rule id)."


async def _run(ctx: ActionContext) -> Outcome:
    item = require_item(ctx, "inbox_rule")
    rule = await ctx.tenant.get_inbox_rule(ctx.target.id, item.id)  # the full rule, as it is now
    saved = {"rule_id": item.id, **{k: rule[k] for k in RULE_FIELDS if rule.get(k) is not None}}
    request_id = await ctx.tenant.delete_inbox_rule(ctx.target.id, item.id)
    return Outcome(
        summary=f"Deleted the inbox rule “{rule.get('displayName')}” of {ctx.target.label}; a full copy is kept "
                "with the case.",
        reversal=REVERSAL,
        request_id=request_id,
        undo="restore_inbox_rule",
        saved=saved,
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    rule_id = require_item(ctx, "inbox_rule").id
    try:
        rule = await ctx.tenant.get_inbox_rule(ctx.target.id, rule_id)
    except NotFound:
        return ReadBack(True, "inbox rule gone (Graph answers 404 for it)", "rule absent")
    state = f"rule present, isEnabled {str(rule.get('isEnabled')).lower()}"
    return ReadBack(False, f"the rule “{rule.get('displayName')}” still there (isEnabled "
                           f"{str(rule.get('isEnabled')).lower()})", state)


ACTION = ActionSpec(
    name="delete_inbox_rule",
    title="Delete rule",
    description="delete this inbox rule (a full copy is kept with the case)",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission="MailboxSettings.ReadWrite",
    not_applicable=mailbox_not_applicable,
    needs_approval=True,
    destructive=True,
    undo="restore_inbox_rule",
    undo_title="Restore rule",
    item_kind="inbox_rule",
    offered_on_alert=False,
    read_back=read_back,
    contains=True,
    watches=frozenset({Aspect.RULES}),
)
