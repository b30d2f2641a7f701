"""The one place that decides whether someone may do something: an action on a target (clicks, approvals,
automation) with `permit`, any other verb (a typed command, cancel, approve, reject, an audit page) with
`permit_verb`. What each needs is the policy's (bot/access/policy.py); a refusal says which role is missing."""

from __future__ import annotations

from actions.runner import Refused, authorize
from actions.spec import ActionSpec, Actor, TargetUser
from bot.access.levels import Access, describe, holds
from bot.access.policy import VERBS
from bot.access.roles import check_last_global_admin, check_protected
from bot.clicks.answered import Turn
from bot.commands.parse import safe_echo
from bot.services import Services

NO_ROLE = ("{name} holds no Riposte role (responder, approver or admin_responder): ask your security lead to add "
           "you to a Riposte group.")


async def permit(services: Services, spec: ActionSpec, actor: Actor, target: TargetUser) -> None:
    """Raise Refused, saying why, unless every rule allows it: the action is switched on in the policy, protected
    targets, the policy's role (and admin_responder for administrators), applicability, and never the last enabled
    Global Administrator."""
    switched_off = services.policy.why_disabled(spec.name)
    if switched_off:  # a card drawn before the policy changed, an approval, automation: the same answer
        raise Refused(switched_off)
    check_protected(actor, target, services.settings.protected_users)
    authorize(spec, actor, target, services.policy.role_for(spec.name))
    if not spec.read_only:
        await check_last_global_admin(services.tenant, target)


async def permit_verb(services: Services, verb: str, object_id: str, name: str, turn: Turn | None, *,
                      owner: str = "") -> Actor:
    """The person as an Actor with their roles, or Refused saying which role the verb needs. `owner`: who made
    the thing acted on (a typed command's card): they may always use the verb on it (cancel their own). `turn`:
    the activity being answered, whose budget the role look-up shares."""
    required = services.policy.requirement(verb)
    if required is Access.ANYONE:
        return Actor(id=object_id, name=name)  # no role look-up: help must answer even when Graph does not
    actor = await services.roles.actor(object_id, name, turn)
    if (owner and object_id == owner) or holds(required, actor.roles):
        return actor
    label = VERBS[verb].label if verb in VERBS else f"`{verb}`"
    shown = safe_echo(name)  # the name is the person's own display name: it must not render as markup
    message = f"{label} needs {describe(required)}; {shown} does not hold it."
    if not actor.roles and required is not Access.ANY_ROLE:
        message += " " + NO_ROLE.format(name=shown)
    elif not actor.roles:
        message = NO_ROLE.format(name=shown) + f" {label} needs one."
    raise Refused(message)
