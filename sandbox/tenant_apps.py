"""Graph v1.0 app routes: service principals (with the recycle bin), consent grants, Teams apps, alerts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aiohttp import web

from sandbox.tenant_admin_consent import admin_consent_grant
from sandbox.tenant_http import (
    GRAPH_METADATA,
    GraphError,
    bad_request,
    collection,
    existing,
    graph_json,
    json_body,
    no_content,
    now_iso,
    parse_eq_filter,
    state_of,
)
from sandbox.tenant_users import graph_user

routes = web.RouteTableDef()

# --- Service principals and the directory recycle bin ------------------------------------------


def _service_principal(request: web.Request) -> dict[str, Any]:
    return existing(state_of(request).service_principals, request.match_info["sp"])


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


@routes.get("/v1.0/servicePrincipals")
async def list_service_principals(request: web.Request) -> web.Response:
    sps = list(state_of(request).service_principals.values())
    if expression := request.query.get("$filter"):
        clauses = parse_eq_filter(expression, {"id", "appId", "displayName"})
        sps = [sp for sp in sps if any(sp.get(k) == v for k, v in clauses)]
    return collection("servicePrincipals", sps)


@routes.get("/v1.0/servicePrincipals/{sp}")
async def get_service_principal(request: web.Request) -> web.Response:
    return graph_json({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals/$entity",
                       "accountEnabled": True, **_service_principal(request)})


@routes.patch("/v1.0/servicePrincipals/{sp}")
async def patch_service_principal(request: web.Request) -> web.Response:
    sp = _service_principal(request)
    body = await json_body(request)
    if set(body) - {"accountEnabled", "tags", "notes"}:
        raise bad_request("Only accountEnabled, tags and notes can be changed in the sandbox.")
    if "accountEnabled" in body and not isinstance(body["accountEnabled"], bool):
        raise bad_request("Invalid value specified for property 'accountEnabled' of resource 'ServicePrincipal'.")
    sp.update(body)
    return no_content()


@routes.delete("/v1.0/servicePrincipals/{sp}")
async def delete_service_principal(request: web.Request) -> web.Response:
    state, sp = state_of(request), _service_principal(request)
    # Deleting a service principal takes its consent grants with it; restoring brings them back.
    grants = [g for g in state.oauth2_grants.values() if g["clientId"] == sp["id"]]
    for grant in grants:
        del state.oauth2_grants[grant["id"]]
    del state.service_principals[sp["id"]]
    state.deleted_items[sp["id"]] = {"@odata.type": "#microsoft.graph.servicePrincipal", **sp,
                                     "deletedDateTime": now_iso(), "_grants": grants}
    return no_content()


def _deleted_item(request: web.Request) -> dict[str, Any]:
    return existing(state_of(request).deleted_items, request.match_info["item"])


@routes.get("/v1.0/directory/deletedItems/{item}")
async def get_deleted_item(request: web.Request) -> web.Response:
    return graph_json(_public(_deleted_item(request)))


@routes.post("/v1.0/directory/deletedItems/{item}/restore")
async def restore_deleted_item(request: web.Request) -> web.Response:
    state, item = state_of(request), _deleted_item(request)
    del state.deleted_items[item["id"]]
    restored = {k: v for k, v in _public(item).items() if k not in ("@odata.type", "deletedDateTime")}
    state.service_principals[item["id"]] = restored
    for grant in item["_grants"]:
        state.oauth2_grants[grant["id"]] = grant
    return graph_json({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects/$entity",
                       "@odata.type": item["@odata.type"], **restored})


# --- Delegated permission grants ---------------------------------------------------------------


@routes.get("/v1.0/oauth2PermissionGrants")
async def list_grants(request: web.Request) -> web.Response:
    state = state_of(request)
    grants = list(state.oauth2_grants.values())
    if own := admin_consent_grant(state):
        grants.append(own)
    if expression := request.query.get("$filter"):
        # Graph combines clauses with `and` (every part holds) and `or` (any clause of a part holds).
        for part in re.split(r"\s+and\s+", expression, flags=re.IGNORECASE):
            clauses = parse_eq_filter(part, {"principalId", "clientId", "resourceId", "consentType"})
            grants = [g for g in grants if any(g.get(k) == v for k, v in clauses)]
    return collection("oauth2PermissionGrants", grants)


@routes.get("/v1.0/users/{id}/oauth2PermissionGrants")
async def list_user_grants(request: web.Request) -> web.Response:
    user_id = graph_user(request)["id"]
    return collection("oauth2PermissionGrants",
                      [g for g in state_of(request).oauth2_grants.values() if g.get("principalId") == user_id])


def _grant(request: web.Request) -> dict[str, Any]:
    return existing(state_of(request).oauth2_grants, request.match_info["grant"])


@routes.get("/v1.0/oauth2PermissionGrants/{grant}")
async def get_grant(request: web.Request) -> web.Response:
    return graph_json(_grant(request))


@routes.delete("/v1.0/oauth2PermissionGrants/{grant}")
async def delete_grant(request: web.Request) -> web.Response:
    del state_of(request).oauth2_grants[_grant(request)["id"]]
    return no_content()


# --- Teams apps installed for a user -----------------------------------------------------------


@routes.get("/v1.0/users/{id}/teamwork/installedApps")
async def list_installed_apps(request: web.Request) -> web.Response:
    user_id = graph_user(request)["id"]
    expand = "teamsApp" in request.query.get("$expand", "").split(",")
    apps = state_of(request).teams_apps.get(user_id, [])
    items = [app if expand else {"id": app["id"]} for app in apps]
    return collection(f"users('{user_id}')/teamwork/installedApps", items)


@routes.delete("/v1.0/users/{id}/teamwork/installedApps/{install}")
async def uninstall_app(request: web.Request) -> web.Response:
    user_id = graph_user(request)["id"]
    install_id = request.match_info["install"]
    apps = state_of(request).teams_apps.get(user_id, [])
    for app in apps:
        if app["id"] == install_id:
            apps.remove(app)
            return no_content()
    raise GraphError(404, "NotFound", f"Installed app '{install_id}' was not found for user '{user_id}'.")


# --- Security alerts (v2) ----------------------------------------------------------------------

_UPDATED_AFTER = re.compile(r"lastUpdateDateTime\s+gt\s+(\S+)", re.IGNORECASE)
_ALERT_PATCHABLE = frozenset({"status", "classification", "determination", "assignedTo", "customDetails"})


def _parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip("'"))
    except ValueError:
        raise bad_request(f"The DateTimeOffset text '{value}' should be in format "
                          "'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?'.", code="BadRequest") from None


# The query options the v1.0 List alerts_v2 reference documents; Graph refuses others (no $orderby, $select).
_ALERT_QUERY_OPTIONS = frozenset({"$count", "$filter", "$skip", "$top"})
_OPTION_NAMES = {"$orderby": "OrderBy", "$select": "Select", "$expand": "Expand", "$search": "Search"}


def _count(request: web.Request, name: str) -> int:
    value = request.query.get(name, "0")
    if not value.isdigit():
        raise bad_request(f"Invalid value '{value}' for {name} query option.", code="BadRequest")
    return int(value)


@routes.get("/v1.0/security/alerts_v2")
async def list_alerts(request: web.Request) -> web.Response:
    state = state_of(request)
    for name in request.query:
        if name.startswith("$") and name.lower() not in _ALERT_QUERY_OPTIONS:
            option = _OPTION_NAMES.get(name.lower(), name[1:])
            raise bad_request(f"The query specified in the URI is not valid. Query option '{option}' is not "
                              "allowed. To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute "
                              "or QueryValidationSettings.", code="BadRequest")
    alerts = state.security_alerts
    # Only the one filter form Riposte polls with is understood; other filters are ignored.
    if (match := _UPDATED_AFTER.search(request.query.get("$filter", ""))) is not None:
        since = _parse_time(match.group(1))
        alerts = [a for a in alerts if _parse_time(a["lastUpdateDateTime"]) > since]
    # Newest first, as the reference says Graph lists them; a client must not count on any other order.
    alerts = sorted(alerts, key=lambda a: _parse_time(a["lastUpdateDateTime"]), reverse=True)
    skip, size = _count(request, "$skip"), state.alerts_page_size
    if "$top" in request.query:
        size = max(1, min(size, _count(request, "$top")))
    body: dict[str, Any] = {"@odata.context": f"{GRAPH_METADATA}#security/alerts_v2"}
    if request.query.get("$count", "").lower() == "true":
        body["@odata.count"] = len(alerts)
    body["value"] = alerts[skip:skip + size]
    if skip + size < len(alerts) or (state.alerts_repeat_next_link and skip):
        # The link carries the query on, as Graph's does; the knob hands back the link just followed (a stuck
        # cursor), which a client must notice rather than follow for ever.
        next_skip = skip if state.alerts_repeat_next_link and skip else skip + size
        body["@odata.nextLink"] = str(request.url.update_query({"$skip": str(next_skip)}))
    return graph_json(body)


def _alert(request: web.Request) -> dict[str, Any]:
    alert_id = request.match_info["alert"]
    for alert in state_of(request).security_alerts:
        if alert["id"] == alert_id:
            return alert
    raise GraphError(404, "NotFound", f"Alert '{alert_id}' was not found.")


@routes.get("/v1.0/security/alerts_v2/{alert}")
async def get_alert(request: web.Request) -> web.Response:
    return graph_json(_alert(request))


@routes.patch("/v1.0/security/alerts_v2/{alert}")
async def update_alert(request: web.Request) -> web.Response:
    alert = _alert(request)
    body = await json_body(request)
    if set(body) - _ALERT_PATCHABLE:
        raise bad_request(f"Properties {sorted(set(body) - _ALERT_PATCHABLE)} cannot be updated.", code="BadRequest")
    alert.update(body, lastUpdateDateTime=now_iso())
    return graph_json(alert)
