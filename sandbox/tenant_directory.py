"""Graph v1.0 routes about the app itself and its groups: what `python app.py doctor` reads.

- The app's service principal, and Microsoft's resource service principals (Microsoft Graph, Office 365
  Exchange Online) with their app roles: `GET /servicePrincipals(appId='…')`.
- The app's granted application permissions: `GET /servicePrincipals(appId='…')/appRoleAssignments` (and by
  object id). The sandbox app holds every permission of the catalogue below except those withheld through
  `PUT /_sandbox/permissions`, exactly as Graph lists the roles an admin consented to. App role ids are derived from
  the names here (uuid5), not Microsoft's real ids: resolve them through the resource's `appRoles`, as a client must.
- The app's directory roles: `GET /servicePrincipals/{id}/transitiveMemberOf`.
- Groups: `GET /groups/{id}`, `GET /groups/{id}/members` (and transitiveMembers).

Withheld permissions are also enforced: a read (or write) in `REQUIRED` answers Graph's 403 when none of the
permissions that allow it is granted.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web

from sandbox.tenant_http import (
    ExchangeError,
    GraphError,
    collection,
    existing,
    graph_json,
    not_found,
    select_fields,
    state_of,
)
from sandbox.tenant_state import TenantState

routes = web.RouteTableDef()

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
_ROLE_NAMESPACE = uuid.UUID("6f1f3c2e-9d0b-4b7e-8f35-6a0e5c1d2b40")

GRAPH_PERMISSIONS = (
    "Application.Read.All", "Application.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All",
    "Directory.Read.All", "Directory.ReadWrite.All", "Group.Read.All", "GroupMember.Read.All",
    "IdentityRiskyUser.Read.All", "IdentityRiskyUser.ReadWrite.All", "MailboxSettings.Read",
    "MailboxSettings.ReadWrite", "Policy.Read.All", "Policy.ReadWrite.ConditionalAccess",
    "RoleManagement.Read.All", "RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory",
    "SecurityAlert.Read.All", "TeamsAppInstallation.ReadWriteForUser.All", "User-PasswordProfile.ReadWrite.All",
    "User.EnableDisableAccount.All", "User.Read.All", "User.ReadWrite.All", "User.RevokeSessions.All",
    "UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All",
)
EXCHANGE_PERMISSIONS = ("Exchange.ManageAsApp",)

_USERS_READ = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
# (method, path below /v1.0 or /adminapi, the permissions any one of which allows it). Reads doctor makes, and the
# calls whose permission is easiest to get wrong; everything else is allowed as before.
REQUIRED: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (method, re.compile(pattern), allowed) for method, pattern, allowed in (
        ("GET", r"^/users(/[^/]+)?$", _USERS_READ),
        ("GET", r"^/servicePrincipals", ("Application.Read.All", "Application.ReadWrite.All",
                                         "Directory.Read.All", "Directory.ReadWrite.All")),
        ("GET", r"^/identity/conditionalAccess/policies", ("Policy.Read.All", "Policy.ReadWrite.ConditionalAccess")),
        ("POST", r"^/identity/conditionalAccess/policies$", ("Policy.ReadWrite.ConditionalAccess",)),
        ("GET", r"^/identityProtection/riskyUsers", ("IdentityRiskyUser.Read.All", "IdentityRiskyUser.ReadWrite.All")),
        ("POST", r"^/identityProtection/riskyUsers/", ("IdentityRiskyUser.ReadWrite.All",)),
        ("GET", r"^/oauth2PermissionGrants", ("Directory.Read.All", "DelegatedPermissionGrant.ReadWrite.All")),
        ("GET", r"^/groups/[^/]+/(transitiveMembers|members)$", ("GroupMember.Read.All", "Group.Read.All",
                                                                  "Directory.Read.All")),
        ("GET", r"^/groups/[^/]+$", ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All")),
        ("GET", r"^/security/alerts_v2", ("SecurityAlert.Read.All",)),
        ("GET", r"^/users/[^/]+/authentication/", ("UserAuthenticationMethod.Read.All",
                                                   "UserAuthenticationMethod.ReadWrite.All")),
        ("GET", r"^/users/[^/]+/mailFolders/[^/]+/messageRules", ("MailboxSettings.Read", "MailboxSettings.ReadWrite")),
        ("POST", r"^/users/[^/]+/revokeSignInSessions$", ("User.RevokeSessions.All", "User.ReadWrite.All",
                                                          "Directory.ReadWrite.All")),
        ("POST", r"^/adminapi/", ("Exchange.ManageAsApp",)),
    )
)


def role_id(resource_app_id: str, permission: str) -> str:
    return str(uuid.uuid5(_ROLE_NAMESPACE, f"{resource_app_id}/{permission}"))


def _resource(app_id: str, sp_id: str, name: str, permissions: tuple[str, ...]) -> dict[str, Any]:
    return {"id": sp_id, "appId": app_id, "displayName": name, "servicePrincipalType": "Application",
            "appRoles": [{"id": role_id(app_id, p), "value": p, "displayName": p, "isEnabled": True,
                          "allowedMemberTypes": ["Application"], "description": p, "origin": "Application"}
                         for p in permissions]}


RESOURCES = {
    GRAPH_APP_ID: _resource(GRAPH_APP_ID, "5b000000-0000-4000-8000-000000000003", "Microsoft Graph",
                            GRAPH_PERMISSIONS),
    EXCHANGE_APP_ID: _resource(EXCHANGE_APP_ID, "5b000000-0000-4000-8000-000000000002",
                               "Office 365 Exchange Online", EXCHANGE_PERMISSIONS),
}


def denied_by_permissions(state: TenantState, method: str, path: str) -> GraphError | None:
    """Graph's 403 when every permission that allows this call is withheld; None otherwise."""
    if not state.withheld_permissions:
        return None
    for required_method, pattern, allowed in REQUIRED:
        if method == required_method and pattern.search(path):
            if set(allowed) <= state.withheld_permissions:
                error_type = ExchangeError if path.startswith("/adminapi/") else GraphError
                return error_type(403, "Authorization_RequestDenied",
                                  "Insufficient privileges to complete the operation.")
            return None
    return None


def _app(state: TenantState) -> dict[str, Any]:
    return state.application


def _principal_by_app_id(state: TenantState, app_id: str) -> dict[str, Any]:
    if app_id == _app(state).get("appId"):
        return _public_app(state)
    if app_id in RESOURCES:
        return RESOURCES[app_id]
    found = next((sp for sp in state.service_principals.values() if sp.get("appId") == app_id), None)
    if found is None:
        raise not_found(app_id)
    return found


# What the seed says about the app that a service principal does not show (its roles are read through memberOf).
_PRIVATE_APP_FIELDS = ("directoryRoles", "delegatedPermissions", "clientSecret", "identifierUri")


def _public_app(state: TenantState) -> dict[str, Any]:
    return {k: v for k, v in _app(state).items() if k not in _PRIVATE_APP_FIELDS and not k.startswith("_")}


def _assignments(state: TenantState) -> list[dict[str, Any]]:
    app = _app(state)
    rows = []
    for resource in RESOURCES.values():
        for role in resource["appRoles"]:
            if role["value"] in state.withheld_permissions:
                continue
            rows.append({"id": role_id(app["id"], role["value"]), "appRoleId": role["id"],
                         "principalId": app["id"], "principalType": "ServicePrincipal",
                         "principalDisplayName": app["displayName"], "resourceId": resource["id"],
                         "resourceDisplayName": resource["displayName"], "createdDateTime": "2026-01-01T00:00:00Z",
                         "deletedDateTime": None})
    return rows


def _own_principal(state: TenantState, key: str, by_app_id: bool) -> dict[str, Any]:
    app = _app(state)
    if key == (app.get("appId") if by_app_id else app.get("id")):
        return app
    resource_keys = set(RESOURCES) if by_app_id else {r["id"] for r in RESOURCES.values()}
    if key in resource_keys:  # Microsoft's own service principals: no app roles assigned to them here
        return {}
    raise not_found(key)


@routes.get("/v1.0/servicePrincipals(appId='{app}')")
async def principal_by_app_id(request: web.Request) -> web.Response:
    principal = _principal_by_app_id(state_of(request), request.match_info["app"])
    return graph_json({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals/$entity",
                       **select_fields(principal, request)})


@routes.get("/v1.0/servicePrincipals(appId='{app}')/appRoleAssignments")
@routes.get("/v1.0/servicePrincipals/{sp}/appRoleAssignments")
async def app_role_assignments(request: web.Request) -> web.Response:
    state = state_of(request)
    by_app_id = "app" in request.match_info
    principal = _own_principal(state, request.match_info["app" if by_app_id else "sp"], by_app_id)
    return collection("servicePrincipals('{id}')/appRoleAssignments", _assignments(state) if principal else [])


@routes.get("/v1.0/servicePrincipals/{sp}/transitiveMemberOf")
@routes.get("/v1.0/servicePrincipals/{sp}/memberOf")
async def principal_member_of(request: web.Request) -> web.Response:
    state = state_of(request)
    principal = _own_principal(state, request.match_info["sp"], by_app_id=False)
    readable = state.can_read_roles()
    roles = []
    for role in principal.get("directoryRoles", []):
        entry = {"@odata.type": "#microsoft.graph.directoryRole", "id": role["id"]}
        if readable:  # without a role-read permission Graph leaves out what the role is
            entry.update(roleTemplateId=role["roleTemplateId"], displayName=role["displayName"])
        roles.append(entry)
    return collection("directoryObjects", roles)


def _group(request: web.Request) -> dict[str, Any]:
    return existing(state_of(request).groups, request.match_info["group"])


@routes.get("/v1.0/groups/{group}")
async def get_group(request: web.Request) -> web.Response:
    group = {k: v for k, v in _group(request).items() if k != "members"}
    return graph_json({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups/$entity",
                       **select_fields({"securityEnabled": True, "mailEnabled": False, **group}, request)})


@routes.get("/v1.0/groups/{group}/members")
@routes.get("/v1.0/groups/{group}/transitiveMembers")
async def group_members(request: web.Request) -> web.Response:
    users = state_of(request).users
    members = [{"@odata.type": "#microsoft.graph.user", **select_fields(users[m], request)}
               for m in _group(request).get("members", []) if m in users]
    top = request.query.get("$top")
    if top and top.isdigit():
        members = members[:int(top)]
    return collection("directoryObjects", members)
