"""list_inbox_rules: show the user's inbox rules, the ones that look like an attacker's first, and why."""

from __future__ import annotations

from actions.common import mailbox_not_applicable
from actions.items import inbox_rules
from actions.spec import ActionContext, ActionSpec, Outcome, Role

REVERSAL = "Read only: nothing was changed."


async def _run(ctx: ActionContext) -> Outcome:
    items = await inbox_rules(ctx)
    suspicious = [item for item in items if item.suspicious]
    if not items:
        summary = f"{ctx.target.label} has no inbox rules."
    elif suspicious:
        names = ", ".join(f"“{item.label}” ({item.suspicious})" for item in suspicious)
        summary = f"{len(items)} inbox rules for {ctx.target.label}; {len(suspicious)} look malicious: {names}."
    else:
        summary = f"{len(items)} inbox rules for {ctx.target.label}; none looks malicious."
    return Outcome(summary=summary, reversal=REVERSAL, items=tuple(items))


ACTION = ActionSpec(
    name="list_inbox_rules",
    title="Show inbox rules",
    description="list the inbox rules, suspicious ones (forwarding out, deleting, hiding) first",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission="MailboxSettings.Read",
    not_applicable=mailbox_not_applicable,
    read_only=True,
    lists="inbox_rule",
)
