"""bot/access/permission.py, the one place that decides who may do what: `permit` for an action on a target and
`permit_verb` for every other verb, against the running app's services (roles from the sandbox tenant's groups over
HTTP, cached in a real Redis) and the policy, default or overridden."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from actions import ACTIONS
from actions.runner import Refused
from actions.spec import Actor, TargetUser
from bot.access.permission import permit, permit_verb
from bot.access.policy import load_policy
from bot.endpoints import SERVICES
from bot.services import Services
from tests.conftest import RunningBot
from tests.e2e.helpers import ADMIN_RESPONDER, APPROVER, NO_ROLE, RESPONDER, USERS, tenant

NAMES = {RESPONDER: "Rita Responder", APPROVER: "Avery Approver", ADMIN_RESPONDER: "Ada Admin-Responder",
         NO_ROLE: "Nolan Norole"}


def services_of(bot: RunningBot) -> Services:
    return bot.app[SERVICES]


async def actor(services: Services, object_id: str) -> Actor:
    return await services.roles.actor(object_id, NAMES[object_id])


async def target(services: Services, upn: str) -> TargetUser:
    return await services.tenant.get_user(upn)


async def refusal(services: Services, action: str, who: str, upn: str) -> str:
    with pytest.raises(Refused) as refused:
        await permit(services, ACTIONS[action], await actor(services, who), await target(services, upn))
    return str(refused.value)


def role_checks(bot: RunningBot) -> int:
    return sum(1 for r in tenant(bot).requests if r.path.endswith("/checkMemberGroups"))


async def test_a_responder_may_act_on_a_user_and_someone_without_the_role_is_told_which_one(bot: RunningBot) -> None:
    services = services_of(bot)
    await permit(services, ACTIONS["revoke_sessions"], await actor(services, RESPONDER),
                 await target(services, "alice@contoso.com"))
    assert await refusal(services, "revoke_sessions", NO_ROLE, "alice@contoso.com") == \
        "Revoke sessions needs the responder role; Nolan Norole does not hold it."
    assert "needs the responder role" in await refusal(services, "revoke_sessions", APPROVER, "alice@contoso.com")


async def test_own_and_protected_accounts_are_refused_whatever_the_role(bot: RunningBot) -> None:
    services = services_of(bot)
    assert "You cannot act on your own account" in await refusal(
        services, "revoke_sessions", RESPONDER, "rita.responder@contoso.com")
    assert "protected break-glass account" in await refusal(
        services, "revoke_sessions", ADMIN_RESPONDER, "breakglass@contoso.onmicrosoft.com")


async def test_administrators_need_an_admin_responder_and_never_the_last_global_admin(bot: RunningBot) -> None:
    services = services_of(bot)
    grace = "grace.admin@contoso.com"
    assert "acting on an administrator needs the admin_responder role" in await refusal(
        services, "disable_account", RESPONDER, grace)
    await permit(services, ACTIONS["disable_account"], await actor(services, ADMIN_RESPONDER),
                 await target(services, grace))
    # Break Glass (the other Global Administrator) disabled: Grace is the last enabled one.
    tenant(bot).users[USERS["breakglass"]["id"]]["accountEnabled"] = False
    assert "last enabled Global Administrator" in await refusal(services, "disable_account", ADMIN_RESPONDER, grace)
    # Listing her inbox rules changes nothing: the last-administrator check does not apply.
    await permit(services, ACTIONS["list_inbox_rules"], await actor(services, ADMIN_RESPONDER),
                 await target(services, grace))


async def test_an_action_that_does_not_apply_says_why(bot: RunningBot) -> None:
    services = services_of(bot)
    assert await refusal(services, "enable_account", RESPONDER, "alice@contoso.com") == \
        "Re-enable account does not apply: the account is enabled"


async def test_the_policy_decides_the_role_an_action_needs(bot: RunningBot, tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[actions.reset_password]\nrole = "admin_responder"\n', encoding="utf-8")
    services = dataclasses.replace(services_of(bot), policy=load_policy(str(path)))
    assert "Reset password needs the admin_responder role; Rita Responder does not hold it." == await refusal(
        services, "reset_password", RESPONDER, "alice@contoso.com")
    await permit(services, ACTIONS["reset_password"], await actor(services, ADMIN_RESPONDER),
                 await target(services, "alice@contoso.com"))


async def test_a_verb_anyone_may_use_asks_graph_nothing(bot: RunningBot) -> None:
    helped = await permit_verb(services_of(bot), "help", NO_ROLE, "Nolan Norole", None)
    assert helped == Actor(id=NO_ROLE, name="Nolan Norole") and role_checks(bot) == 0


async def test_a_verb_names_the_role_it_needs(bot: RunningBot) -> None:
    services = services_of(bot)
    assert (await permit_verb(services, "approve", APPROVER, "Avery Approver", None)).name == "Avery Approver"
    with pytest.raises(Refused, match=r"^Deciding needs the approver role; Ada Admin-Responder does not hold it\.$"):
        await permit_verb(services, "approve", ADMIN_RESPONDER, "Ada Admin-Responder", None)
    with pytest.raises(Refused, match=r"^Choosing the alert channel needs the admin_responder role; Rita Responder"):
        await permit_verb(services, "use_channel", RESPONDER, "Rita Responder", None)


async def test_someone_with_no_role_is_told_how_to_get_one(bot: RunningBot) -> None:
    services = services_of(bot)
    with pytest.raises(Refused) as refused:
        await permit_verb(services, "cancel", NO_ROLE, "Nolan Norole", None)
    assert str(refused.value).startswith("Cancelling needs the responder role; Nolan Norole does not hold it. "
                                         "Nolan Norole holds no Riposte role")
    with pytest.raises(Refused) as refused:
        await permit_verb(services, "audit", NO_ROLE, "Nolan Norole", None)  # any role will do
    assert str(refused.value).startswith("Nolan Norole holds no Riposte role") and \
        str(refused.value).endswith("`audit` needs one.")


async def test_whoever_typed_a_command_may_cancel_its_card_without_a_role(bot: RunningBot) -> None:
    nolan = await permit_verb(services_of(bot), "cancel", NO_ROLE, "Nolan Norole", None, owner=NO_ROLE)
    assert nolan.id == NO_ROLE and not nolan.roles
    with pytest.raises(Refused):
        await permit_verb(services_of(bot), "cancel", NO_ROLE, "Nolan Norole", None, owner=RESPONDER)


async def test_a_display_name_in_a_refusal_cannot_become_markup(bot: RunningBot) -> None:
    with pytest.raises(Refused) as refused:
        await permit_verb(services_of(bot), "approve", RESPONDER, "[click me](https://evil.example)", None)
    assert "[click me](https://evil.example)" not in str(refused.value)
    assert "\\[click me\\]" in str(refused.value)
