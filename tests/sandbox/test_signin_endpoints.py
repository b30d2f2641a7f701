"""The sandbox's delegated sign-in over real HTTP: the tenant's grants and Entra's rules per call, and the channel's
Bot Framework token service answering the way botbuilder expects."""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from sandbox.channel import create_channel_app
from sandbox.tenant import SANDBOX_GRAPH_TOKEN, TENANT, create_tenant_app

Client = TestClient[web.Request, web.Application]
TENANT_ID = "8f2c1c8e-5b7a-4d0a-9a53-0c1d2e3f4a5b"
APP = {"client_id": "riposte-sandbox-app", "client_secret": "sandbox-client-secret"}
AUDIENCE = "api://botid-riposte-sandbox-bot"
ALICE, GRACE, AVERY = "alice@contoso.com", "grace.admin@contoso.com", "avery.approver@contoso.com"
ADA = "ada.adminresponder@contoso.com"


async def teams_token(client: Client, user: str) -> str:
    response = await client.post("/_sandbox/teams-sso", json={"user": user, "audience": AUDIENCE})
    assert response.status == 200
    token: str = (await response.json())["token"]
    return token


async def token_for(client: Client, user: str, scope: str) -> tuple[int, dict[str, Any]]:
    form = {**APP, "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "requested_token_use": "on_behalf_of",
            "assertion": await teams_token(client, user), "scope": scope}
    response = await client.post(f"/{TENANT_ID}/oauth2/v2.0/token", data=form)
    return response.status, await response.json()


async def as_person(client: Client, user: str, scope: str) -> dict[str, str]:
    status, answer = await token_for(client, user, scope)
    assert status == 200, answer
    return {"Authorization": f"Bearer {answer['access_token']}"}


async def test_entras_rules_apply_to_app_and_person_tokens(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_tenant_app())
    app = {"Authorization": f"Bearer {SANDBOX_GRAPH_TOKEN}"}
    disable = {"accountEnabled": False}
    # The app's own token: fine on an ordinary user; on an administrator only with the role the app lacks.
    assert (await client.patch(f"/v1.0/users/{ALICE}", json=disable, headers=app)).status == 204
    refused = await client.patch(f"/v1.0/users/{GRACE}", json=disable, headers=app)
    assert refused.status == 403 and (await refused.json())["error"]["code"] == "Authorization_RequestDenied"
    # A person's token: the scope and their own role.
    ada = await as_person(client, ADA, "User.Read User.EnableDisableAccount.All")
    assert (await client.patch(f"/v1.0/users/{GRACE}", json=disable, headers=ada)).status == 204
    no_scope = await as_person(client, ADA, "User.Read")
    assert (await client.post(f"/v1.0/users/{GRACE}/revokeSignInSessions", headers=no_scope)).status == 403
    avery = await as_person(client, AVERY, "User-PasswordProfile.ReadWrite.All User.EnableDisableAccount.All")
    assert (await client.patch(f"/v1.0/users/{GRACE}", json=disable, headers=avery)).status == 403  # Helpdesk only
    reset = {"passwordProfile": {"password": "Xy1!" * 5, "forceChangePasswordNextSignIn": True}}
    assert (await client.patch(f"/v1.0/users/{ALICE}", json=reset, headers=avery)).status == 204
    # Someone else's mailbox is closed to a person's token; /me is theirs alone.
    mailbox = await client.get(f"/v1.0/users/{ALICE}/mailFolders/inbox/messageRules", headers=ada)
    assert mailbox.status == 403 and (await mailbox.json())["error"]["code"] == "ErrorAccessDenied"
    me = await client.get("/v1.0/me", headers=ada)
    assert (await me.json())["userPrincipalName"] == ADA
    assert (await client.get("/v1.0/me", headers=app)).status == 400
    callers = [r.caller for r in client.app[TENANT].requests if r.method == "PATCH" and r.path == f"/users/{GRACE}"]
    assert callers == ["app", ADA, AVERY]  # the tenant records who called


async def test_without_consent_the_exchange_says_aadsts65001_and_the_sign_in_page_asks_an_admin(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(create_tenant_app())
    assert (await client.put("/_sandbox/consent", json={"scopes": []})).status == 200
    status, answer = await token_for(client, ADA, "User.Read")
    assert status == 400 and answer["error"] == "invalid_grant" and answer["error_codes"] == [65001]
    page = await client.get(f"/{TENANT_ID}/oauth2/v2.0/authorize", params={
        "client_id": "riposte-sandbox-app", "redirect_uri": "http://x/cb", "scope": "User.Read", "state": "s",
        "sandbox_user": "1a000000-0000-4000-8000-000000000009"}, allow_redirects=False)
    assert page.status == 403 and "Need admin approval" in await page.text()
    wrong = await client.post("/_sandbox/teams-sso", json={"user": ADA, "audience": "api://someone-else"})
    assert wrong.status == 400 and (await wrong.json())["error"] == "resourcematchfailed"


async def test_the_token_service_answers_as_botbuilder_expects(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_channel_app())
    query = {"userId": "29:1abc", "connectionName": "riposte-graph", "channelId": "msteams"}
    assert (await client.get("/api/usertoken/GetToken", params=query)).status == 404  # nothing cached
    unknown = await client.get("/api/usertoken/GetToken", params={**query, "connectionName": "nope"})
    assert unknown.status == 400 and "Unable to find the OAuth connection" in (await unknown.json())["error"]["message"]
    no_token = await client.post("/api/usertoken/exchange", params=query, json={"uri": None})
    assert no_token.status == 400
    assert (await client.get("/api/botsignin/GetSignInResource", params={"state": "%%%"})).status == 400
    state = base64.b64encode(json.dumps({"connectionName": "riposte-graph", "msAppId": "",
                                         "conversation": {"user": {"id": "29:1abc"}}}).encode()).decode()
    resource = await (await client.get("/api/botsignin/GetSignInResource", params={"state": state})).json()
    assert "/api/oauth/signin?signin=" in resource["signInLink"]
    assert resource["tokenExchangeResource"]["uri"] == AUDIENCE and resource["tokenExchangeResource"]["id"]
