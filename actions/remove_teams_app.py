"""remove_teams_app: uninstall one Teams app from the user's personal scope."""

from __future__ import annotations

from actions.common import require_item
from actions.spec import ActionContext, ActionSpec, Outcome, ReadBack, Role

BLOCK = "Teams admin centre › Teams apps › Manage apps › {app} › Block"
REVERSAL = (
    "The user can reinstall it. To stop anyone installing it, block it tenant-wide: "
    + BLOCK.format(app="the app") + "."
)


async def _run(ctx: ActionContext) -> Outcome:
    item = require_item(ctx, "teams_app")
    name = str(item.detail.get("displayName") or item.label)
    request_id = await ctx.tenant.remove_teams_app(ctx.target.id, item.id)
    return Outcome(
        summary=f"Removed the Teams app “{name}” from {ctx.target.label}.",
        reversal=f"The user can reinstall it. To stop anyone installing it: {BLOCK.format(app=name)}.",
        request_id=request_id,
    )


async def read_back(ctx: ActionContext) -> ReadBack:
    item = require_item(ctx, "teams_app")
    installed = await ctx.tenant.list_teams_apps(ctx.target.id)
    if any(str(install.get("id")) == item.id for install in installed):
        return ReadBack(False, f"the Teams app “{item.label}” still installed for the user", "app installed")
    return ReadBack(True, f"Teams app “{item.label}” no longer installed", "app not installed")


ACTION = ActionSpec(
    name="remove_teams_app",
    title="Remove Teams app",
    description="uninstall this Teams app for the user",
    role=Role.RESPONDER,
    reversible=False,
    reversal=REVERSAL,
    run=_run,
    permission="TeamsAppInstallation.ReadWriteForUser.All",
    item_kind="teams_app",
    offered_on_alert=False,
    read_back=read_back,
)
