"""`<user>` is a UPN, a mail address or an Entra object id: resolving each against the sandbox tenant."""

from __future__ import annotations

import pytest

from actions.errors import NotFound, RiposteError
from tests.actions.conftest import IDS, PAT_UPN, Env

pytestmark = pytest.mark.asyncio(loop_scope="module")

PAT = IDS["pat_fabrikam.com#EXT#"]
SAM = IDS["sam.synced"]


async def test_a_guest_is_found_by_its_mail_though_its_upn_differs(env: Env) -> None:
    pat = await env.tenant.get_user("Pat@Fabrikam.com")
    assert (pat.id, pat.upn, pat.display_name, pat.user_type) == (PAT, PAT_UPN, "Pat Partner (Guest)", "Guest")


async def test_a_user_is_found_by_a_secondary_proxy_address(env: Env) -> None:
    alice = await env.tenant.get_user("alice.target@contoso.com")
    assert (alice.upn, alice.display_name) == ("alice@contoso.com", "Alice Target")


async def test_an_address_with_a_quote_in_it_is_found(env: Env) -> None:
    env.state.users[SAM]["mail"] = "sam.o'neil@contoso.com"
    assert (await env.tenant.get_user("sam.o'neil@contoso.com")).id == SAM


async def test_an_address_two_users_share_is_refused_naming_both(env: Env) -> None:
    env.state.users[SAM]["mail"] = "pat@fabrikam.com"
    with pytest.raises(RiposteError) as refused:
        await env.tenant.get_user("pat@fabrikam.com")
    assert str(refused.value) == (f"pat@fabrikam.com is the address of 2 users ({PAT_UPN}, sam.synced@contoso.com): "
                                  "say which one by its UPN or object id.")
    assert not isinstance(refused.value, NotFound)


async def test_an_unknown_address_is_not_found(env: Env) -> None:
    with pytest.raises(NotFound, match="no such object in this tenant"):
        await env.tenant.get_user("ghost@fabrikam.com")
    with pytest.raises(NotFound):
        await env.tenant.get_user("1a000000-0000-4000-8000-0000000000ff")
    assert [r.path for r in env.state.requests] == ["/users/ghost@fabrikam.com", "/users",
                                                    "/users/1a000000-0000-4000-8000-0000000000ff"], \
        "only an address is looked up by mail"
