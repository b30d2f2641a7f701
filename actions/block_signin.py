"""block_signin: a Conditional Access policy that blocks every sign-in by the user, to every app.

Unlike disabling the account, directory sync does not undo it, and the user's other state is untouched. The
protected accounts (break-glass) are always excluded, so a mistake here cannot lock everyone out.

The policy is kept per user (`kept_per_user`): `unblock <user>` finds it from any conversation, and a second block
is refused while the first still blocks. One someone switched off is replaced: the new policy is created and the
disabled one deleted, so the user keeps one Riposte policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actions import permissions
from actions.errors import NotFound, RiposteError
from actions.spec import CA_POLICY_WRITERS, ActionContext, ActionSpec, Aspect, Outcome, ReadBack, Role

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


async def _retire(ctx: ActionContext, replaced: Mapping[str, Any]) -> str:
    """Delete the Riposte block policy someone disabled, now that a new one blocks (never another policy, never
    one that blocks again or has been widened to other users); what happened, in words."""
    policy_id = str(replaced.get("policy_id") or "")
    try:
        policy = await ctx.tenant.get_ca_policy(policy_id)
    except NotFound:
        return ""
    name = str(policy.get("displayName") or "")
    included = ((policy.get("conditions") or {}).get("users") or {}).get("includeUsers") or []
    state = policy.get("state")
    if not name.startswith(POLICY_PREFIX) or state == "enabled" or list(included) != [ctx.target.id]:
        return f" The earlier policy “{name}” was left as it is (state {state}); review it in the {WHERE}."
    try:
        await ctx.tenant.delete_ca_policy(policy_id)
    except RiposteError as error:
        return (f" The earlier policy “{name}”, found {state}, could not be deleted ({error}): delete it in the "
                f"{WHERE}.")
    return f" It replaces the earlier policy “{name}”, which someone had switched to {state}; that one was deleted."


async def _to_replace(ctx: ActionContext) -> Mapping[str, Any] | None:
    """The user's earlier Riposte policy (ctx.previous) if it no longer blocks; refused while it still does. One
    deleted outside Riposte is no reason to refuse: block again."""
    previous = ctx.previous
    if not previous:
        return None
    try:
        current = await ctx.tenant.get_ca_policy(str(previous["policy_id"]))
    except NotFound:
        return None
    name = previous.get("displayName")
    if current.get("state") == "enabled":
        raise RiposteError(f"{ctx.target.label} is already blocked by the Riposte policy “{name}”.")
    return {"policy_id": str(previous["policy_id"]), "displayName": str(current.get("displayName") or name),
            "state": str(current.get("state"))}


async def _run(ctx: ActionContext) -> Outcome:
    protected = list(dict.fromkeys(str(oid) for oid in ctx.options.get("protected_user_ids", [])))
    if ctx.target.id in protected:
        raise RiposteError(f"{ctx.target.label} is a protected account: Riposte never blocks its sign-in.")
    replaced = await _to_replace(ctx)
    name = policy_name(ctx.target.upn, ctx.case_id)
    policy_id, request_id = await ctx.tenant.create_ca_policy(block_policy(name, ctx.target.id, protected))
    retired = await _retire(ctx, replaced) if replaced else ""
    return Outcome(
        summary=(
            f"Created the Conditional Access policy “{name}”: every new sign-in by {ctx.target.label} to every app "
            "is blocked. Sessions already open last until revoked (“Revoke sessions”)." + retired
        ),
        reversal=f"“Unblock sign-in” deletes the policy; or delete “{name}” in the {WHERE}.",
        request_id=request_id,
        undo="unblock_signin",
        saved={"policy_id": policy_id, "displayName": name},
    )


def describe_policy(policy: dict[str, Any], user_id: str, protected: list[str]) -> tuple[bool, str]:
    """Whether the policy blocks the user and spares the protected accounts, and what it shows, in words."""
    users = (policy.get("conditions") or {}).get("users") or {}
    included, excluded = users.get("includeUsers") or [], users.get("excludeUsers") or []
    blocks = "block" in ((policy.get("grantControls") or {}).get("builtInControls") or [])
    spared = [oid for oid in protected if oid not in excluded]
    problems = [f"state {policy.get('state')}"] if policy.get("state") != "enabled" else []
    problems += [] if user_id in included else ["the user not included"]
    problems += [] if blocks else ["no block control"]
    problems += [f"{len(spared)} break-glass account(s) not excluded"] if spared else []
    name = f"policy “{policy.get('displayName')}”"
    if problems:
        return False, f"{name} with {', '.join(problems)}"
    return True, (f"{name} present and enabled, blocking the user, {len(protected)} break-glass account(s) "
                  "excluded")


async def find_policy(ctx: ActionContext) -> dict[str, Any] | None:
    """This case's blocking policy, found by its name (no policy id needed: crash recovery has none)."""
    name = policy_name(ctx.target.upn, ctx.case_id)
    named = [p for p in await ctx.tenant.list_ca_policies() if p.get("displayName") == name]
    named.sort(key=lambda p: p.get("state") != "enabled")  # one someone disabled and a new one: the new one
    return named[0] if named else None


async def read_back(ctx: ActionContext) -> ReadBack:
    policy = await find_policy(ctx)
    if policy is None:
        return ReadBack(False, f"no policy named “{policy_name(ctx.target.upn, ctx.case_id)}”", "no block policy")
    protected = [str(oid) for oid in ctx.options.get("protected_user_ids", [])]
    done, observed = describe_policy(policy, ctx.target.id, protected)
    return ReadBack(done, observed, f"policy {policy.get('id')} state {policy.get('state')}")


async def find_saved(ctx: ActionContext) -> Mapping[str, Any] | None:
    """What unblock_signin needs, found again by the policy's name (after a crash took the run's own copy)."""
    policy = await find_policy(ctx)
    return {"policy_id": str(policy["id"]), "displayName": str(policy.get("displayName") or "")} if policy else None


ACTION = ActionSpec(
    name="block_signin",
    title="Block sign-in",
    description="block every sign-in with a Conditional Access policy (survives directory sync)",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission=permissions.CREATE_CA_POLICY,
    delegated_scope="Policy.Read.All + Policy.ReadWrite.ConditionalAccess + Application.Read.All",
    delegated_admin_roles=CA_POLICY_WRITERS,
    undo="unblock_signin",
    undo_title="Unblock sign-in",
    read_back=read_back,
    contains=True,
    watches=frozenset({Aspect.BLOCK}),
    kept_per_user="block-policy",
    excludes_protected=True,
    find_saved=find_saved,
)
