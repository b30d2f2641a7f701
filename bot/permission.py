"""The one place that decides whether an actor may run an action on a target (clicks, approvals, automation)."""

from __future__ import annotations

from actions.runner import Actor, authorize
from actions.spec import ActionSpec, TargetUser
from bot.authz import check_last_global_admin, check_protected
from bot.services import Services
from bot.views import LISTING_ACTIONS


async def permit(services: Services, spec: ActionSpec, actor: Actor, target: TargetUser) -> None:
    """Raise Refused, saying why, unless every rule allows it: protected targets, the policy's role (and
    admin_responder for administrators), applicability, and never the last enabled Global Administrator."""
    check_protected(actor, target, services.settings.protected_users)
    authorize(spec, actor, target, services.policy.role_for(spec.name))
    if spec.name not in LISTING_ACTIONS:
        await check_last_global_admin(services.tenant, target)
