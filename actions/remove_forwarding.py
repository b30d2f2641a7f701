"""remove_forwarding: stop the mailbox forwarding mail elsewhere (Exchange's mailbox-level forwarding).

Inbox rules that forward are separate (list_inbox_rules); this is the setting on the mailbox itself.
"""

from __future__ import annotations

from typing import Any

from actions.common import EXCHANGE_PERMISSION, mailbox_not_applicable, require_exchange, with_warnings
from actions.errors import NotFound
from actions.spec import ActionContext, ActionSpec, Aspect, Outcome, ReadBack, Role

FORWARDING_FIELDS = ("ForwardingSmtpAddress", "ForwardingAddress", "DeliverToMailboxAndForward")
WHERE = "Exchange admin centre › Recipients › Mailboxes › {user} › Mail flow settings › Email forwarding"
REVERSAL = "“Restore forwarding” puts the saved settings back; or " + WHERE.format(user="the user") + "."


def describe(saved: dict[str, Any]) -> str:
    targets = [str(saved[k]) for k in ("ForwardingSmtpAddress", "ForwardingAddress") if saved.get(k)]
    if not targets:
        return "no forwarding"
    copy = ", keeping a copy in the mailbox" if saved.get("DeliverToMailboxAndForward") else ""
    return f"forwarding to {' and '.join(targets)}{copy}"


async def _run(ctx: ActionContext) -> Outcome:
    exchange = require_exchange(ctx)
    upn = ctx.target.upn
    mailboxes, _ = await exchange.invoke("Get-Mailbox", {"Identity": upn})
    if not mailboxes:
        raise NotFound(f"Exchange has no mailbox for {ctx.target.label}.")
    saved = {k: mailboxes[0].get(k) for k in FORWARDING_FIELDS}
    reversal = "“Restore forwarding” puts the saved settings back; or " + WHERE.format(user=upn) + "."
    if not (saved["ForwardingSmtpAddress"] or saved["ForwardingAddress"]):
        return Outcome(summary=f"The mailbox of {ctx.target.label} does not forward mail: nothing to remove.",
                       reversal="Nothing was changed.")
    result = await exchange.run(
        "Set-Mailbox",
        {"Identity": upn, "ForwardingSmtpAddress": None, "ForwardingAddress": None,
         "DeliverToMailboxAndForward": False},
    )
    return Outcome(
        summary=with_warnings(f"Removed mailbox forwarding from {ctx.target.label} (was {describe(saved)}). Inbox "
                              "rules that forward are separate: check them too.", result.warnings),
        reversal=reversal,
        request_id=result.request_id,
        undo="restore_forwarding",
        saved=saved,
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    mailboxes, _ = await require_exchange(ctx).invoke("Get-Mailbox", {"Identity": ctx.target.upn})
    if not mailboxes:
        raise NotFound(f"Exchange has no mailbox for {ctx.target.label}.")
    now = {k: mailboxes[0].get(k) for k in FORWARDING_FIELDS}
    if now["ForwardingSmtpAddress"] or now["ForwardingAddress"]:
        return ReadBack(False, f"the mailbox still {describe(now)}", describe(now))
    return ReadBack(True, "forwarding empty (ForwardingSmtpAddress and ForwardingAddress unset)", describe(now))


ACTION = ActionSpec(
    name="remove_forwarding",
    title="Remove forwarding",
    description="stop the mailbox forwarding mail to another address",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission=EXCHANGE_PERMISSION,
    not_applicable=mailbox_not_applicable,
    undo="restore_forwarding",
    undo_title="Restore forwarding",
    read_back=read_back,
    contains=True,
    watches=frozenset({Aspect.FORWARDING}),
)
