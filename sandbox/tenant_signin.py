"""Delegated sign-in at the sandbox tenant, as Entra does it for an app acting for a person:

- the authorize endpoint: a page where you pick who signs in (the sandbox has no passwords), then the
  authorization code back to the redirect URI; a person asking for scopes nobody consented sees Entra's "Need admin
  approval" (AADSTS90094) with the admin-consent link;
- the admin-consent endpoint (`/{tenant}/v2.0/adminconsent`): a Global Administrator consents for the tenant;
- the token endpoint's two delegated grants (called from tenant_auth): on-behalf-of (a Teams single-sign-on token
  exchanged by the Bot Framework token service) and authorization_code (the sign-in link's way);
- a control route standing for Teams' own session: `POST /_sandbox/teams-sso {"user", "audience"}` gives the token
  the Teams client holds for the bot's app id URI, which it sends to the bot to exchange;
- `PUT /_sandbox/consent {"scopes": [...]}`: which delegated permissions are consented (withdraw them to see the
  first-use path).
Delegated tokens are remembered with the person and scopes they stand for (TenantState.delegated_tokens)."""

from __future__ import annotations

import html
import secrets
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sandbox.tenant_http import state_of
from sandbox.tenant_state import DelegatedGrant, TenantState

routes = web.RouteTableDef()
OBO_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_GRAPH_PREFIXES = ("https://graph.microsoft.com/", "https://graph.microsoft.us/", "https://dod-graph.microsoft.us/")
_CONSENTERS = ("62e90394-69f5-4237-9190-012177145e10", "e8611ab8-c189-46e8-94e1-60213ab1f814")  # GA, PRA


def _scopes(state: TenantState, requested: str) -> frozenset[str]:
    """Graph scopes by their short names; `.default` stands for every permission the app asks for."""
    names: set[str] = set()
    for scope in requested.split():
        short = next((scope[len(p):] for p in _GRAPH_PREFIXES if scope.startswith(p)), scope)
        if short == ".default" or scope.endswith("/.default"):
            names |= set(state.application.get("delegatedPermissions", []))
        else:
            names.add(short)
    return frozenset(names)


def _app_name(state: TenantState) -> str:
    return str(state.application.get("displayName", "the app"))


def consent_problem(state: TenantState, client_id: str, scopes: frozenset[str]) -> str | None:
    """AADSTS65001's description when some scope is not consented, else None."""
    if scopes <= state.consented_scopes:
        return None
    return (f"AADSTS65001: The user or administrator has not consented to use the application with ID "
            f"'{client_id}' named '{_app_name(state)}'. Send an interactive authorization request for this user and "
            "resource.")


def client_problem(state: TenantState, form: dict[str, Any]) -> tuple[int, str, int, str] | None:
    """Entra's answer to a confidential client it does not know, or whose secret is wrong."""
    if form.get("client_id") != state.application.get("appId"):
        return 400, "unauthorized_client", 700016, (f"Application with identifier '{form.get('client_id')}' was not "
                                                    "found in the directory.")
    if form.get("client_secret") != state.application.get("clientSecret"):
        return 401, "invalid_client", 7000215, "Invalid client secret provided."
    return None


def issue(state: TenantState, grant: DelegatedGrant) -> dict[str, Any]:
    token = secrets.token_urlsafe(32)
    state.delegated_tokens[token] = grant
    return {"token_type": "Bearer", "scope": " ".join(sorted(grant.scopes)), "expires_in": 3599,
            "ext_expires_in": 3599, "access_token": token}


def on_behalf_of(state: TenantState, form: dict[str, Any]) -> tuple[int, str, int, str] | dict[str, Any]:
    """The token endpoint's on-behalf-of grant: a Graph token for the person whose Teams token is the assertion."""
    if form.get("requested_token_use") != "on_behalf_of":
        return 400, "invalid_request", 900144, "The request body must contain the following parameter: " \
                                               "'requested_token_use'."
    user_id = state.sso_tokens.get(str(form.get("assertion") or ""))
    if user_id is None:
        return 400, "invalid_grant", 50013, "Assertion failed signature validation."
    scopes = _scopes(state, str(form["scope"]))
    problem = consent_problem(state, str(form["client_id"]), scopes)
    if problem:
        return 400, "invalid_grant", 65001, problem.removeprefix("AADSTS65001: ")
    return issue(state, DelegatedGrant(user_id, str(form["client_id"]), scopes))


def redeem_code(state: TenantState, form: dict[str, Any]) -> tuple[int, str, int, str] | dict[str, Any]:
    grant = state.auth_codes.pop(str(form.get("code") or ""), None)
    if grant is None or grant.client_id != form.get("client_id"):
        return 400, "invalid_grant", 70000, "The provided authorization code is invalid or has expired."
    return issue(state, grant)


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(status=status, content_type="text/html", text=(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body style='font-family:sans-serif;max-width:40em;margin:3em auto'><h1>{html.escape(title)}</h1>"
        f"{body}</body></html>"))


def _people_links(state: TenantState, request: web.Request) -> str:
    links = []
    for user in state.users.values():
        if user.get("accountEnabled") is False or str(user.get("userType")) == "Guest":
            continue
        href = f"{request.path}?{urlencode({**request.query, 'sandbox_user': user['id']})}"
        links.append(f"<li><a href='{html.escape(href)}'>{html.escape(str(user['displayName']))}</a> "
                     f"({html.escape(str(user['userPrincipalName']))})</li>")
    return "<ul>" + "".join(links) + "</ul>"


def _redirect(uri: str, params: dict[str, str]) -> web.Response:
    # Returned, not raised: the tenant's middleware turns raised HTTP exceptions into Graph errors.
    return web.Response(status=302, headers={"Location": f"{uri}{'&' if '?' in uri else '?'}{urlencode(params)}"})


def admin_consent_url(request: web.Request, client_id: str, redirect_uri: str) -> str:
    tenant = request.match_info["tenant"]
    query = urlencode({"client_id": client_id, "scope": "https://graph.microsoft.com/.default",
                       "redirect_uri": redirect_uri})
    return f"{request.scheme}://{request.host}/{tenant}/v2.0/adminconsent?{query}"


@routes.get("/{tenant}/oauth2/v2.0/authorize")
async def authorize(request: web.Request) -> web.Response:
    state, query = state_of(request), request.query
    client_id, redirect_uri = query.get("client_id", ""), query.get("redirect_uri", "")
    if client_id != state.application.get("appId") or not redirect_uri:
        return _page("Sign in", f"<p>AADSTS700016: Application with identifier '{html.escape(client_id)}' was not "
                                "found in the directory, or no redirect_uri was given.</p>", 400)
    picked = state.users.get(query.get("sandbox_user", ""))
    if picked is None:
        return _page(f"Sign in to {_app_name(state)}",
                     "<p>The sandbox has no passwords: pick who signs in.</p>" + _people_links(state, request))
    scopes = _scopes(state, query.get("scope", ""))
    if consent_problem(state, client_id, scopes):
        link = admin_consent_url(request, client_id, redirect_uri)
        return _page("Need admin approval", (
            f"<p>AADSTS90094: {html.escape(_app_name(state))} needs permission to access resources in your "
            "organisation that only an admin can grant. Please ask an admin to grant permission to this app before "
            f"you can use it.</p><p><a href='{html.escape(link)}'>Admin consent</a></p>"), 403)
    code = secrets.token_urlsafe(24)
    state.auth_codes[code] = DelegatedGrant(str(picked["id"]), client_id, scopes)
    return _redirect(redirect_uri, {"code": code, "state": query.get("state", "")})


@routes.get("/{tenant}/v2.0/adminconsent")
async def admin_consent(request: web.Request) -> web.Response:
    state, query = state_of(request), request.query
    if query.get("client_id") != state.application.get("appId"):
        return _page("Admin consent", "<p>AADSTS700016: unknown application.</p>", 400)
    picked = state.users.get(query.get("sandbox_user", ""))
    if picked is None:
        return _page(f"Consent for {_app_name(state)} on behalf of your organisation",
                     "<p>A Global Administrator consents once for the whole tenant: pick who you are.</p>"
                     + _people_links(state, request))
    if not state.role_templates_of(str(picked["id"])) & set(_CONSENTERS):
        return _page("Need admin approval", "<p>AADSTS90094: only a Global Administrator (or Privileged Role "
                                            "Administrator) can grant this consent.</p>", 403)
    state.consented_scopes |= set(state.application.get("delegatedPermissions", []))
    if query.get("redirect_uri"):
        return _redirect(query["redirect_uri"], {"admin_consent": "True", "tenant": str(state.tenant["id"]),
                                                 "state": query.get("state", "")})
    return _page("Consent granted", f"<p>{html.escape(_app_name(state))} may act for people in this tenant.</p>")


@routes.post("/_sandbox/teams-sso")
async def teams_sso(request: web.Request) -> web.Response:
    """The token Teams holds for the bot's app id URI (what the Teams client sends in a token exchange)."""
    state = state_of(request)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("user"), str) or not isinstance(body.get("audience"), str):
        return web.json_response({"error": 'expected {"user": oid or upn, "audience": the app id URI}'}, status=400)
    user = state.find_user(body["user"], by_mail=False)
    if user is None:
        return web.json_response({"error": f"no user {body['user']!r}"}, status=404)
    if body["audience"] != state.application.get("identifierUri"):
        # What Teams reports as resourcematchfailed: the URI is not the app's "Expose an API" id.
        return web.json_response({"error": "resourcematchfailed"}, status=400)
    token = secrets.token_urlsafe(32)
    state.sso_tokens[token] = str(user["id"])
    return web.json_response({"token": token})


@routes.get("/_sandbox/consent")
async def consented(request: web.Request) -> web.Response:
    return web.json_response({"scopes": sorted(state_of(request).consented_scopes)})


@routes.put("/_sandbox/consent")
async def set_consent(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    scopes = body.get("scopes") if isinstance(body, dict) else None
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        return web.json_response({"error": 'expected {"scopes": [delegated permission names]}'}, status=400)
    state = state_of(request)
    state.consented_scopes = set(scopes)
    return web.json_response({"scopes": sorted(state.consented_scopes)})
