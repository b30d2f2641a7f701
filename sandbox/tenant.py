"""The sandbox tenant: a local stand-in for Microsoft Graph v1.0, Exchange Online admin REST and the
Entra token endpoint, with the real paths, bodies, status codes and error shapes. It keeps state, so
tests can check what Riposte changed, and records every request it receives.

Routes live in the tenant_* modules; this one wires them up behind one middleware that records the
request, checks the bearer token, applies injected faults and stamps Graph's request-id headers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from sandbox import (
    tenant_apps,
    tenant_auth,
    tenant_directory,
    tenant_entra,
    tenant_exchange,
    tenant_identity,
    tenant_mail,
    tenant_revert,
    tenant_signin,
    tenant_users,
)
from sandbox.faults import Fault
from sandbox.seed import load_seed
from sandbox.tenant_http import (
    CALLER,
    REQUEST_IDS,
    ExchangeError,
    GraphError,
    error_response,
    new_request_ids,
    state_of,
)
from sandbox.tenant_state import (
    ROLE_READ_PERMISSIONS,
    SANDBOX_GRAPH_TOKEN,
    TENANT,
    DelegatedGrant,
    RecordedRequest,
    TenantState,
)

__all__ = ["ROLE_READ_PERMISSIONS", "SANDBOX_GRAPH_TOKEN", "TENANT", "Fault", "RecordedRequest", "TenantState",
           "create_tenant_app"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CONTROL_PREFIX = "/_sandbox/"
_PROTECTED_PREFIXES = ("/v1.0/", "/adminapi/")
_REDACTED_FORM_FIELDS = ("client_secret", "client_assertion", "assertion", "code")  # secrets and tokens
_GRAPH_WWW_AUTHENTICATE = ('Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
                           'authorize", client_id="00000003-0000-0000-c000-000000000000"')
_FAULT_DEFAULTS = {
    400: ("BadRequest", "The request is malformed or incorrect."),
    401: ("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("Request_ResourceNotFound", "The requested resource does not exist."),
    409: ("Conflict", "The request conflicts with the current state of the resource."),
    429: ("TooManyRequests", "Too many requests."),
    500: ("UnknownError", "An internal server error occurred."),
    503: ("ServiceNotAvailable", "The service is temporarily unavailable. Please try again later."),
    504: ("GatewayTimeout", "The gateway timed out."),
}


def _record_path(path: str) -> str:
    return path.removeprefix("/v1.0") if path.startswith("/v1.0/") else path


async def _recorded_body(request: web.Request) -> Any:
    if not request.body_exists:
        return None
    text = await request.text()  # aiohttp caches the body, so handlers can still read it
    if request.content_type == "application/x-www-form-urlencoded":
        form = dict(parse_qsl(text, keep_blank_values=True))
        return {k: "***" if k in _REDACTED_FORM_FIELDS else v for k, v in form.items()}
    try:
        body = json.loads(text)
    except ValueError:
        return text
    profile = body.get("passwordProfile") if isinstance(body, dict) else None
    if isinstance(profile, dict) and "password" in profile:  # the sandbox never keeps a password
        body["passwordProfile"] = {**profile, "password": "***"}
    return body


async def _json_body(request: web.Request) -> Any:
    """The request's JSON as sent (the recorded copy masks a password)."""
    if not request.body_exists:
        return None
    try:
        return json.loads(await request.text())
    except ValueError:
        return None


def _cmdlet_name(body: Any) -> str | None:
    cmdlet_input = body.get("CmdletInput") if isinstance(body, dict) else None
    name = cmdlet_input.get("CmdletName") if isinstance(cmdlet_input, dict) else None
    return name if isinstance(name, str) else None


def _check_bearer(request: web.Request, recorded: RecordedRequest) -> DelegatedGrant | None:
    """The caller: None for the app's own token, the grant for a person's (delegated) token; 401 for any other."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    state = state_of(request)
    if not state.accepts_token(token):
        message = "Access token validation failure. Invalid audience." if token else "Access token is empty."
        raise GraphError(401, "InvalidAuthenticationToken", message,
                         headers={"WWW-Authenticate": _GRAPH_WWW_AUTHENTICATE})
    person = state.delegated_tokens.get(token)
    user = state.users.get(person.user_id) if person else None
    recorded.caller = str(user["userPrincipalName"]) if user else "app"
    request[CALLER] = person
    return person


def _fault_error(fault: Fault, path: str) -> GraphError:
    code, message = _FAULT_DEFAULTS.get(fault.status, ("UnknownError", "The sandbox injected a failure."))
    error_type = ExchangeError if path.startswith("/adminapi/") else GraphError
    return error_type(fault.status, fault.code or code, fault.message or message, fault.headers())


def _routing_error(request: web.Request, exc: web.HTTPException) -> GraphError:
    if exc.status == 404:  # Graph names the first path segment it could not resolve; the last is close enough
        segment = request.path.rstrip("/").rsplit("/", 1)[-1]
        return GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
    if exc.status == 405:
        return GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
    return GraphError(exc.status, "BadRequest", exc.reason)


async def _serve(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = state_of(request)
    body = await _recorded_body(request)
    path = _record_path(request.path)
    cmdlet = _cmdlet_name(body) if path.endswith("/InvokeCommand") else None
    anchor = request.headers.get("X-AnchorMailbox") if cmdlet else None
    recorded = RecordedRequest(request.method, path, dict(request.query), body, cmdlet, anchor)
    state.requests.append(recorded)
    if request.path.startswith(_PROTECTED_PREFIXES):
        person = _check_bearer(request, recorded)
        # App permissions bind the app's own token; a person's token is bound by its scopes and their roles.
        denied = tenant_directory.denied_by_permissions(state, request.method, path) if person is None else None
        denied = denied or tenant_entra.refusal(state, request.method, path, await _json_body(request), person)
        if denied is not None:
            raise denied
    text = await request.text() if request.body_exists else ""
    fault = state.faults.take(request.method, path, cmdlet, text)
    if fault is not None:
        await fault.slow_down()
        if fault.status:
            raise _fault_error(fault, path)
        if fault.unapplied:
            # Answer as the real handler does, then put the tenant back. A concurrent request's change made
            # while this one is served would be undone too: a test knob for one change at a time.
            before = state.data()
            response = await handler(request)
            state.restore(before)
            return response
    return await handler(request)


@web.middleware
async def _tenant_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[REQUEST_IDS] = request_id, client_request_id = new_request_ids(request)
    try:
        if request.path.startswith(_CONTROL_PREFIX):
            response = await handler(request)
        else:
            response = await _serve(request, handler)
    except GraphError as exc:
        response = error_response(request, exc)
    except web.HTTPException as exc:
        response = error_response(request, _routing_error(request, exc))
    response.headers["request-id"] = request_id
    response.headers["client-request-id"] = client_request_id
    return response


# --- control routes: for tests and the sandbox page, not part of any Microsoft API ----------------

control = web.RouteTableDef()
_FAULT_FIELDS: dict[str, tuple[type, ...]] = {
    "method": (str,), "path_regex": (str,), "status": (int,), "times": (int, type(None)),
    "retry_after": (str, int, float), "code": (str,), "message": (str,), "cmdlet": (str,), "delay": (int, float),
    "body_regex": (str,), "unapplied": (bool,),
}


@control.get("/_sandbox/requests")
async def recorded_requests(request: web.Request) -> web.Response:
    return web.json_response({"requests": [r.to_json() for r in state_of(request).requests]})


@control.get("/_sandbox/state")
async def state_dump(request: web.Request) -> web.Response:
    return web.json_response(state_of(request).snapshot())


@control.get("/_sandbox/faults")
async def list_faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": [f.to_json() for f in state_of(request).faults]})


@control.post("/_sandbox/faults")
async def add_fault(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    problem = _fault_problem(body)
    if problem:
        return web.json_response({"error": problem}, status=400)
    fault = state_of(request).add_fault(**body)
    return web.json_response({"fault": fault.to_json()}, status=201)


def _fault_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "expected a JSON object"
    for name, value in body.items():
        types = _FAULT_FIELDS.get(name)
        if types is None:
            return f"unknown field {name!r}; expected some of {sorted(_FAULT_FIELDS)}"
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            return f"bad value for {name!r}"
    status = body.get("status", 0)
    if not (400 <= status <= 599 or (status == 0 and (body.get("delay") or body.get("unapplied")))):
        return ("status must be an HTTP error status (400-599), or 0 with a delay (a slow answer) or unapplied "
                "(accepted, not applied)")
    if body.get("unapplied") and status:
        return "unapplied needs status 0: the request is answered as a success"
    if body.get("times", 1) is not None and body.get("times", 1) < 1:
        return "times must be at least 1 (or null for every request)"
    for name in ("path_regex", "body_regex"):
        try:
            re.compile(body.get(name, ".*"))
        except re.error as exc:
            return f"{name} does not compile: {exc}"
    return None


@control.get("/_sandbox/permissions")
async def list_withheld(request: web.Request) -> web.Response:
    return web.json_response({"withheld": sorted(state_of(request).withheld_permissions)})


@control.put("/_sandbox/permissions")
async def withhold_permissions(request: web.Request) -> web.Response:
    """Withhold application permissions from the app (the rest stay granted): {"withheld": ["Directory.Read.All"]}."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    withheld = body.get("withheld") if isinstance(body, dict) else None
    if not isinstance(withheld, list) or not all(isinstance(name, str) for name in withheld):
        return web.json_response({"error": 'expected {"withheld": [permission names]}'}, status=400)
    state = state_of(request)
    state.withheld_permissions = set(withheld)
    return web.json_response({"withheld": sorted(state.withheld_permissions)})


@control.delete("/_sandbox/faults")
async def clear_faults(request: web.Request) -> web.Response:
    state_of(request).faults.clear()
    return web.json_response({"faults": []})


@control.post("/_sandbox/reset")
async def reset(request: web.Request) -> web.Response:
    state_of(request).reset()
    return web.json_response({"reset": True})


def create_tenant_app(seed: dict[str, Any] | None = None) -> web.Application:
    """The tenant as an aiohttp app; `seed` defaults to sandbox/seed.json. app[TENANT] is its state."""
    app = web.Application(middlewares=[_tenant_middleware])
    app[TENANT] = TenantState(seed if seed is not None else load_seed())

    async def release_held(app: web.Application) -> None:
        app[TENANT].faults.release()  # before aiohttp waits for open handlers: a held request ends with the test

    app.on_shutdown.append(release_held)
    # tenant_directory first: its servicePrincipals(appId='…') paths would otherwise match tenant_apps' {sp}.
    for module_routes in (control, tenant_directory.routes, tenant_users.routes, tenant_mail.routes,
                          tenant_identity.routes, tenant_apps.routes, tenant_exchange.routes, tenant_auth.routes,
                          tenant_signin.routes, tenant_revert.routes):
        app.add_routes(module_routes)
    return app
