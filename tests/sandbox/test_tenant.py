"""The sandbox tenant over real HTTP: Graph's paths, bodies, status codes and error shapes, plus state."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import msal
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_aiohttp import AiohttpClient, AiohttpServer

from sandbox.tenant import ROLE_READ_PERMISSIONS, SANDBOX_GRAPH_TOKEN, TENANT, TenantState, create_tenant_app

Client = TestClient[web.Request, web.Application]

AUTH = {"Authorization": f"Bearer {SANDBOX_GRAPH_TOKEN}"}
TENANT_ID = "8f2c1c8e-5b7a-4d0a-9a53-0c1d2e3f4a5b"
RITA = "1a000000-0000-4000-8000-000000000001"
ALICE = "1a000000-0000-4000-8000-000000000004"
GUEST_UPN = "pat_fabrikam.com#EXT#@contoso.onmicrosoft.com"
RESPONDERS, APPROVERS, ADMIN_RESPONDERS = (f"9a000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
GLOBAL_ADMIN_TEMPLATE = "62e90394-69f5-4237-9190-012177145e10"
EXCHANGE = f"/adminapi/beta/{TENANT_ID}/InvokeCommand"


@pytest.fixture
async def client(aiohttp_client: AiohttpClient) -> AsyncIterator[Client]:
    yield await aiohttp_client(create_tenant_app(), headers=AUTH)


def state(client: Client) -> TenantState:
    return client.app[TENANT]


async def call(client: Client, method: str, path: str, body: Any = None,
               status: int = 200, **kwargs: Any) -> Any:
    """Make a request, check its status, return the parsed JSON body (None when empty)."""
    response = await client.request(method, path, json=body, **kwargs)
    text = await response.text()
    assert response.status == status, text
    return await response.json(content_type=None) if text else None


ANCHOR = {"X-AnchorMailbox": f"APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{TENANT_ID}"}


async def cmdlet(client: Client, name: str, status: int = 200, **params: Any) -> Any:
    body = {"CmdletInput": {"CmdletName": name, "Parameters": params}}
    return await call(client, "POST", EXCHANGE, body, status=status, headers=ANCHOR)


# --- auth and error shapes ---------------------------------------------------------------------


async def test_requests_without_a_valid_token_get_graphs_401(aiohttp_client: AiohttpClient) -> None:
    anonymous = await aiohttp_client(create_tenant_app())
    response = await anonymous.get(f"/v1.0/users/{ALICE}")
    assert response.status == 401
    error = (await response.json())["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["message"] == "Access token is empty."
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    wrong = await anonymous.post(EXCHANGE, json={}, headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    assert [r.path for r in state(anonymous).requests] == [f"/users/{ALICE}", EXCHANGE]


async def test_unknown_user_is_a_graph_404_with_request_ids(client: Client) -> None:
    response = await client.get("/v1.0/users/nobody@contoso.com", headers={"client-request-id": "abc-123"})
    assert response.status == 404
    assert response.headers["client-request-id"] == "abc-123"
    assert response.content_type == "application/json"
    error = (await response.json())["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert error["message"].startswith("Resource 'nobody@contoso.com' does not exist")
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    assert error["innerError"]["client-request-id"] == "abc-123"
    unknown_route = await call(client, "GET", "/v1.0/nonsense", status=400)
    assert unknown_route["error"]["message"] == "Resource not found for the segment 'nonsense'."


# --- users, groups, roles ----------------------------------------------------------------------


async def test_user_lookup_by_id_or_upn_hides_seed_internals(client: Client) -> None:
    alice = await call(client, "GET", "/v1.0/users/ALICE@contoso.com")
    assert alice["id"] == ALICE and alice["jobTitle"] == "Finance Manager"
    assert {"accountEnabled", "userType", "onPremisesSyncEnabled", "mail"} <= set(alice)
    assert not {"mailbox", "sandboxRole", "authenticationMethods", "teamsApps"} & set(alice)
    guest = await call(client, "GET", "/v1.0/users/" + GUEST_UPN.replace("#", "%23"), params={"$select": "id,mail"})
    assert {k: v for k, v in guest.items() if not k.startswith("@")} == {
        "id": "1a000000-0000-4000-8000-000000000006", "mail": "pat@fabrikam.com"}
    await call(client, "GET", "/v1.0/users/pat@fabrikam.com", status=404)  # Graph does not resolve mail
    found = await call(client, "GET", "/v1.0/users", params={"$filter": "mail eq 'pat@fabrikam.com'"})
    assert [u["userPrincipalName"] for u in found["value"]] == [GUEST_UPN]


async def test_filtering_on_proxy_addresses_is_an_advanced_query(client: Client) -> None:
    by_alias = {"$filter": "mail eq 'alice.target@contoso.com' or "
                           "proxyAddresses/any(p:p eq 'SMTP:Alice.Target@contoso.com')"}
    refused = await call(client, "GET", "/v1.0/users", params=by_alias, status=400)
    assert refused["error"]["code"] == "Request_UnsupportedQuery"
    assert "'proxyAddresses'" in refused["error"]["message"]
    counted = await call(client, "GET", "/v1.0/users", params={"$count": "true"}, status=400)
    assert counted["error"]["message"] == "$count is not currently supported."

    eventual = {"ConsistencyLevel": "eventual"}
    found = await call(client, "GET", "/v1.0/users", params={**by_alias, "$count": "true"}, headers=eventual)
    assert [u["id"] for u in found["value"]] == [ALICE] and found["@odata.count"] == 1
    for unsupported in ("startsWith(mail,'alice')", "mail eq 'a@b.c' or", "proxyAddresses/any(p:q eq 'x')",
                        "jobTitle eq 'Finance Manager'"):
        error = await call(client, "GET", "/v1.0/users", params={"$filter": unsupported, "$count": "true"},
                           headers=eventual, status=400)
        assert error["error"]["code"] == "Request_UnsupportedQuery", unsupported


async def test_check_member_groups_returns_the_subset(client: Client) -> None:
    result = await call(client, "POST", f"/v1.0/users/{RITA}/checkMemberGroups",
                        {"groupIds": [RESPONDERS, APPROVERS, ADMIN_RESPONDERS]})
    assert result["value"] == [RESPONDERS]
    assert result["@odata.context"].endswith("#Collection(Edm.String)")
    await call(client, "POST", f"/v1.0/users/{RITA}/checkMemberGroups", {"groupIds": "x"}, status=400)
    too_many = await call(client, "POST", f"/v1.0/users/{RITA}/checkMemberGroups",
                          {"groupIds": [RESPONDERS] * 21}, status=400)
    assert too_many["error"]["code"] == "Request_BadRequest" and "limit of 20" in too_many["error"]["message"]


async def test_member_of_and_role_members(client: Client) -> None:
    grace = await call(client, "GET", "/v1.0/users/grace.admin@contoso.com/transitiveMemberOf")
    assert [(o["@odata.type"], o["roleTemplateId"]) for o in grace["value"]] == [
        ("#microsoft.graph.directoryRole", GLOBAL_ADMIN_TEMPLATE)]
    admins = await call(client, "GET", f"/v1.0/directoryRoles(roleTemplateId='{GLOBAL_ADMIN_TEMPLATE}')/members")
    assert [u["userPrincipalName"] for u in admins["value"]] == [
        "grace.admin@contoso.com", "breakglass@contoso.onmicrosoft.com"]
    assert all(u["@odata.type"] == "#microsoft.graph.user" for u in admins["value"])
    by_id = await call(client, "GET", "/v1.0/directoryRoles/7a000000-0000-4000-8000-000000000002/members")
    assert [u["userPrincipalName"] for u in by_id["value"]] == ["sid.secadmin@contoso.com"]
    await call(client, "GET", "/v1.0/directoryRoles(roleTemplateId='nope')/members", status=404)


async def test_without_a_role_reading_permission_roles_lose_their_identity(client: Client) -> None:
    await call(client, "PUT", "/_sandbox/permissions", {"withheld": sorted(ROLE_READ_PERMISSIONS)})
    sid = await call(client, "GET", "/v1.0/users/sid.secadmin@contoso.com/transitiveMemberOf")
    # Still 200, as Graph answers: each role reduced to its type and id ("limited information returned").
    assert sid["value"] == [{"@odata.type": "#microsoft.graph.directoryRole",
                             "id": "7a000000-0000-4000-8000-000000000002"}]
    denied = await call(client, "GET", f"/v1.0/directoryRoles(roleTemplateId='{GLOBAL_ADMIN_TEMPLATE}')/members",
                        status=403)
    assert denied["error"]["code"] == "Authorization_RequestDenied"
    # One role-reading permission is enough; reset grants everything again.
    await call(client, "PUT", "/_sandbox/permissions", {"withheld": ["RoleManagement.Read.Directory"]})
    sid = await call(client, "GET", "/v1.0/users/sid.secadmin@contoso.com/transitiveMemberOf")
    assert sid["value"][0]["roleTemplateId"] == "194ae4cb-b126-40b2-bd5b-6091b380977d"
    await call(client, "PUT", "/_sandbox/permissions", {"withheld": "all"}, status=400)
    await call(client, "POST", "/_sandbox/reset")
    assert await call(client, "GET", "/_sandbox/permissions") == {"withheld": []}


async def test_revoke_sessions_is_recorded_and_changes_state(client: Client) -> None:
    result = await call(client, "POST", "/v1.0/users/alice@contoso.com/revokeSignInSessions")
    assert result == {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": True}
    assert "signInSessionsValidFromDateTime" in state(client).users[ALICE]
    [write] = state(client).writes()
    assert (write.method, write.path, write.body) == ("POST", "/users/alice@contoso.com/revokeSignInSessions", None)
    recorded = await call(client, "GET", "/_sandbox/requests")
    assert recorded["requests"][0]["path"] == "/users/alice@contoso.com/revokeSignInSessions"


async def test_revoke_sessions_of_a_guest_answers_true_and_revokes_nothing(client: Client) -> None:
    """Graph: "This API doesn't revoke sign-in sessions for external users"; it still answers 200 true."""
    guest = next(u for u in state(client).users.values() if u["userType"] == "Guest")
    result = await call(client, "POST", f"/v1.0/users/{guest['id']}/revokeSignInSessions")
    assert result["value"] is True
    assert "signInSessionsValidFromDateTime" not in state(client).users[guest["id"]]


async def test_auth_methods_graph_will_not_delete_are_refused_like_graph(client: Client) -> None:
    methods = state(client).auth_methods[ALICE]
    phone = next(m for m in methods if m["@odata.type"].endswith("phoneAuthenticationMethod"))
    state(client).default_methods[ALICE] = phone["id"]
    answer = await call(client, "DELETE", f"/v1.0/users/{ALICE}/authentication/phoneMethods/{phone['id']}",
                        status=400)
    assert "Cannot delete default method with other methods configured" in answer["error"]["message"]
    del state(client).default_methods[ALICE]
    methods.append({"id": "alt", "@odata.type": phone["@odata.type"], "phoneType": "alternateMobile"})
    answer = await call(client, "DELETE", f"/v1.0/users/{ALICE}/authentication/phoneMethods/{phone['id']}",
                        status=400)
    assert "alternateMobile" in answer["error"]["message"]
    await call(client, "DELETE", f"/v1.0/users/{ALICE}/authentication/phoneMethods/alt", status=204)
    await call(client, "DELETE", f"/v1.0/users/{ALICE}/authentication/phoneMethods/{phone['id']}", status=204)
    for kind, odata in (("temporaryAccessPassMethods", "temporaryAccessPass"),
                        ("windowsHelloForBusinessMethods", "windowsHelloForBusiness"),
                        ("platformCredentialMethods", "platformCredential")):
        methods.append({"id": kind, "@odata.type": f"#microsoft.graph.{odata}AuthenticationMethod"})
        await call(client, "DELETE", f"/v1.0/users/{ALICE}/authentication/{kind}/{kind}", status=204)
    assert all(m["id"] not in ("temporaryAccessPassMethods", "alt") for m in methods)


async def test_patch_user_validates_and_never_keeps_the_password(client: Client) -> None:
    await call(client, "PATCH", f"/v1.0/users/{ALICE}", {"accountEnabled": "no"}, status=400)
    # The SDK sends "@odata.type" in bodies; Graph accepts (and ignores) it.
    disable = {"@odata.type": "#microsoft.graph.user", "accountEnabled": False}
    await call(client, "PATCH", f"/v1.0/users/{ALICE}", disable, status=204)
    assert state(client).users[ALICE]["accountEnabled"] is False
    assert "@odata.type" not in state(client).users[ALICE]
    short = {"passwordProfile": {"password": "short", "forceChangePasswordNextSignIn": True}}
    error = await call(client, "PATCH", f"/v1.0/users/{ALICE}", short, status=400)
    assert "password complexity" in error["error"]["message"]
    strong = {"passwordProfile": {"password": "Xk9!long-enough", "forceChangePasswordNextSignIn": True}}
    await call(client, "PATCH", f"/v1.0/users/{ALICE}", strong, status=204)
    alice = state(client).users[ALICE]
    assert alice["forceChangePasswordNextSignIn"] is True and alice["passwordResetAt"]
    assert "Xk9!long-enough" not in repr(state(client).snapshot()) + repr(state(client).requests)
    synced = await call(client, "PATCH", "/v1.0/users/sam.synced@contoso.com", strong, status=400)
    assert "on-premises mastered" in synced["error"]["message"]


# --- mail --------------------------------------------------------------------------------------


async def test_inbox_rule_round_trip(client: Client) -> None:
    rules = f"/v1.0/users/{ALICE}/mailFolders/inbox/messageRules"
    assert len((await call(client, "GET", rules))["value"]) == 3
    created = await call(client, "POST", rules, {"displayName": "Keep", "sequence": 4,
                                                 "actions": {"markImportance": "high"}}, status=201)
    assert created["id"] and created["isEnabled"] is True
    patched = await call(client, "PATCH", f"{rules}/AQAAAJ5dZqA=", {"isEnabled": False})
    assert patched["isEnabled"] is False and patched["displayName"] == "."
    await call(client, "PATCH", f"{rules}/AQAAAJ5dZqA=", {"isEnabled": "off"}, status=400)
    await call(client, "DELETE", f"{rules}/AQAAAJ5dZqA=", status=204)
    gone = await call(client, "GET", f"{rules}/AQAAAJ5dZqA=", status=404)
    assert gone["error"]["code"] == "ErrorItemNotFound"
    assert [r["displayName"] for r in state(client).inbox_rules[ALICE]] == [
        "Security alerts to archive", "Newsletters", "Keep"]


async def test_users_without_a_mailbox_get_mailbox_not_enabled(client: Client) -> None:
    for path in ("mailFolders/inbox/messageRules", "mailboxSettings"):
        error = await call(client, "GET", f"/v1.0/users/breakglass@contoso.onmicrosoft.com/{path}", status=404)
        assert error["error"]["code"] == "MailboxNotEnabledForRESTAPI"
    assert (await call(client, "GET", f"/v1.0/users/{ALICE}/mailboxSettings"))["timeZone"] == "UTC"


# --- identity ----------------------------------------------------------------------------------


async def test_conditional_access_policy_create_and_delete(client: Client) -> None:
    policies = "/v1.0/identity/conditionalAccess/policies"
    await call(client, "POST", policies, {"displayName": "Block Alice"}, status=400)
    body = {"displayName": "Riposte: block alice", "state": "enabled",
            "conditions": {"users": {"includeUsers": [ALICE]}, "applications": {"includeApplications": ["All"]}},
            "grantControls": {"operator": "OR", "builtInControls": ["block"]}}
    created = await call(client, "POST", policies, body, status=201)
    assert created["createdDateTime"] and created["displayName"] == body["displayName"]
    assert len((await call(client, "GET", policies))["value"]) == 2
    await call(client, "DELETE", f"{policies}/{created['id']}", status=204)
    await call(client, "GET", f"{policies}/{created['id']}", status=404)


async def test_auth_methods_risky_users_apps_and_grants(client: Client) -> None:
    methods = f"/v1.0/users/{ALICE}/authentication"
    phone = "3179e48a-750b-4051-897c-87b9720928f7"
    await call(client, "DELETE", f"{methods}/fido2Methods/{phone}", status=404)  # wrong type
    await call(client, "DELETE", f"{methods}/phoneMethods/{phone}", status=204)
    await call(client, "DELETE", f"{methods}/passwordMethods/28c10230-6103-485e-b985-444c60001490", status=400)
    assert len((await call(client, "GET", f"{methods}/methods"))["value"]) == 2

    await call(client, "GET", f"/v1.0/identityProtection/riskyUsers/{ALICE}", status=404)
    await call(client, "POST", "/v1.0/identityProtection/riskyUsers/confirmCompromised", {"userIds": [ALICE]},
               status=204)
    risky = await call(client, "GET", f"/v1.0/identityProtection/riskyUsers/{ALICE}")
    assert (risky["riskLevel"], risky["riskState"]) == ("high", "confirmedCompromised")

    apps = f"/v1.0/users/{ALICE}/teamwork/installedApps"
    listed = await call(client, "GET", apps, params={"$expand": "teamsApp"})
    assert listed["value"][0]["teamsApp"]["displayName"] == "Sketchy Notes"
    await call(client, "DELETE", f"{apps}/{listed['value'][0]['id']}", status=204)
    assert (await call(client, "GET", apps))["value"] == []

    sp = "5a000000-0000-4000-8000-000000000001"
    grants = await call(client, "GET", "/v1.0/oauth2PermissionGrants", params={"$filter": f"clientId eq '{sp}'"})
    assert [g["principalId"] for g in grants["value"]] == [ALICE]
    await call(client, "DELETE", f"/v1.0/servicePrincipals/{sp}", status=204)
    await call(client, "GET", f"/v1.0/servicePrincipals/{sp}", status=404)
    assert (await call(client, "GET", f"/v1.0/users/{ALICE}/oauth2PermissionGrants"))["value"] == []
    await call(client, "POST", f"/v1.0/directory/deletedItems/{sp}/restore")
    assert (await call(client, "GET", f"/v1.0/servicePrincipals/{sp}"))["displayName"] == "Mail Sync Pro"
    assert len(state(client).oauth2_grants) == 1


async def test_alerts_filter_and_organization(client: Client) -> None:
    newer = await call(client, "GET", "/v1.0/security/alerts_v2",
                       params={"$filter": "lastUpdateDateTime gt 2026-11-21T10:00:00Z", "$top": "5"})
    assert [a["title"] for a in newer["value"]] == ["Suspicious inbox forwarding rule"]
    later = await call(client, "GET", "/v1.0/security/alerts_v2",
                       params={"$filter": "lastUpdateDateTime gt 2026-11-21T10:15:00Z"})
    assert later["value"] == []
    org = await call(client, "GET", "/v1.0/organization")
    assert org["value"][0]["id"] == TENANT_ID


def _alerts(count: int) -> list[dict[str, Any]]:
    return [{"id": f"a{n}", "title": f"Alert {n}", "lastUpdateDateTime": f"2026-11-22T10:{n:02d}:00Z"}
            for n in range(count)]


async def test_alerts_v2_refuses_query_options_the_reference_does_not_list(client: Client) -> None:
    refused = await call(client, "GET", "/v1.0/security/alerts_v2", status=400,
                         params={"$orderby": "lastUpdateDateTime asc"})
    assert refused["error"]["code"] == "BadRequest" and "'OrderBy' is not allowed" in refused["error"]["message"]
    assert "request-id" in refused["error"]["innerError"]
    await call(client, "GET", "/v1.0/security/alerts_v2", status=400, params={"$select": "id"})
    counted = await call(client, "GET", "/v1.0/security/alerts_v2", params={"$count": "true", "$skip": "0"})
    assert counted["@odata.count"] == 1


async def test_alerts_v2_pages_newest_first_with_next_links(client: Client) -> None:
    state(client).security_alerts = _alerts(5)
    seen, url = [], "/v1.0/security/alerts_v2?$top=2&$filter=lastUpdateDateTime gt 2026-11-22T10:00:00Z"
    while url:
        page = await call(client, "GET", url)
        assert len(page["value"]) <= 2
        seen += [a["id"] for a in page["value"]]
        url = page.get("@odata.nextLink", "").partition(str(client.make_url("")))[2]
        assert "$filter" in url or not url, "the link carries the query on"
    assert seen == ["a4", "a3", "a2", "a1"]


async def test_alerts_v2_stuck_cursor_hands_back_the_same_link(client: Client) -> None:
    state(client).security_alerts = _alerts(5)
    state(client).alerts_repeat_next_link = True
    first = await call(client, "GET", "/v1.0/security/alerts_v2", params={"$top": "2"})
    second_url = first["@odata.nextLink"]
    second = await call(client, "GET", second_url.partition(str(client.make_url("")))[2])
    assert second["@odata.nextLink"] == second_url
    assert [a["id"] for a in first["value"] + second["value"]] == ["a4", "a3", "a2", "a1"]


# --- faults and control routes -----------------------------------------------------------------


async def test_fault_answers_429_with_retry_after_then_succeeds(client: Client) -> None:
    fault = {"method": "POST", "path_regex": "/users/.*/revokeSignInSessions", "status": 429, "times": 2,
             "retry_after": "0.2", "code": "TooManyRequests", "message": "Slow down"}
    await call(client, "POST", "/_sandbox/faults", fault, status=201)
    for _ in range(2):
        response = await client.post(f"/v1.0/users/{ALICE}/revokeSignInSessions")
        assert response.status == 429 and response.headers["Retry-After"] == "0.2"
        assert (await response.json())["error"]["code"] == "TooManyRequests"
    assert "signInSessionsValidFromDateTime" not in state(client).users[ALICE]
    await call(client, "POST", f"/v1.0/users/{ALICE}/revokeSignInSessions")
    assert "signInSessionsValidFromDateTime" in state(client).users[ALICE]
    assert len(state(client).writes()) == 3  # the refused attempts were received too

    state(client).add_fault(cmdlet="Set-Mailbox", status=403)
    denied = await cmdlet(client, "Set-Mailbox", status=403, Identity="alice@contoso.com")
    assert denied == {"error": {"code": "Authorization_RequestDenied",
                                "message": "Insufficient privileges to complete the operation."}}
    await call(client, "POST", "/_sandbox/faults", {"status": 42}, status=400)


async def test_an_unapplied_fault_answers_success_and_changes_nothing(client: Client) -> None:
    fault = {"status": 0, "unapplied": True, "method": "PATCH", "path_regex": f"^/users/{ALICE}$"}
    await call(client, "POST", "/_sandbox/faults", fault, status=201)
    await call(client, "PATCH", f"/v1.0/users/{ALICE}", {"accountEnabled": False}, status=204)
    assert state(client).users[ALICE]["accountEnabled"] is True and state(client).faults == []
    await call(client, "PATCH", f"/v1.0/users/{ALICE}", {"accountEnabled": False}, status=204)  # only once
    assert state(client).users[ALICE]["accountEnabled"] is False
    await call(client, "POST", "/_sandbox/faults", {"status": 500, "unapplied": True}, status=400)


async def arrived(client: Client) -> None:
    """A request has reached the tenant (it is recorded before any fault applies)."""
    for _ in range(500):
        if state(client).requests:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no request arrived")


async def test_a_held_fault_answers_only_once_released(client: Client) -> None:
    state(client).add_fault(status=0, until_released=True, method="PATCH", path_regex=f"^/users/{ALICE}$")
    patch = asyncio.ensure_future(call(client, "PATCH", f"/v1.0/users/{ALICE}", {"accountEnabled": False},
                                       status=204))
    await arrived(client)  # from here on the request waits on the release alone
    assert not patch.done() and state(client).users[ALICE]["accountEnabled"] is True
    state(client).faults.release()
    await patch
    assert state(client).users[ALICE]["accountEnabled"] is False


async def test_clearing_the_faults_releases_what_they_hold(client: Client) -> None:
    state(client).add_fault(status=0, until_released=True, method="GET")
    read = asyncio.ensure_future(call(client, "GET", f"/v1.0/users/{ALICE}"))
    await arrived(client)
    await call(client, "DELETE", "/_sandbox/faults")
    assert (await read)["id"] == ALICE


async def test_reset_restores_the_seed(client: Client) -> None:
    await call(client, "PATCH", f"/v1.0/users/{ALICE}", {"accountEnabled": False}, status=204)
    state(client).add_fault(status=500)
    await call(client, "POST", "/_sandbox/reset")
    assert state(client).users[ALICE]["accountEnabled"] is True
    assert state(client).requests == [] and state(client).faults == []
    dump = await call(client, "GET", "/_sandbox/state")
    assert len(dump["inboxRules"][ALICE]) == 3 and dump["mailboxes"][ALICE]["fullAccess"]


# --- Exchange Online ---------------------------------------------------------------------------


async def test_exchange_set_mailbox_clears_forwarding(client: Client) -> None:
    before = await cmdlet(client, "Get-Mailbox", Identity="alice@contoso.com")
    assert before["value"][0]["ForwardingSmtpAddress"] == "smtp:invoices@evil.example"
    result = await cmdlet(client, "Set-Mailbox", Identity="alice@contoso.com", ForwardingSmtpAddress=None,
                          ForwardingAddress=None, DeliverToMailboxAndForward=False)
    assert result["value"] == []
    after = (await cmdlet(client, "Get-Mailbox", Identity=ALICE))["value"][0]
    assert (after["ForwardingSmtpAddress"], after["DeliverToMailboxAndForward"]) == (None, False)
    assert [r.cmdlet for r in state(client).writes()] == ["Get-Mailbox", "Set-Mailbox", "Get-Mailbox"]
    assert [r.cmdlet for r in state(client).mutations()] == ["Set-Mailbox"]


async def test_exchange_permissions_rules_and_errors(client: Client) -> None:
    perms = (await cmdlet(client, "Get-MailboxPermission", Identity="alice@contoso.com"))["value"]
    assert [p["User"] for p in perms] == ["NT AUTHORITY\\SELF", "mallory@contoso.com"]
    await cmdlet(client, "Remove-MailboxPermission", Identity="alice@contoso.com", User="mallory@contoso.com",
                 AccessRights=["FullAccess"], Confirm=False)
    assert state(client).mailboxes[ALICE]["fullAccess"] == []
    await cmdlet(client, "Remove-TransportRule", Identity="Copy finance mail out", Confirm=False)
    assert (await cmdlet(client, "Get-TransportRule"))["value"] == []
    missing = await cmdlet(client, "Get-Mailbox", status=404, Identity="ghost@contoso.com")
    assert missing["error"]["code"] == "NotFound" and "'ghost@contoso.com'" in missing["error"]["message"]
    await cmdlet(client, "Get-Mailbox", status=404, Identity="breakglass@contoso.onmicrosoft.com")
    await cmdlet(client, "Remove-Mailbox", status=400, Identity="alice@contoso.com")
    await cmdlet(client, "Set-Mailbox", status=400, Identity="alice@contoso.com", Bogus=1)


# --- the token endpoint, driven by the real msal over HTTPS --------------------------------------


def _self_signed_cert(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_real_msal_gets_a_token_over_https_that_graph_accepts(
        aiohttp_server: AiohttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert_path, key_path = _self_signed_cert(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_path, key_path)
    server = await aiohttp_server(create_tenant_app(), ssl=server_tls)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_path))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    def acquire() -> dict[str, Any]:
        app = msal.ConfidentialClientApplication(
            "11111111-2222-4333-8444-555555555555", client_credential="not-a-real-secret",
            authority=f"https://127.0.0.1:{server.port}/{TENANT_ID}", instance_discovery=False)
        result: dict[str, Any] = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
        return result

    # msal is synchronous; on the loop thread it would block the server it is talking to.
    result = await asyncio.to_thread(acquire)
    assert result.get("token_type") == "Bearer", result
    tenant = server.app[TENANT]
    assert result["access_token"] in tenant.issued_tokens
    token_request = next(r for r in tenant.requests if r.path.endswith("/oauth2/v2.0/token"))
    assert token_request.body["client_secret"] == "***" and token_request.body["grant_type"] == "client_credentials"

    client_tls = ssl.create_default_context(cafile=str(cert_path))
    headers = {"Authorization": f"Bearer {result['access_token']}"}
    async with aiohttp.ClientSession() as session, session.get(
            server.make_url(f"/v1.0/users/{ALICE}"), headers=headers, ssl=client_tls) as response:
        assert response.status == 200
        assert (await response.json())["userPrincipalName"] == "alice@contoso.com"


async def test_token_endpoint_rejects_an_empty_secret(client: Client) -> None:
    form = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "",
            "scope": "https://graph.microsoft.com/.default"}
    response = await client.post(f"/{TENANT_ID}/oauth2/v2.0/token", data=form)
    assert response.status == 401
    error = await response.json()
    assert error["error"] == "invalid_client" and error["error_description"].startswith("AADSTS7000215")
    bad_tenant = await client.get("/not-our-tenant/v2.0/.well-known/openid-configuration")
    assert bad_tenant.status == 400


async def test_exchange_calls_without_an_anchor_mailbox_are_refused(client: Client) -> None:
    body = {"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"Identity": "alice@contoso.com"}}}
    answer = await call(client, "POST", EXCHANGE, body, status=400)
    assert "X-AnchorMailbox" in answer["error"]["message"]
