"""The Bot Framework token service, as the sandbox channel serves it to the bot (botbuilder's UserTokenClient calls
these paths; set the bot's OAuthUrl to the channel's URL):

- `GET /api/usertoken/GetToken?userId&connectionName&channelId[&code]`: the cached token (200 TokenResponse), or
  404; with `code`, the token a sign-in left under that magic code;
- `POST /api/usertoken/exchange?userId&connectionName&channelId` `{"token"}`: exchange a Teams single-sign-on token
  for a Graph token, on behalf of the person (the sandbox tenant's OBO grant); 400 ErrorResponse when it cannot;
- `DELETE /api/usertoken/SignOut?userId&connectionName&channelId`;
- `GET /api/botsignin/GetSignInResource?state`: the sign-in link and the token exchange resource (the connection's
  Teams SSO app id URI);
and the pages a sign-in link goes through: `/api/oauth/signin` (on to the tenant's authorize page) and
`/.auth/web/redirect` (the code back, a magic code for the bot, and the Teams client finishing the click).

One OAuth connection is configured, as on an Azure Bot resource: SANDBOX_OAUTH_CONNECTION, Entra ID v2 with the
sandbox app's id, secret and delegated scopes (the seed's `application`). Tokens live only in this process."""

from __future__ import annotations

import base64
import binascii
import html
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

SANDBOX_OAUTH_CONNECTION = "riposte-graph"
TOKEN_LIFETIME = timedelta(hours=1)


@dataclass
class SignInSession:
    """One sign-in link: who it is for (their Teams user id) and the connection."""

    user_id: str
    connection: str


@dataclass
class TokenStore:
    """The token service's memory: cached tokens per (Teams user id, connection), tokens waiting for their magic
    code, and open sign-in sessions."""

    cached: dict[tuple[str, str], str] = field(default_factory=dict)
    waiting: dict[tuple[str, str, str], str] = field(default_factory=dict)
    sessions: dict[str, SignInSession] = field(default_factory=dict)


# What the token service needs from the channel: its own URL, the tenant's, the seed's app, an HTTP session, and
# the Teams client's part once a sign-in finished (finish(user_id, magic_code) -> what the page says).
@dataclass
class TokenServiceLinks:
    channel_url: Callable[[], str]
    tenant_url: Callable[[], str | None]
    application: dict[str, Any]
    tenant_id: str
    session: Callable[[], aiohttp.ClientSession]
    finish: Callable[[str, str], Awaitable[str]]
    store: TokenStore = field(default_factory=TokenStore)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _token_response(connection: str, channel_id: str, token: str) -> web.Response:
    expiration = (datetime.now(UTC) + TOKEN_LIFETIME).isoformat(timespec="seconds").replace("+00:00", "Z")
    return web.json_response({"channelId": channel_id, "connectionName": connection, "token": token,
                              "expiration": expiration})


def _html(title: str, message: str, status: int = 200) -> web.Response:
    return web.Response(status=status, content_type="text/html", text=(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body style='font-family:sans-serif;max-width:40em;margin:3em auto'><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(message)}</p></body></html>"))


def token_routes(links_of: Callable[[web.Request], TokenServiceLinks]) -> list[web.AbstractRouteDef]:
    def known_connection(request: web.Request) -> str | None:
        name = request.query.get("connectionName", "")
        return name if name == SANDBOX_OAUTH_CONNECTION else None

    def no_connection(request: web.Request) -> web.Response:
        return _error(400, "BadArgument", f"Unable to find the OAuth connection setting "
                                          f"'{request.query.get('connectionName', '')}' on this bot.")

    async def get_token(request: web.Request) -> web.Response:
        links, connection = links_of(request), known_connection(request)
        if connection is None:
            return no_connection(request)
        user, code = request.query.get("userId", ""), request.query.get("code", "")
        token = links.store.waiting.pop((user, connection, code), None) if code else None
        if token is not None:
            links.store.cached[(user, connection)] = token
        token = token or (None if code else links.store.cached.get((user, connection)))
        if token is None:
            return _error(404, "NotFound", "No token for this user and connection.")
        return _token_response(connection, request.query.get("channelId", ""), token)

    async def exchange(request: web.Request) -> web.Response:
        links, connection = links_of(request), known_connection(request)
        if connection is None:
            return no_connection(request)
        try:
            body = await request.json()
        except ValueError:
            body = None
        teams_token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(teams_token, str) or not teams_token:
            return _error(400, "BadArgument", "The exchange request has no token.")
        answer = await _tenant_token(links, {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": teams_token,
            "requested_token_use": "on_behalf_of"})
        if "access_token" not in answer:
            return _error(400, "ServiceError", str(answer.get("error_description", "exchange failed")).splitlines()[0])
        links.store.cached[(request.query.get("userId", ""), connection)] = str(answer["access_token"])
        return _token_response(connection, request.query.get("channelId", ""), str(answer["access_token"]))

    async def sign_out(request: web.Request) -> web.Response:
        links, connection = links_of(request), known_connection(request)
        if connection is not None:
            links.store.cached.pop((request.query.get("userId", ""), connection), None)
        return web.json_response({})

    async def sign_in_resource(request: web.Request) -> web.Response:
        links = links_of(request)
        try:
            state = json.loads(base64.b64decode(request.query.get("state", ""), validate=True))
        except (ValueError, binascii.Error):
            return _error(400, "BadArgument", "state is not a base64 TokenExchangeState")
        user_id = str(((state.get("conversation") or {}).get("user") or {}).get("id") or "")
        if state.get("connectionName") != SANDBOX_OAUTH_CONNECTION or not user_id:
            return _error(400, "BadArgument", "Unknown connection, or no user in the state.")
        session = secrets.token_urlsafe(16)
        links.store.sessions[session] = SignInSession(user_id, SANDBOX_OAUTH_CONNECTION)
        return web.json_response({
            "signInLink": f"{links.channel_url()}/api/oauth/signin?{urlencode({'signin': session})}",
            "tokenExchangeResource": {"id": str(uuid.uuid4()), "uri": links.application.get("identifierUri", ""),
                                      "providerId": ""},
        })

    async def open_sign_in(request: web.Request) -> web.Response:
        """The sign-in link: on to the tenant's authorize page, which comes back to /.auth/web/redirect."""
        links = links_of(request)
        session = request.query.get("signin", "")
        tenant_url = links.tenant_url()
        if session not in links.store.sessions or not tenant_url:
            return _html("Sign-in link expired", "Click the button in Teams again.", 400)
        query = urlencode({"client_id": links.application.get("appId", ""), "response_type": "code",
                           "redirect_uri": f"{links.channel_url()}/.auth/web/redirect", "state": session,
                           "scope": " ".join(links.application.get("delegatedPermissions", []))})
        return web.Response(status=302, headers={"Location": f"{tenant_url}/{links.tenant_id}/oauth2/v2.0/authorize?"
                                                             f"{query}"})

    async def redirect(request: web.Request) -> web.Response:
        links = links_of(request)
        if request.query.get("admin_consent"):
            return _html("Consent granted", "Riposte may now act with people's own rights in this tenant. Go back "
                                            "to Teams and click the button again.")
        session = links.store.sessions.pop(request.query.get("state", ""), None)
        if session is None or not request.query.get("code"):
            return _html("Sign-in failed", request.query.get("error_description") or "This sign-in link has expired; "
                                                                                    "click in Teams again.", 400)
        answer = await _tenant_token(links, {"grant_type": "authorization_code", "code": request.query["code"],
                                             "redirect_uri": f"{links.channel_url()}/.auth/web/redirect"})
        if "access_token" not in answer:
            return _html("Sign-in failed", str(answer.get("error_description", "")).splitlines()[0], 400)
        magic = f"{secrets.randbelow(10**6):06d}"
        links.store.waiting[(session.user_id, session.connection, magic)] = str(answer["access_token"])
        return _html("Signed in", await links.finish(session.user_id, magic))

    return [
        web.get("/api/usertoken/GetToken", get_token),
        web.post("/api/usertoken/exchange", exchange),
        web.delete("/api/usertoken/SignOut", sign_out),
        web.get("/api/botsignin/GetSignInResource", sign_in_resource),
        web.get("/api/oauth/signin", open_sign_in),
        web.get("/.auth/web/redirect", redirect),
    ]


async def _tenant_token(links: TokenServiceLinks, form: dict[str, str]) -> dict[str, Any]:
    """The tenant's token endpoint, as the connection's app (its id, secret and scopes)."""
    tenant_url = links.tenant_url()
    if not tenant_url:
        return {"error_description": "the sandbox channel does not know the tenant's URL"}
    app = links.application
    form = {**form, "client_id": str(app.get("appId", "")), "client_secret": str(app.get("clientSecret", "")),
            "scope": " ".join(app.get("delegatedPermissions", []))}
    try:
        async with links.session().post(f"{tenant_url}/{links.tenant_id}/oauth2/v2.0/token", data=form) as response:
            answer: dict[str, Any] = await response.json(content_type=None)
            return answer
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        return {"error_description": f"{type(error).__name__}: {error}"}
