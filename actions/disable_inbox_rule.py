"""disable_inbox_rule: turn one inbox rule off (isEnabled=false), keeping it for the investigation."""

from __future__ import annotations

from actions.common import RULES_IN_OUTLOOK, mailbox_not_applicable, require_item
from actions.errors import NotFound
from actions.spec import ActionContext, ActionSpec, Aspect, Outcome, ReadBack, Role

REVERSAL = f"“Re-enable rule” turns it back on; or {RULES_IN_OUTLOOK}."


async def _run(ctx: ActionContext) -> Outcome:
    item = require_item(ctx, "inbox_rule")
    request_id = await ctx.tenant.set_inbox_rule_enabled(ctx.target.id, item.id, False)
    name = str(item.detail.get("displayName") or item.label)
    return Outcome(
        summary=f"Disabled the inbox rule “{name}” of {ctx.target.label} (kept, for the investigation).",
        reversal=REVERSAL,
        request_id=request_id,
        undo="enable_inbox_rule",
        saved={"rule_id": item.id, "displayName": name},
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    rule_id = require_item(ctx, "inbox_rule").id
    try:
        rule = await ctx.tenant.get_inbox_rule(ctx.target.id, rule_id)
    except NotFound:
        return ReadBack(True, "inbox rule gone (deleted)", "rule absent")
    if rule.get("isEnabled") is False:
        return ReadBack(True, f"rule “{rule.get('displayName')}” disabled (isEnabled false)", "isEnabled false")
    return ReadBack(False, f"the rule “{rule.get('displayName')}” still enabled (isEnabled true)", "isEnabled true")


ACTION = ActionSpec(
    name="disable_inbox_rule",
    title="Disable rule",
    description="turn this inbox rule off (it is kept)",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission="MailboxSettings.ReadWrite",
    not_applicable=mailbox_not_applicable,
    undo="enable_inbox_rule",
    undo_title="Re-enable rule",
    item_kind="inbox_rule",
    offered_on_alert=False,
    read_back=read_back,
    contains=True,
    watches=frozenset({Aspect.RULES}),
)
