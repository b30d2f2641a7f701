"""block_signin: a Conditional Access policy that blocks every sign-in by the user, to every app.

Unlike disabling the account, directory sync does not undo it, and the user's other state is untouched. The
protected accounts (break-glass) are always excluded, so a mistake here cannot lock everyone out.
"""

from __future__ import annotations

from typing import Any

from actions import permissions
from actions.errors import RiposteError
from actions.spec import ActionContext, ActionSpec, Outcome, Role

POLICY_PREFIX = "Riposte block: "
WHERE = "Entra admin centre › Protection › Conditional Access › Policies"
REVERSAL = f"“Unblock sign-in” deletes the policy Riposte created; or delete it yourself in the {WHERE}."


def policy_name(upn: str, case_id: str) -> str:
    return f"{POLICY_PREFIX}{upn} (case {case_id})"


def block_policy(name: str, user_id: str, protected_user_ids: list[str]) -> dict[str, Any]:
    return {
        "displayName": name,
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": [user_id], "excludeUsers": protected_user_ids},
            "applications": {"includeApplications": ["All"]},
            "clientAppTypes": ["all"],
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"]},
    }


async def _run(ctx: ActionContext) -> Outcome:
    protected = list(dict.fromkeys(str(oid) for oid in ctx.options.get("protected_user_ids", [])))
    if ctx.target.id in protected:
        raise RiposteError(f"{ctx.target.label} is a protected account: Riposte never blocks its sign-in.")
    name = policy_name(ctx.target.upn, ctx.case_id)
    policy_id, request_id = await ctx.tenant.create_ca_policy(block_policy(name, ctx.target.id, protected))
    return Outcome(
        summary=(
            f"Created the Conditional Access policy “{name}”: every new sign-in by {ctx.target.label} to every app "
            "is blocked. Sessions already open last until revoked (“Revoke sessions”)."
        ),
        reversal=f"“Unblock sign-in” deletes the policy; or delete “{name}” in the {WHERE}.",
        request_id=request_id,
        undo="unblock_signin",
        saved={"policy_id": policy_id, "displayName": name},
    )


ACTION = ActionSpec(
    name="block_signin",
    title="Block sign-in",
    description="block every sign-in with a Conditional Access policy (survives directory sync)",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission=permissions.CREATE_CA_POLICY,
    undo="unblock_signin",
    undo_title="Unblock sign-in",
)
