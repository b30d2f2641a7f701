"""enable_inbox_rule: turn back on an inbox rule that disable_inbox_rule turned off."""

from __future__ import annotations

from actions.common import RULES_IN_OUTLOOK, mailbox_not_applicable, require_saved
from actions.errors import NotFound
from actions.spec import ActionContext, ActionSpec, Aspect, Outcome, ReadBack, Role

REVERSAL = f"Disable it again from the inbox rules list, or {RULES_IN_OUTLOOK}."


async def _run(ctx: ActionContext) -> Outcome:
    saved = require_saved(ctx, "rule_id")
    request_id = await ctx.tenant.set_inbox_rule_enabled(ctx.target.id, str(saved["rule_id"]), True)
    name = saved.get("displayName") or saved["rule_id"]
    return Outcome(
        summary=f"Re-enabled the inbox rule “{name}” of {ctx.target.label}.",
        reversal=REVERSAL,
        request_id=request_id,
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    rule_id = str(require_saved(ctx, "rule_id")["rule_id"])
    try:
        rule = await ctx.tenant.get_inbox_rule(ctx.target.id, rule_id)
    except NotFound:
        return ReadBack(False, "the inbox rule gone (deleted)", "rule absent")
    if rule.get("isEnabled") is True:
        return ReadBack(True, f"rule “{rule.get('displayName')}” enabled (isEnabled true)", "isEnabled true")
    return ReadBack(False, f"the rule “{rule.get('displayName')}” still disabled (isEnabled false)", "isEnabled false")


ACTION = ActionSpec(
    name="enable_inbox_rule",
    title="Re-enable rule",
    description="turn the inbox rule Riposte disabled back on",
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
