"""Microsoft identity platform v2.0 endpoints, enough for msal's client-credentials flow, and the delegated grants
of sandbox/tenant_signin.py (on-behalf-of, authorization code)."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from aiohttp import web

from sandbox import tenant_signin
from sandbox.tenant_http import now_iso, state_of

routes = web.RouteTableDef()

_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _aad_error(status: int, error: str, code: int, description: str) -> web.Response:
    """Entra's OAuth error body: RFC 6749 fields plus AADSTS codes and trace ids."""
    trace_id, correlation_id, timestamp = str(uuid.uuid4()), str(uuid.uuid4()), now_iso()
    return web.json_response({
        "error": error,
        "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace_id}\r\n"
                             f"Correlation ID: {correlation_id}\r\nTimestamp: {timestamp}",
        "error_codes": [code], "timestamp": timestamp, "trace_id": trace_id, "correlation_id": correlation_id,
    }, status=status)


def _tenant_id(request: web.Request) -> str | None:
    """The seeded tenant's id if the path names it (by id or a verified/initial domain)."""
    tenant = state_of(request).tenant
    domain = str(tenant.get("domain", ""))
    names = {tenant["id"].lower(), domain.lower(), f"{domain.split('.')[0]}.onmicrosoft.com".lower()}
    return str(tenant["id"]) if request.match_info["tenant"].lower() in names else None


def _unknown_tenant(request: web.Request) -> web.Response:
    return _aad_error(400, "invalid_tenant", 90002,
                      f"Tenant '{request.match_info['tenant']}' not found. Check to make sure you have the correct "
                      "tenant ID and are signing into the correct cloud.")


@routes.get("/{tenant}/v2.0/.well-known/openid-configuration")
async def openid_configuration(request: web.Request) -> web.Response:
    tenant_id = _tenant_id(request)
    if tenant_id is None:
        return _unknown_tenant(request)
    # Endpoints point back at this server, whichever scheme, host and port it was reached on.
    base = f"{request.scheme}://{request.host}/{tenant_id}"
    return web.json_response({
        "issuer": f"{base}/v2.0",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "request_uri_parameter_supported": False,
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
    })


@routes.post("/{tenant}/oauth2/v2.0/token")
async def token(request: web.Request) -> web.Response:
    if _tenant_id(request) is None:
        return _unknown_tenant(request)
    form: dict[str, Any] = dict(await request.post())
    for required in ("grant_type", "client_id", "scope"):
        if not form.get(required):
            return _aad_error(400, "invalid_request", 900144,
                              f"The request body must contain the following parameter: '{required}'.")
    if form["grant_type"] in (tenant_signin.OBO_GRANT, "authorization_code"):  # for a person (delegated)
        state = state_of(request)
        answer = tenant_signin.client_problem(state, form) or (
            tenant_signin.on_behalf_of(state, form) if form["grant_type"] == tenant_signin.OBO_GRANT
            else tenant_signin.redeem_code(state, form))
        return web.json_response(answer) if isinstance(answer, dict) else _aad_error(*answer)
    if form["grant_type"] != "client_credentials":
        return _aad_error(400, "unsupported_grant_type", 70003,
                          f"The app requested an unsupported grant type '{form['grant_type']}'.")
    if "client_assertion" in form:
        if form.get("client_assertion_type") != _ASSERTION_TYPE or not form["client_assertion"]:
            return _aad_error(401, "invalid_client", 7000274, "The client_assertion is invalid.")
    elif "client_secret" not in form:
        return _aad_error(401, "invalid_client", 7000218, "The request body must contain the following "
                                                          "parameter: 'client_assertion' or 'client_secret'.")
    elif not form["client_secret"]:
        return _aad_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
    if not all(scope.endswith("/.default") for scope in str(form["scope"]).split()):
        return _aad_error(400, "invalid_scope", 1002012,
                          f"The provided value for scope {form['scope']} is not valid. Client credential flows "
                          "must have a scope value with /.default suffixed to the resource identifier.")
    access_token = secrets.token_urlsafe(32)
    state_of(request).issued_tokens.add(access_token)
    return web.json_response({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                              "access_token": access_token})
