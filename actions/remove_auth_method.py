"""remove_auth_method: delete one MFA method (an attacker's phone, authenticator, Temporary Access Pass, Windows
Hello or platform credential); never the password."""

from __future__ import annotations

from actions.common import require_item
from actions.errors import BadRequest, RiposteError
from actions.items import PASSWORD_METHOD_TYPE
from actions.spec import ON_ADMINISTRATORS, ActionContext, ActionSpec, Aspect, Item, Outcome, ReadBack, Role

REVERSAL = "Cannot be undone; the user registers the method again (https://aka.ms/mysecurityinfo)."
METHODS_PAGE = "Entra admin centre › Users › the user › Authentication methods"


def _refusal(item: Item, error: BadRequest) -> RiposteError:
    """Graph's 400s for a method it will not delete, in words that say what to do (its own text kept last)."""
    said = str(error).lower()
    if "default" in said:
        why = (f"“{item.label}” is the user's default sign-in method, and Graph will not delete the default while "
               f"other methods exist. Change the default sign-in method first ({METHODS_PAGE}), then remove it. "
               "Meanwhile “Block sign-in” stops it being used.")
    elif "alternate" in said:
        why = (f"“{item.label}” is the mobile number and an alternate mobile number is registered; Graph will not "
               "delete the mobile number while the alternate one exists. Remove the alternate mobile number first "
               f"(or change this number in {METHODS_PAGE}), then remove it.")
    else:
        return error
    return BadRequest(f"Nothing was removed: {why} ({error})", request_id=error.request_id, code=error.code)


async def _run(ctx: ActionContext) -> Outcome:
    item = require_item(ctx, "auth_method")
    odata_type = str(item.detail.get("odata_type") or "")
    if odata_type == PASSWORD_METHOD_TYPE:
        raise RiposteError("Riposte never removes the password method; use “Reset password”.")
    try:
        request_id = await ctx.tenant.delete_auth_method(ctx.target.id, odata_type, item.id)
    except BadRequest as error:
        raise _refusal(item, error) from None
    return Outcome(
        summary=f"Removed the authentication method “{item.label}” of {ctx.target.label}.",
        reversal=REVERSAL,
        request_id=request_id,
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    item = require_item(ctx, "auth_method")
    methods = await ctx.tenant.list_auth_methods(ctx.target.id)
    if any(str(method.get("id")) == item.id for method in methods):
        return ReadBack(False, f"the method “{item.label}” still registered", "method registered")
    return ReadBack(True, f"method “{item.label}” no longer registered", "method absent")


ACTION = ActionSpec(
    name="remove_auth_method",
    title="Remove MFA method",
    description="delete this authentication method (phone, authenticator, FIDO2 key, email, OATH token, Temporary "
                "Access Pass, Windows Hello for Business, platform credential)",
    role=Role.RESPONDER,
    reversible=False,
    reversal=REVERSAL,
    run=_run,
    permission="UserAuthenticationMethod.ReadWrite.All",
    delegated_scope="UserAuthenticationMethod.ReadWrite.All",
    delegated_admin_roles=ON_ADMINISTRATORS,
    item_kind="auth_method",
    offered_on_alert=False,
    read_back=read_back,
    contains=True,
    watches=frozenset({Aspect.METHODS}),
)
