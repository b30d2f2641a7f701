"""restore_forwarding: put back the mailbox forwarding remove_forwarding saved."""

from __future__ import annotations

from actions.common import EXCHANGE_PERMISSION, mailbox_not_applicable, require_exchange, require_saved, with_warnings
from actions.remove_forwarding import FORWARDING_FIELDS, WHERE, describe
from actions.spec import ActionContext, ActionSpec, Aspect, Outcome, ReadBack, Role

REVERSAL = "“Remove forwarding” removes it again."


async def _run(ctx: ActionContext) -> Outcome:
    saved = dict(require_saved(ctx, *FORWARDING_FIELDS))
    result = await require_exchange(ctx).run(
        "Set-Mailbox",
        {"Identity": ctx.target.upn, **{k: saved[k] for k in FORWARDING_FIELDS}},
    )
    return Outcome(
        summary=with_warnings(f"Restored mailbox forwarding of {ctx.target.label}: {describe(saved)}.",
                              result.warnings),
        reversal=f"{REVERSAL} Or {WHERE.format(user=ctx.target.upn)}.",
        request_id=result.request_id,
        undo="remove_forwarding",
    )


def _same(a: object, b: object) -> bool:
    return str(a or "").lower() == str(b or "").lower()


async def read_back(ctx: ActionContext) -> ReadBack:
    saved = dict(require_saved(ctx, *FORWARDING_FIELDS))
    mailboxes, _ = await require_exchange(ctx).invoke("Get-Mailbox", {"Identity": ctx.target.upn})
    now = {k: mailboxes[0].get(k) for k in FORWARDING_FIELDS} if mailboxes else {}
    if all(_same(now.get(k), saved[k]) for k in ("ForwardingSmtpAddress", "ForwardingAddress")):
        return ReadBack(True, f"the mailbox {describe(now)}", describe(now))
    return ReadBack(False, f"the mailbox {describe(now)}, not {describe(saved)}", describe(now))


ACTION = ActionSpec(
    name="restore_forwarding",
    title="Restore forwarding",
    description="put back the mailbox forwarding Riposte removed",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission=EXCHANGE_PERMISSION,
    not_applicable=mailbox_not_applicable,
    undo="remove_forwarding",
    undo_title="Remove again",
    needs_saved=True,
    offered_on_alert=False,
    read_back=read_back,
    watches=frozenset({Aspect.FORWARDING}),
)
