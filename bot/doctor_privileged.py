"""What `RIPOSTE_PRIVILEGED_ACTIONS` needs, for `python app.py doctor` (README: Privileged actions).

Delegated mode: the OAuth connection is set, and every delegated permission an enabled action declares
(`ActionSpec.delegated_scope`) is admin-consented for the connection's app: the `AllPrincipals`
`oAuth2PermissionGrant` on Microsoft Graph whose `clientId` is that app's service principal (Graph: "List
oauth2PermissionGrants", `$filter` eq on clientId and consentType). The app should then hold no Privileged
Authentication Administrator role. App mode: the app must hold that role, or Graph refuses actions on administrators.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote

from actions import ACTIONS
from actions.spec import PRIVILEGED_AUTH_ADMIN, PRIVILEGED_ROLE_TEMPLATES
from bot.access.policy import Policy
from bot.config import Settings
from bot.doctor_marks import FAIL, OK, WARN, graph_said
from bot.signin.rules import consent_url

if TYPE_CHECKING:
    from bot.doctor import Graph, Report

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
PRIVILEGED_AUTH_ADMIN_TEMPLATE = next(template for template, name in PRIVILEGED_ROLE_TEMPLATES.items()
                                      if name == PRIVILEGED_AUTH_ADMIN)
_SCOPE = re.compile(r"\b[A-Z][A-Za-z]*(?:[.-][A-Z][A-Za-z]*)+\b")


def delegated_needs(policy: Policy) -> dict[str, list[str]]:
    """Each delegated permission the enabled person-run actions declare → those actions, in a stable order."""
    needs: dict[str, list[str]] = {}
    for name, spec in ACTIONS.items():
        if policy.enabled(name) and (spec.delegated_admin_roles or spec.delegated_roles):
            for scope in dict.fromkeys(_SCOPE.findall(spec.delegated_scope)):
                needs.setdefault(scope, []).append(name)
    return needs


async def check_privileged_mode(report: Report, graph: Graph, settings: Settings, policy: Policy,
                                held_roles: set[str] | None) -> None:
    if settings.delegated:
        await _delegated(report, graph, settings, policy, held_roles)
    else:
        _app_mode(report, policy, held_roles)


def _person_run(policy: Policy) -> str:
    return ", ".join(name for name, spec in ACTIONS.items()
                     if policy.enabled(name) and (spec.delegated_admin_roles or spec.delegated_roles))


def _app_mode(report: Report, policy: Policy, held_roles: set[str] | None) -> None:
    users = _person_run(policy)
    if held_roles is None:
        report.line(WARN, f"RIPOSTE_PRIVILEGED_ACTIONS=app: directory role {PRIVILEGED_AUTH_ADMIN} not checked, "
                          "Graph did not say which roles the app holds",
                    "confirm in Entra admin center › Roles and admins")
    elif PRIVILEGED_AUTH_ADMIN_TEMPLATE in held_roles:
        report.line(OK, f"RIPOSTE_PRIVILEGED_ACTIONS=app: the app holds {PRIVILEGED_AUTH_ADMIN} "
                        f"(for {users} on administrators)")
    else:
        report.line(FAIL, f"RIPOSTE_PRIVILEGED_ACTIONS=app but the app does not hold {PRIVILEGED_AUTH_ADMIN}: Graph "
                          f"refuses {users} on administrators",
                    f"Entra admin center › Roles and admins › {PRIVILEGED_AUTH_ADMIN} › Add assignments › the app, "
                    "or RIPOSTE_PRIVILEGED_ACTIONS=delegated (the default)")


async def _delegated(report: Report, graph: Graph, settings: Settings, policy: Policy,
                     held_roles: set[str] | None) -> None:
    needs = delegated_needs(policy)
    if held_roles is not None and PRIVILEGED_AUTH_ADMIN_TEMPLATE in held_roles:
        report.line(WARN, f"the app still holds {PRIVILEGED_AUTH_ADMIN}, which delegated mode does not need: a "
                          "leaked app secret could act on every administrator",
                    f"Entra admin center › Roles and admins › {PRIVILEGED_AUTH_ADMIN} › remove the app")
    if not needs:
        return
    users = _person_run(policy)
    if not settings.oauth_connection:
        report.line(FAIL, f"RIPOSTE_PRIVILEGED_ACTIONS=delegated but RIPOSTE_OAUTH_CONNECTION is not set: {users} "
                          "are greyed out where they need a person's sign-in",
                    "set RIPOSTE_OAUTH_CONNECTION to the Azure Bot's OAuth connection name, or "
                    "RIPOSTE_PRIVILEGED_ACTIONS=app")
    else:
        report.line(OK, f"RIPOSTE_OAUTH_CONNECTION is set ({settings.oauth_connection})")
    app_id = settings.oauth_app_id or settings.microsoft_app_id
    if not app_id:
        report.line(WARN, "delegated consent not checked: neither RIPOSTE_OAUTH_APP_ID nor MicrosoftAppId is set",
                    "set RIPOSTE_OAUTH_APP_ID to the OAuth connection's app registration")
        return
    status, client = await graph.get(f"/servicePrincipals(appId='{quote(app_id)}')?$select=id,displayName")
    if status != 200 or not client.get("id"):
        report.line(FAIL, f"delegated consent: no service principal for the OAuth app {app_id} "
                          f"({graph_said(status, client)}): nobody has consented to it in this tenant",
                    f"a Global Administrator opens {consent_url(settings)}")
        return
    _, resource = await graph.get(f"/servicePrincipals(appId='{GRAPH_APP_ID}')?$select=id")
    query = quote(f"clientId eq '{client['id']}' and consentType eq 'AllPrincipals'")
    status, body = await graph.get(f"/oauth2PermissionGrants?$filter={query}")
    if status != 200:
        report.line(WARN, f"delegated consent of app {app_id} not checked: {graph_said(status, body)}",
                    "grant Directory.Read.All (application) to read the consent grants")
        return
    consented = {scope for grant in body.get("value", []) if isinstance(grant, dict)
                 and grant.get("resourceId") in {resource.get("id") or grant.get("resourceId")}
                 for scope in str(grant.get("scope") or "").split()}
    missing = {scope: actions for scope, actions in needs.items() if scope not in consented}
    for scope, actions in needs.items():
        if scope not in missing:
            report.line(OK, f"delegated permission {scope} is admin-consented — for {', '.join(actions)}")
    for scope, actions in missing.items():
        report.line(FAIL, f"delegated permission {scope} is not admin-consented for app {app_id}: sign-in fails "
                          f"(AADSTS65001) for {', '.join(actions)}",
                    f"a Global Administrator opens {consent_url(settings)}")
