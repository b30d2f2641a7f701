"""reset_password: set a strong random password the user must change at next sign-in.

The password goes only to the clicker (Outcome.secret_for_clicker, shown once): never in the summary, the saved
state, the audit or a log.
"""

from __future__ import annotations

import secrets
import string

from actions.common import password_not_applicable
from actions.spec import ON_ADMINISTRATORS, PASSWORD_RESETTERS, ActionContext, ActionSpec, Outcome, ReadBack, Role
from actions.verification import stamped_since

LENGTH = 20
SYMBOLS = "!@#$%^&*-_=+?"
CLASSES = (string.ascii_uppercase, string.ascii_lowercase, string.digits, SYMBOLS)
REVERSAL = "Cannot be undone; the user sets a new password at next sign-in."


def strong_password(length: int = LENGTH) -> str:
    """Random from the OS's CSPRNG, with at least one upper, lower, digit and symbol."""
    if length < 16:
        raise ValueError("a reset password must be at least 16 characters")
    alphabet = "".join(CLASSES)
    chars = [secrets.choice(cls) for cls in CLASSES] + [secrets.choice(alphabet) for _ in range(length - len(CLASSES))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


async def _run(ctx: ActionContext) -> Outcome:
    password = strong_password()
    request_id = await ctx.tenant.reset_password(ctx.target.id, password)
    return Outcome(
        summary=(
            f"Reset the password of {ctx.target.label}; they must change it at next sign-in. The temporary "
            "password was shown once, only to the person who clicked: pass it to the user out of band."
        ),
        reversal=REVERSAL,
        request_id=request_id,
        secret_for_clicker=password,
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    user = await ctx.tenant.get_user_fields(ctx.target.id, ["lastPasswordChangeDateTime"])
    changed = user.get("lastPasswordChangeDateTime")
    facts = f"lastPasswordChangeDateTime {changed}"
    if stamped_since(changed, ctx.started_at):
        return ReadBack(True, f"password changed ({facts})", facts)
    return ReadBack(False, f"the password not changed since the click ({facts})", facts)


ACTION = ActionSpec(
    name="reset_password",
    title="Reset password",
    description="set a random temporary password that must be changed at next sign-in",
    role=Role.RESPONDER,
    reversible=False,
    reversal=REVERSAL,
    run=_run,
    permission="User-PasswordProfile.ReadWrite.All + User Administrator role",
    delegated_scope="User-PasswordProfile.ReadWrite.All",
    delegated_admin_roles=ON_ADMINISTRATORS,
    delegated_roles=PASSWORD_RESETTERS,
    not_applicable=password_not_applicable,
    needs_approval=True,
    inline=True,
    read_back=read_back,
)
