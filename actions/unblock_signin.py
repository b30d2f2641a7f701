"""unblock_signin: delete the Conditional Access policy block_signin created (never any other policy)."""

from __future__ import annotations

from actions import permissions
from actions.block_signin import POLICY_PREFIX, WHERE, find_policy
from actions.common import require_saved
from actions.errors import NotFound, RiposteError
from actions.spec import CA_POLICY_WRITERS, ActionContext, ActionSpec, Aspect, Outcome, ReadBack, Role

REVERSAL = "“Block again” creates a new blocking policy."


async def _run(ctx: ActionContext) -> Outcome:
    policy_id = str(require_saved(ctx, "policy_id")["policy_id"])
    try:
        policy = await ctx.tenant.get_ca_policy(policy_id)
    except NotFound:
        return Outcome(
            summary=f"The blocking policy {policy_id} was already deleted (in the admin centre?): {ctx.target.label} "
                    "is not blocked by it.",
            reversal=REVERSAL,
            undo="block_signin",
        )
    name = str(policy.get("displayName") or "")
    if not name.startswith(POLICY_PREFIX):
        raise RiposteError(
            f"Refused: policy {policy_id} (“{name}”) was not created by Riposte, and Riposte never deletes a policy "
            f"it did not create. Review it in the {WHERE}."
        )
    included = ((policy.get("conditions") or {}).get("users") or {}).get("includeUsers") or []
    if list(included) != [ctx.target.id]:
        raise RiposteError(
            f"Refused: policy “{name}” has been edited and now applies to {included}, not only to "
            f"{ctx.target.label}; deleting it would change more than this case. Review it in the {WHERE}."
        )
    request_id = await ctx.tenant.delete_ca_policy(policy_id)
    return Outcome(
        summary=f"Deleted the Conditional Access policy “{name}”: {ctx.target.label} can sign in again "
                "(if the account is enabled).",
        reversal=REVERSAL,
        request_id=request_id,
        undo="block_signin",
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    policy_id = str((ctx.saved or {}).get("policy_id") or "")
    if not policy_id:
        found = await find_policy(ctx)
        if found is None:
            return ReadBack(True, "no blocking policy for this case", "no block policy")
        policy_id = str(found.get("id"))
    try:
        policy = await ctx.tenant.get_ca_policy(policy_id)
    except NotFound:
        return ReadBack(True, f"blocking policy {policy_id} gone", f"policy {policy_id} absent")
    return ReadBack(False, f"the blocking policy “{policy.get('displayName')}” still present ({policy.get('state')})",
                    f"policy {policy_id} state {policy.get('state')}")


ACTION = ActionSpec(
    name="unblock_signin",
    title="Unblock sign-in",
    description="delete the blocking policy Riposte created for this user",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission=permissions.DELETE_CA_POLICY,
    delegated_scope="Policy.Read.All + Policy.ReadWrite.ConditionalAccess",
    delegated_admin_roles=CA_POLICY_WRITERS,
    undo="block_signin",
    undo_title="Block again",
    needs_saved=True,
    offered_on_alert=False,
    read_back=read_back,
    watches=frozenset({Aspect.BLOCK}),
)
