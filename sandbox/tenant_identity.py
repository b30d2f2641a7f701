"""Graph v1.0 identity routes: Conditional Access, authentication methods, Identity Protection."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from sandbox.tenant_http import (
    GraphError,
    bad_request,
    collection,
    existing,
    graph_json,
    json_body,
    no_content,
    now_iso,
    state_of,
)
from sandbox.tenant_state import PASSWORD_METHOD_ID
from sandbox.tenant_users import graph_user

routes = web.RouteTableDef()

# --- Conditional Access ------------------------------------------------------------------------

_CA = "/v1.0/identity/conditionalAccess/policies"
_CA_STATES = {"enabled", "disabled", "enabledForReportingButNotEnforced"}


def _policy(request: web.Request) -> dict[str, Any]:
    return existing(state_of(request).ca_policies, request.match_info["policy"])


def _policy_value_ok(name: str, value: Any) -> bool:
    if name == "displayName":
        return isinstance(value, str) and bool(value.strip())
    if name == "state":
        return value in _CA_STATES
    return isinstance(value, dict)  # conditions, grantControls


def _check_policy(body: dict[str, Any], partial: bool) -> None:
    for name in ("displayName", "state", "conditions", "grantControls"):
        if name not in body and not partial:
            raise bad_request(f"Required property '{name}' is missing.", code="BadRequest")
        if name in body and not _policy_value_ok(name, body[name]):
            raise bad_request(f"Invalid value specified for property '{name}'.", code="BadRequest")


@routes.get(_CA)
async def list_policies(request: web.Request) -> web.Response:
    return collection("identity/conditionalAccess/policies", list(state_of(request).ca_policies.values()))


@routes.post(_CA)
async def create_policy(request: web.Request) -> web.Response:
    body = await json_body(request)
    _check_policy(body, partial=False)
    policy = {"id": str(uuid.uuid4()), "templateId": None, "createdDateTime": now_iso(), "modifiedDateTime": None,
              "sessionControls": None, **body}
    state_of(request).ca_policies[policy["id"]] = policy
    return graph_json({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#identity/conditionalAccess/"
                                         "policies/$entity", **policy}, status=201)


@routes.get(_CA + "/{policy}")
async def get_policy(request: web.Request) -> web.Response:
    return graph_json(_policy(request))


@routes.patch(_CA + "/{policy}")
async def update_policy(request: web.Request) -> web.Response:
    policy = _policy(request)
    body = await json_body(request)
    _check_policy(body, partial=True)
    policy.update(body, modifiedDateTime=now_iso())
    return no_content()


@routes.delete(_CA + "/{policy}")
async def delete_policy(request: web.Request) -> web.Response:
    del state_of(request).ca_policies[_policy(request)["id"]]
    return no_content()


# --- Authentication methods --------------------------------------------------------------------

_METHOD_TYPES = {
    "microsoftAuthenticatorMethods": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
    "phoneMethods": "#microsoft.graph.phoneAuthenticationMethod",
    "fido2Methods": "#microsoft.graph.fido2AuthenticationMethod",
    "emailMethods": "#microsoft.graph.emailAuthenticationMethod",
    "softwareOathMethods": "#microsoft.graph.softwareOathAuthenticationMethod",
    "passwordMethods": "#microsoft.graph.passwordAuthenticationMethod",
    "temporaryAccessPassMethods": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
    "windowsHelloForBusinessMethods": "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
    "platformCredentialMethods": "#microsoft.graph.platformCredentialAuthenticationMethod",
}
# Graph's refusals (phoneAuthenticationMethod-delete: the default method cannot be deleted while others exist; a
# mobile number cannot go while an alternate mobile number exists). The first text is what Graph was seen to
# answer; the second is the sandbox's wording of the documented rule.
_DEFAULT_METHOD = ("Cannot delete default method with other methods configured. Please change default method before "
                   "deletion.")
_MOBILE_WITH_ALTERNATE = ("Cannot delete the mobile phone method while an alternateMobile phone method exists. Update "
                          "the mobile number, then delete the alternateMobile number.")


def _methods(request: web.Request) -> tuple[str, list[dict[str, Any]]]:
    user = graph_user(request)
    return user["id"], state_of(request).auth_methods.setdefault(user["id"], [])


def _method_type(request: web.Request) -> str:
    kind = request.match_info["kind"]
    if kind not in _METHOD_TYPES:
        raise bad_request(f"Resource not found for the segment '{kind}'.", code="BadRequest")
    return _METHOD_TYPES[kind]


@routes.get("/v1.0/users/{id}/authentication/methods")
async def list_methods(request: web.Request) -> web.Response:
    user_id, methods = _methods(request)
    return collection(f"users('{user_id}')/authentication/methods", methods)


@routes.get("/v1.0/users/{id}/authentication/{kind}")
async def list_methods_of_kind(request: web.Request) -> web.Response:
    odata_type = _method_type(request)
    user_id, methods = _methods(request)
    return collection(f"users('{user_id}')/authentication/{request.match_info['kind']}",
                      [m for m in methods if m["@odata.type"] == odata_type])


@routes.delete("/v1.0/users/{id}/authentication/{kind}/{method}")
async def delete_method(request: web.Request) -> web.Response:
    odata_type = _method_type(request)
    user_id, methods = _methods(request)
    method_id = request.match_info["method"]
    if method_id == PASSWORD_METHOD_ID or odata_type.endswith("passwordAuthenticationMethod"):
        raise bad_request("Deleting the password authentication method is not supported.", code="badRequest")
    method = next((m for m in methods if m["id"] == method_id and m["@odata.type"] == odata_type), None)
    if method is None:
        raise GraphError(404, "itemNotFound", f"The authentication method '{method_id}' was not found.")
    others = [m for m in methods if m is not method and m["id"] != PASSWORD_METHOD_ID]
    if others and state_of(request).default_methods.get(user_id) == method_id:
        raise bad_request(_DEFAULT_METHOD, code="badRequest")
    if method.get("phoneType") == "mobile" and any(m.get("phoneType") == "alternateMobile" for m in others):
        raise bad_request(_MOBILE_WITH_ALTERNATE, code="badRequest")
    methods.remove(method)
    return no_content()


# --- Identity Protection -----------------------------------------------------------------------

_RISK_OUTCOMES = {
    "confirmCompromised": {"riskLevel": "high", "riskState": "confirmedCompromised",
                           "riskDetail": "adminConfirmedUserCompromised"},
    "dismiss": {"riskLevel": "none", "riskState": "dismissed", "riskDetail": "adminDismissedAllRiskForUser"},
}


@routes.post("/v1.0/identityProtection/riskyUsers/confirmCompromised")
@routes.post("/v1.0/identityProtection/riskyUsers/dismiss")
async def set_risk(request: web.Request) -> web.Response:
    user_ids = (await json_body(request)).get("userIds")
    if not isinstance(user_ids, list) or not user_ids or not all(isinstance(u, str) for u in user_ids):
        raise bad_request("Invalid value specified for property 'userIds'.", code="BadRequest")
    state = state_of(request)
    outcome = _RISK_OUTCOMES[request.path.rsplit("/", 1)[1]]
    for user_id in user_ids:
        user = state.users.get(user_id)  # object ids only, as Graph expects; unknown ids change nothing
        if user is not None:
            state.risky_users[user_id] = {
                "id": user_id, "userPrincipalName": user["userPrincipalName"], "userDisplayName": user["displayName"],
                "isDeleted": False, "isProcessing": False, "riskLastUpdatedDateTime": now_iso(), **outcome,
            }
    return no_content()


@routes.get("/v1.0/identityProtection/riskyUsers")
async def list_risky(request: web.Request) -> web.Response:
    return collection("identityProtection/riskyUsers", list(state_of(request).risky_users.values()))


@routes.get("/v1.0/identityProtection/riskyUsers/{user}")
async def get_risky(request: web.Request) -> web.Response:
    return graph_json(existing(state_of(request).risky_users, request.match_info["user"]))
