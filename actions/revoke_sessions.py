"""revoke_sessions: sign the user out everywhere by invalidating refresh tokens and session cookies."""

from __future__ import annotations

from actions.spec import ON_ADMINISTRATORS, ActionContext, ActionSpec, Outcome, ReadBack, Role, TargetUser
from actions.verification import stamped_since

REVERSAL = "Cannot be undone; the user signs in again."
# Graph documents that revokeSignInSessions does not revoke external users' sessions: it answers 200 and
# changes nothing, so the button would only look like containment.
EXTERNAL_USER = ("external (guest) account: Graph cannot revoke its sessions, which its home tenant issues. Use "
                 "“Block sign-in” or “Disable account” instead")


def not_applicable(target: TargetUser) -> str | None:
    return EXTERNAL_USER if target.is_external else None


async def _run(ctx: ActionContext) -> Outcome:
    request_id = await ctx.tenant.revoke_sessions(ctx.target.id)
    return Outcome(
        summary=(
            f"Revoked every sign-in session of {ctx.target.label}. Apps holding an access token keep it until it "
            "expires (up to an hour); new sign-ins need the password and MFA."
        ),
        reversal=REVERSAL,
        request_id=request_id,
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    """Graph moves signInSessionsValidFromDateTime to the moment of the revocation."""
    user = await ctx.tenant.get_user_fields(ctx.target.id, ["signInSessionsValidFromDateTime"])
    valid_from = user.get("signInSessionsValidFromDateTime")
    state = f"signInSessionsValidFromDateTime {valid_from}"
    if stamped_since(valid_from, ctx.started_at):
        return ReadBack(True, f"sessions revoked (signInSessionsValidFromDateTime {valid_from})", state)
    return ReadBack(False, f"sessions not revoked since the click (signInSessionsValidFromDateTime {valid_from})",
                    state)


ACTION = ActionSpec(
    name="revoke_sessions",
    title="Revoke sessions",
    description="sign the user out of every session and device",
    role=Role.RESPONDER,
    reversible=False,
    reversal=REVERSAL,
    run=_run,
    permission="User.RevokeSessions.All",
    delegated_scope="User.RevokeSessions.All",
    delegated_admin_roles=ON_ADMINISTRATORS,
    not_applicable=not_applicable,
    read_back=read_back,
    contains=True,
)
