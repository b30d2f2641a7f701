"""remove_auth_method: delete one MFA method (an attacker's phone or authenticator); never the password."""

from __future__ import annotations

from actions.common import require_item
from actions.errors import RiposteError
from actions.items import PASSWORD_METHOD_TYPE
from actions.spec import ActionContext, ActionSpec, Outcome, ReadBack, Role

REVERSAL = "Cannot be undone; the user registers the method again (https://aka.ms/mysecurityinfo)."


async def _run(ctx: ActionContext) -> Outcome:
    item = require_item(ctx, "auth_method")
    odata_type = str(item.detail.get("odata_type") or "")
    if odata_type == PASSWORD_METHOD_TYPE:
        raise RiposteError("Riposte never removes the password method; use “Reset password”.")
    request_id = await ctx.tenant.delete_auth_method(ctx.target.id, odata_type, item.id)
    return Outcome(
        summary=f"Removed the authentication method “{item.label}” of {ctx.target.label}.",
        reversal=REVERSAL,
        request_id=request_id,
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    item = require_item(ctx, "auth_method")
    methods = await ctx.tenant.list_auth_methods(ctx.target.id)
    if any(str(method.get("id")) == item.id for method in methods):
        return ReadBack(False, f"the method “{item.label}” still registered")
    return ReadBack(True, f"method “{item.label}” no longer registered")


ACTION = ActionSpec(
    name="remove_auth_method",
    title="Remove MFA method",
    description="delete this authentication method (phone, authenticator, FIDO2 key, email, OATH token)",
    role=Role.RESPONDER,
    reversible=False,
    reversal=REVERSAL,
    run=_run,
    permission="UserAuthenticationMethod.ReadWrite.All",
    item_kind="auth_method",
    offered_on_alert=False,
    read_back=read_back,
)
