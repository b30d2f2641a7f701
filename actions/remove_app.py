"""remove_app: cut off an app the user consented to, either just the user's consent or the whole app.

options["mode"] == "grant": revoke the user's consent (the app loses access to this user's data only).
Otherwise: delete the enterprise application (service principal) from the tenant, for every user.
"""

from __future__ import annotations

from actions import permissions
from actions.common import require_item
from actions.errors import NotFound, RiposteError
from actions.spec import ActionContext, ActionSpec, Aspect, CardInput, Choice, Outcome, ReadBack, Role

DELETED_APPS = "Entra admin centre › Applications › Enterprise applications › Deleted applications"
REVERSAL = (
    f"Enterprise application: restore it within 30 days from the {DELETED_APPS} (its consents come back with it). "
    "Consent only: the user consents to the app again."
)


async def _run(ctx: ActionContext) -> Outcome:
    item = require_item(ctx, "app")
    name = str(item.detail.get("displayName") or item.label)
    mode = ctx.options.get("mode")
    if mode not in ("grant", "app"):  # deleting from the whole tenant is never a default
        raise RiposteError("Choose what Remove app does: revoke this user's consent, or delete the app.")
    if mode == "grant":
        grant_id = str(item.detail.get("grantId") or "")
        if not grant_id:
            raise RiposteError(f"The app {name} has no consent id on record; list the apps again.")
        request_id = await ctx.tenant.delete_consent_grant(grant_id)
        return Outcome(
            summary=f"Revoked {ctx.target.label}'s consent to “{name}” ({item.detail.get('scope', '')}): it can no "
                    "longer get new tokens for their data. The app stays in the tenant.",
            reversal="The user can consent to the app again (if user consent is allowed).",
            request_id=request_id,
        )
    sp_id = str(item.detail.get("servicePrincipalId") or "")
    if not sp_id:
        raise RiposteError(f"The app {name} has no service principal id on record; list the apps again.")
    request_id = await ctx.tenant.delete_service_principal(sp_id)
    return Outcome(
        summary=f"Deleted the enterprise application “{name}” from the tenant: no user can use it, and every "
                "consent to it is gone.",
        reversal=f"Restore it within 30 days from the {DELETED_APPS}.",
        request_id=request_id,
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    item = require_item(ctx, "app")
    name = str(item.detail.get("displayName") or item.label)
    if ctx.options.get("mode") == "grant":
        grant_id = str(item.detail.get("grantId") or "")
        grants = await ctx.tenant.list_consent_grants(ctx.target.id)
        if any(str(grant.get("id")) == grant_id for grant in grants):
            return ReadBack(False, f"the user's consent to “{name}” still granted", "consent granted")
        return ReadBack(True, f"consent to “{name}” gone", "consent absent")
    sp_id = str(item.detail.get("servicePrincipalId") or "")
    try:
        await ctx.tenant.get_service_principal(sp_id)
    except NotFound:
        return ReadBack(True, f"enterprise application “{name}” gone (Graph answers 404 for it)", "app absent")
    return ReadBack(False, f"the enterprise application “{name}” still in the tenant", "app present")


ACTION = ActionSpec(
    name="remove_app",
    title="Remove app",
    description="revoke the user's consent to this app, or delete the app from the tenant",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission=(f"{permissions.LIST_CONSENT_GRANTS} to list; Application.ReadWrite.All (app) / "
                f"{permissions.DELETE_CONSENT_GRANT} (consent)"),
    needs_approval=True,
    destructive=True,
    item_kind="app",
    offered_on_alert=False,
    read_back=read_back,
    contains=True,
    watches=frozenset({Aspect.GRANTS}),
    # Deleting from the whole tenant is never a default: revoking this user's consent is preselected.
    inputs=(CardInput(option="mode", input_id="app_mode", label="Remove app does:", default="grant", choices=(
        Choice("grant", "Revoke this user's consent only",
               said="revoke this user's consent only (the app stays in the tenant)"),
        Choice("app", "Delete the app from the whole tenant", said="delete the app from the whole tenant"),
    )),),
)
