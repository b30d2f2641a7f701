"""Graph v1.0 directory routes: users, group and role membership, directory roles, the organization."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.tenant_http import (
    CALLER,
    GraphError,
    bad_request,
    collection,
    graph_json,
    json_body,
    no_content,
    not_found,
    now_iso,
    parse_eq_filter,
    select_fields,
    state_of,
)

routes = web.RouteTableDef()

# Seed keys and sandbox bookkeeping that Graph would never return.
PRIVATE_USER_KEYS = frozenset({"sandboxRole", "passwordResetAt", "forceChangePasswordNextSignIn"})
_PATCHABLE = frozenset({"accountEnabled", "passwordProfile", "displayName", "jobTitle", "usageLocation",
                        "department", "officeLocation", "mobilePhone"})
_SYNCED_ERROR = ("Unable to update the specified properties for on-premises mastered Directory Sync objects "
                 "or objects currently undergoing migration.")


def public_user(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if k not in PRIVATE_USER_KEYS}


def graph_user(request: web.Request) -> dict[str, Any]:
    """The {id} in the path; like Graph it may be an object id or a UPN, but not a mail address."""
    key = request.match_info["id"]
    user = state_of(request).find_user(key, by_mail=False)
    if user is None:
        raise not_found(key)
    return user


def user_ref(user: dict[str, Any]) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.user", "id": user["id"], "userPrincipalName": user["userPrincipalName"],
            "displayName": user["displayName"], "accountEnabled": user["accountEnabled"]}


@routes.get("/v1.0/users")
async def list_users(request: web.Request) -> web.Response:
    users = list(state_of(request).users.values())
    # Advanced queries (ConsistencyLevel: eventual plus $count=true) are what Graph needs to filter on
    # proxyAddresses; $count alone, without the header, is refused.
    eventual = request.headers.get("ConsistencyLevel", "").lower() == "eventual"
    count = request.query.get("$count", "").lower() == "true"
    if count and not eventual:
        raise bad_request("$count is not currently supported.")
    if expression := request.query.get("$filter"):
        clauses = parse_eq_filter(expression, {"id", "userPrincipalName", "mail", "displayName"},
                                  collections=frozenset({"proxyAddresses"}))
        if not (eventual and count) and any(name == "proxyAddresses" for name, _ in clauses):
            raise bad_request("Unsupported or invalid query filter clause specified for property 'proxyAddresses' "
                              "of resource 'User'.", "Request_UnsupportedQuery")
        users = [u for u in users if any(_holds(u, name, value) for name, value in clauses)]
    return collection("users", [select_fields(public_user(u), request) for u in users], count=count)


def _holds(user: dict[str, Any], name: str, value: str) -> bool:
    """Whether the property (or, for a collection, one of its values) equals `value`; Graph ignores case."""
    held = user.get(name)
    return any(isinstance(v, str) and v.lower() == value.lower() for v in (held if isinstance(held, list) else [held]))


@routes.get("/v1.0/me")
async def me(request: web.Request) -> web.Response:
    """The signed-in person (a delegated token); Graph refuses /me to an app's own token."""
    person = request.get(CALLER)
    if person is None:
        raise bad_request("/me request is only valid with delegated authentication flow.", "BadRequest")
    user = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            **public_user(state_of(request).users[person.user_id])}
    return graph_json(select_fields(user, request))


@routes.get("/v1.0/users/{id}")
async def get_user(request: web.Request) -> web.Response:
    user = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            **public_user(graph_user(request))}
    return graph_json(select_fields(user, request))


@routes.patch("/v1.0/users/{id}")
async def patch_user(request: web.Request) -> web.Response:
    user = graph_user(request)
    body = await json_body(request)
    for name in body:
        if name not in _PATCHABLE:
            raise bad_request(f"Property '{name}' is read-only or does not exist on type 'microsoft.graph.user'.")
    if "accountEnabled" in body and not isinstance(body["accountEnabled"], bool):
        raise bad_request("Invalid value specified for property 'accountEnabled' of resource 'User'.")
    profile = body.get("passwordProfile")
    if profile is not None:
        _check_password_profile(user, profile)
    # Validate everything before changing anything: Graph applies a PATCH all or nothing.
    for name, value in body.items():
        if name == "passwordProfile":
            # Never keep the password itself: only that, and when, it was reset.
            user["passwordResetAt"] = user["lastPasswordChangeDateTime"] = now_iso()
            user["forceChangePasswordNextSignIn"] = bool(value.get("forceChangePasswordNextSignIn", True))
        else:
            user[name] = value
    return no_content()


def _check_password_profile(user: dict[str, Any], profile: Any) -> None:
    if not isinstance(profile, dict) or not isinstance(profile.get("password"), str):
        raise bad_request("Invalid value specified for property 'passwordProfile' of resource 'User'.")
    if user.get("onPremisesSyncEnabled"):  # no password writeback in the sandbox
        raise bad_request(_SYNCED_ERROR)
    if len(profile["password"]) < 8:
        raise bad_request("The specified password does not comply with password complexity requirements. "
                          "Please provide a different password.")


@routes.post("/v1.0/users/{id}/revokeSignInSessions")
async def revoke_sessions(request: web.Request) -> web.Response:
    user = graph_user(request)
    # Graph answers true for an external user too, but revokes nothing: their home tenant issued the sessions.
    if user.get("userType") != "Guest" and "#EXT#" not in str(user["userPrincipalName"]).upper():
        user["signInSessionsValidFromDateTime"] = now_iso()
    return graph_json({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": True})


@routes.post("/v1.0/users/{id}/checkMemberGroups")
async def check_member_groups(request: web.Request) -> web.Response:
    user = graph_user(request)
    group_ids = (await json_body(request)).get("groupIds")
    if not isinstance(group_ids, list) or not all(isinstance(g, str) for g in group_ids):
        raise bad_request("Invalid value specified for property 'groupIds'.")
    if len(group_ids) > 20:
        raise bad_request("The number of group ids specified exceeds the limit of 20.")
    member_of = set(state_of(request).group_ids_of(user["id"]))
    return collection("Collection(Edm.String)", [g for g in group_ids if g in member_of])


@routes.get("/v1.0/users/{id}/memberOf")
@routes.get("/v1.0/users/{id}/transitiveMemberOf")
async def member_of(request: web.Request) -> web.Response:
    state, user = state_of(request), graph_user(request)
    items: list[dict[str, Any]] = [
        {"@odata.type": "#microsoft.graph.group", "id": gid, "displayName": state.groups[gid]["displayName"],
         "securityEnabled": True}
        for gid in state.group_ids_of(user["id"])
    ]
    # Without a role-reading permission Graph still answers 200, with each role reduced to its type and id
    # ("limited information returned"): no name, no roleTemplateId.
    readable = state.can_read_roles()
    items += [{"@odata.type": "#microsoft.graph.directoryRole",
               **(_role(state.directory_roles[rid]) if readable else {"id": rid})}
              for rid in state.role_ids_of(user["id"])]
    return collection("directoryObjects", items)


def _role(role: dict[str, Any]) -> dict[str, Any]:
    return {"id": role["id"], "displayName": role["displayName"], "roleTemplateId": role["roleTemplateId"]}


@routes.get("/v1.0/directoryRoles")
async def list_roles(request: web.Request) -> web.Response:
    return collection("directoryRoles", [_role(r) for r in _readable_roles(request).values()])


def _readable_roles(request: web.Request) -> dict[str, dict[str, Any]]:
    state = state_of(request)
    if not state.can_read_roles():
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    return state.directory_roles


def _directory_role(request: web.Request) -> dict[str, Any]:
    """By object id (/directoryRoles/{id}) or by template (/directoryRoles(roleTemplateId='...'))."""
    roles = _readable_roles(request)
    if "template" in request.match_info:
        key = request.match_info["template"]
        role = next((r for r in roles.values() if r["roleTemplateId"] == key), None)
    else:
        key = request.match_info["role"]
        role = roles.get(key)
    if role is None:
        raise not_found(key)
    return role


@routes.get("/v1.0/directoryRoles(roleTemplateId='{template}')")
@routes.get("/v1.0/directoryRoles/{role}")
async def get_role(request: web.Request) -> web.Response:
    return graph_json({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryRoles/$entity",
                       **_role(_directory_role(request))})


@routes.get("/v1.0/directoryRoles(roleTemplateId='{template}')/members")
@routes.get("/v1.0/directoryRoles/{role}/members")
async def role_members(request: web.Request) -> web.Response:
    users = state_of(request).users
    members = _directory_role(request)["members"]
    return collection("directoryObjects", [user_ref(users[m]) for m in members if m in users])


@routes.get("/v1.0/organization")
async def organization(request: web.Request) -> web.Response:
    tenant = state_of(request).tenant
    domain = tenant.get("domain")
    return collection("organization", [{
        "id": tenant["id"], "displayName": tenant["displayName"],
        "verifiedDomains": [{"name": domain, "isDefault": True, "isInitial": False}] if domain else [],
    }])

