"""restore_inbox_rule: recreate an inbox rule from the copy delete_inbox_rule kept."""

from __future__ import annotations

from actions.common import RULES_IN_OUTLOOK, mailbox_not_applicable, require_saved
from actions.spec import ActionContext, ActionSpec, Aspect, Outcome, ReadBack, Role

REVERSAL = f"Delete it again from the inbox rules list, or {RULES_IN_OUTLOOK}."


async def _run(ctx: ActionContext) -> Outcome:
    saved = require_saved(ctx, "displayName", "actions")
    rule_id, request_id = await ctx.tenant.create_inbox_rule(ctx.target.id, saved)
    return Outcome(
        summary=f"Restored the inbox rule “{saved['displayName']}” of {ctx.target.label} (new id {rule_id}).",
        reversal=REVERSAL,
        request_id=request_id,
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    """The new rule's id is Exchange's to choose: look for the saved rule by its name."""
    name = require_saved(ctx, "displayName")["displayName"]
    rules = [rule for rule in await ctx.tenant.list_inbox_rules(ctx.target.id) if rule.get("displayName") == name]
    if rules:
        state = f"rule “{name}” present, isEnabled {str(rules[0].get('isEnabled')).lower()}"
        return ReadBack(True, f"rule “{name}” present (isEnabled {str(rules[0].get('isEnabled')).lower()})", state)
    return ReadBack(False, f"no inbox rule named “{name}”", f"rule “{name}” absent")


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
    read_back=read_back,
    watches=frozenset({Aspect.RULES}),
)
