"""`python app.py doctor`: checks a configuration against the real services, one line per check.

✓ holds, ✗ fails (with what to do), ! worth knowing. Exit 0 only when nothing the actions need is missing. It
never prints a secret: only ids, names, and what Graph, Exchange, Entra and Redis answered.

The Graph permissions come from each action's `permission` field (actions/permissions.py names the shared ones),
so doctor and the README table cannot drift apart; actions the policy file switches off (`enabled = false`) are
left out, so what only they need is not asked for. Granted permissions are read from the app's service principal
(`appRoleAssignments`), resolved against each resource's `appRoles`; where a harmless read exists for a
permission, doctor also makes it, since a consent can be listed yet not be in force yet.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import quote

import aiohttp
from azure.core.credentials_async import AsyncTokenCredential
from redis.exceptions import RedisError

from actions import ACTIONS
from actions.credentials import CredentialError, MsalClientCredential
from actions.errors import ServiceError
from actions.exchange import ExchangeAdmin
from actions.permissions import CHECK_MEMBER_GROUPS
from actions.spec import PRIVILEGED_ROLE_TEMPLATES
from bot.access.enabled_actions import permissions
from bot.access.policy import Policy, PolicyError, default_policy, load_policy
from bot.audit.health import persistence
from bot.config import Settings
from bot.doctor_marks import FAIL, OK
from bot.doctor_marks import WARN as WARN  # app.py prints it
from bot.doctor_marks import graph_said as _graph_said
from bot.doctor_privileged import check_privileged_mode
from bot.intake.alert_channel import ALERT_CHANNEL_KEY
from bot.logs import secret_values
from bot.state.store import connect_redis

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
EXCHANGE_PERMISSION = "Exchange.ManageAsApp"
_PERMISSION = re.compile(r"\b[A-Z][A-Za-z]*(?:[.-][A-Z][A-Za-z]*)+\b")
_ROLE = re.compile(r"\b([A-Z][A-Za-z]*(?: [A-Z][A-Za-z]*)*) role\b")
# A harmless read per permission (path below /v1.0): proves the consent is in force, not only listed.
HARMLESS_READS = {
    "User.Read.All": "/users?$top=1&$select=id",
    "Policy.Read.All": "/identity/conditionalAccess/policies?$top=1&$select=id",
    "Application.Read.All": "/servicePrincipals?$top=1&$select=id",
    "Directory.Read.All": "/oauth2PermissionGrants?$top=1",
    "IdentityRiskyUser.ReadWrite.All": "/identityProtection/riskyUsers?$top=1",
    "SecurityAlert.Read.All": "/security/alerts_v2?$top=1",
}
ROLE_TEMPLATES = {name: template for template, name in PRIVILEGED_ROLE_TEMPLATES.items()}


@dataclass
class Need:
    """One permission (any of `names`) or directory role, and the actions that need it."""

    names: tuple[str, ...]
    role: bool = False
    used_by: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return " or ".join(self.names)


def needs_of(permission: str) -> list[tuple[tuple[str, ...], bool]]:
    """`permission` (an ActionSpec's free text: "A + B", "X (or Y) to list; Z", "P + Exchange Administrator role")
    as its requirements: each a tuple of alternative permission names, or a directory role."""
    found: list[tuple[tuple[str, ...], bool]] = []
    for term in re.split(r"\s*(?:;|\+|\s/\s)\s*", permission):
        names = tuple(dict.fromkeys(_PERMISSION.findall(_ROLE.sub("", term))))
        if names:
            found.append((names, False))
        found.extend(((role,), True) for role in _ROLE.findall(term))
    return found


def required(settings: Settings, actions: Mapping[str, str] | None = None) -> list[Need]:
    """What the enabled actions (name → permission text; all of them unless given) and the bot itself need, merged,
    in a stable order."""
    merged: dict[tuple[tuple[str, ...], bool], Need] = {}

    def add(permission: str, user: str) -> None:
        for names, role in needs_of(permission):
            need = merged.setdefault((names, role), Need(names, role))
            if user not in need.used_by:
                need.used_by.append(user)

    add(CHECK_MEMBER_GROUPS, "who may click (group membership)")
    for name, permission in (actions if actions is not None else permissions(default_policy())).items():
        add(permission, name)
    if settings.poll_alerts_seconds > 0:
        add("SecurityAlert.Read.All", "alert polling (RIPOSTE_POLL_ALERTS_SECONDS)")
    return list(merged.values())


def _satisfies(granted: set[str], name: str) -> bool:
    """Granted as is, or through its ReadWrite form (Graph accepts a higher privilege for a read)."""
    return name in granted or name.replace(".Read.", ".ReadWrite.") in granted or (
        name.endswith(".Read") and f"{name}Write" in granted)


class Report:
    def __init__(self, out: TextIO, secrets: Iterable[str] = ()) -> None:
        self.out = out
        self.failures = 0
        self.warnings = 0
        self._secrets = tuple(secrets)  # masked should any error text ever echo one

    def line(self, mark: str, text: str, fix: str = "") -> None:
        if mark == FAIL:
            self.failures += 1
        elif mark == WARN:
            self.warnings += 1
        line = f"{mark} {text}" + (f" → {fix}" if fix else "")
        for secret in self._secrets:
            line = line.replace(secret, "***")
        self.out.write(line + "\n")
        self.out.flush()


class Graph:
    """Plain GETs to Graph with the app's token: doctor reads JSON and status codes, nothing more."""

    def __init__(self, session: aiohttp.ClientSession, endpoint: str, token: str) -> None:
        self._session, self._base, self._token = session, f"{endpoint.rstrip('/')}/v1.0", token

    async def get(self, path: str) -> tuple[int, dict[str, Any]]:
        try:
            async with self._session.get(self._base + path,
                                         headers={"Authorization": f"Bearer {self._token}"}) as response:
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = {}
                return response.status, body if isinstance(body, dict) else {}
        except (aiohttp.ClientError, TimeoutError) as error:
            return 0, {"error": {"code": type(error).__name__, "message": "no answer"}}


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0][:300]


async def _token(report: Report, settings: Settings, credential: AsyncTokenCredential | None) -> str | None:
    scope = f"{settings.graph_endpoint.rstrip('/')}/.default"
    own = credential is None
    if credential is None:
        if not settings.has_graph_credentials:
            report.line(FAIL, "Graph credentials: not set",
                        "set GRAPH_TENANT_ID, GRAPH_CLIENT_ID and GRAPH_CLIENT_SECRET "
                        "(or GRAPH_CLIENT_CERTIFICATE_PATH)")
            return None
        credential = MsalClientCredential(
            tenant_id=settings.graph_tenant_id, client_id=settings.graph_client_id,
            authority_host=settings.authority_host, client_secret=settings.graph_client_secret.get_secret_value(),
            certificate_path=settings.graph_client_certificate_path)
    try:
        token = await credential.get_token(scope)
    except CredentialError as error:
        report.line(FAIL, f"Graph token: {error}",
                    "check GRAPH_TENANT_ID, GRAPH_CLIENT_ID and the secret or certificate (not expired?) in Entra "
                    "admin center › App registrations › Certificates & secrets")
        return None
    except Exception as error:  # msal's and requests' errors: an unknown tenant, an unreachable authority
        report.line(FAIL, f"Graph token: no sign-in at {settings.authority_host}/{settings.graph_tenant_id}: "
                          f"{type(error).__name__}: {_first_line(error)}",
                    "check GRAPH_TENANT_ID, AUTHORITY_HOST and the network path to it")
        return None
    finally:
        if own:
            await credential.close()
    how = "client certificate" if settings.graph_client_certificate_path else "client secret"
    if not own:
        how = "the given credential"
    report.line(OK, f"Graph token: app {settings.graph_client_id or '(sandbox)'} signed in to tenant "
                    f"{settings.graph_tenant_id} with {how}")
    return token.token


async def _granted(report: Report, graph: Graph, app_id: str) -> tuple[set[str] | None, str | None]:
    """The app's granted application permission names (every resource) and its service principal id."""
    status, principal = await graph.get(f"/servicePrincipals(appId='{quote(app_id)}')?$select=id,appId,displayName")
    if status != 200:
        report.line(FAIL, f"service principal of app {app_id}: {_graph_said(status, principal)}",
                    "the app needs a service principal in this tenant (an admin consents to it once), and "
                    "Application.Read.All to read it")
        return None, None
    status, body = await graph.get(f"/servicePrincipals(appId='{quote(app_id)}')/appRoleAssignments")
    if status != 200:
        needing = ", ".join(name for name, spec in ACTIONS.items() if "Application.Read.All" in spec.permission)
        report.line(FAIL, f"granted permissions of app {app_id} could not be read: {_graph_said(status, body)}",
                    f"grant Application.Read.All ({needing or 'no action'} needs it too); the lines below then say "
                    "more")
        return None, principal.get("id")
    roles: dict[str, str] = {}
    for app in (GRAPH_APP_ID, EXCHANGE_APP_ID):
        status, resource = await graph.get(f"/servicePrincipals(appId='{app}')?$select=id,appId,appRoles")
        for role in resource.get("appRoles", []) if status == 200 else []:
            roles[str(role.get("id"))] = str(role.get("value"))
    granted = {roles[str(row.get("appRoleId"))] for row in body.get("value", []) if str(row.get("appRoleId")) in roles}
    report.line(OK, f"service principal of app {app_id} ({principal.get('displayName', '')}): "
                    f"{len(granted)} application permission(s) granted")
    return granted, principal.get("id")


async def _app_roles(graph: Graph, principal_id: str | None) -> set[str] | None:
    """Template ids of the directory roles the app holds; None when Graph will not say."""
    if not principal_id:
        return None
    status, body = await graph.get(f"/servicePrincipals/{principal_id}/transitiveMemberOf")
    if status != 200:
        return None
    roles = [item for item in body.get("value", []) if item.get("@odata.type") == "#microsoft.graph.directoryRole"]
    if any(not role.get("roleTemplateId") for role in roles):
        return None  # without a role-read permission Graph hides which roles these are
    return {str(role["roleTemplateId"]) for role in roles}


async def _permissions(report: Report, graph: Graph, settings: Settings, app_id: str,
                       policy: Policy) -> set[str] | None:
    """Checks the application permissions and directory roles; returns the roles the app holds (None: unknown)."""
    granted, principal_id = await _granted(report, graph, app_id)
    held_roles = await _app_roles(graph, principal_id)
    for need in required(settings, permissions(policy, settings.delegated)):
        used_by = ", ".join(need.used_by)
        if need.role:
            template = ROLE_TEMPLATES.get(need.names[0])
            if held_roles is None or template is None:
                report.line(WARN, f"directory role {need.label} (for {used_by}): not checked, Graph did not say "
                                  "which roles the app holds", "confirm in Entra admin center › Roles and admins")
            elif template in held_roles:
                report.line(OK, f"directory role {need.label} (for {used_by})")
            else:
                report.line(FAIL, f"directory role {need.label} is not assigned to the app (needed by {used_by})",
                            f"Entra admin center › Roles and admins › {need.label} › Add assignments › the app")
            continue
        if need.names == (EXCHANGE_PERMISSION,):
            resource = "Office 365 Exchange Online"
        else:
            resource = "Microsoft Graph"
        if granted is None:
            held = None
        else:
            held = next((name for name in need.names if _satisfies(granted, name)), None)
        read = next((HARMLESS_READS[name] for name in need.names if name in HARMLESS_READS), None)
        if granted is not None and held is None:
            report.line(FAIL, f"permission {need.label} is not granted (needed by {used_by})",
                        f"App registrations › API permissions › Add › {resource} › Application permissions › "
                        f"{need.names[0]}, then Grant admin consent")
            continue
        if read is not None:
            status, body = await graph.get(read)
            if status == 403:
                report.line(FAIL, f"permission {need.label}: Graph refused a read ({_graph_said(status, body)}) "
                                  f"(needed by {used_by})",
                            f"grant {need.names[0]} ({resource}, application) and admin consent; a fresh grant "
                            "takes a few minutes to apply")
                continue
            if status != 200:
                report.line(WARN, f"permission {need.label}: the read to confirm it failed "
                                  f"({_graph_said(status, body)})")
                continue
        if granted is None and read is None:
            report.line(WARN, f"permission {need.label} (for {used_by}): not checked, the grants could not be read")
        else:
            report.line(OK, f"permission {need.label}" + (" (a read succeeded)" if read else "")
                        + f" — for {used_by}")
    return held_roles


async def _groups(report: Report, graph: Graph, settings: Settings, policy: Policy) -> None:
    approvals = any(rule.approval and rule.enabled for rule in policy.rules.values())
    for setting, ids, required_here in (
        ("RIPOSTE_RESPONDER_GROUPS", settings.responder_groups, True),
        ("RIPOSTE_APPROVER_GROUPS", settings.approver_groups, approvals),
        ("RIPOSTE_ADMIN_RESPONDER_GROUPS", settings.admin_responder_groups, True),
    ):
        if not ids:
            report.line(FAIL if required_here else WARN, f"{setting} is not set",
                        f"set {setting} to the Entra group object id(s) of the people who may click")
            continue
        for group_id in ids:
            status, group = await graph.get(f"/groups/{quote(group_id)}?$select=id,displayName")
            if status != 200:
                report.line(FAIL, f"{setting}: group {group_id}: {_graph_said(status, group)}",
                            "use the group's object id (Entra admin center › Groups › the group › Object ID)")
                continue
            status, members = await graph.get(f"/groups/{quote(group_id)}/transitiveMembers?$top=1&$select=id")
            name = group.get("displayName", "")
            if status != 200:
                report.line(FAIL, f"{setting}: members of {name} ({group_id}) could not be read: "
                                  f"{_graph_said(status, members)}", "grant GroupMember.Read.All")
            elif not members.get("value"):
                report.line(FAIL, f"{setting}: group {name} ({group_id}) is empty: nobody can click",
                            "add the responders to the group")
            else:
                report.line(OK, f"{setting}: group {name} ({group_id}) exists and has members")


async def _protected_users(report: Report, graph: Graph, settings: Settings) -> None:
    if not settings.protected_users:
        report.line(WARN, "RIPOSTE_PROTECTED_USERS is not set: no break-glass account is excluded from the "
                          "sign-in blocks Riposte creates", "list the break-glass accounts' UPNs or object ids")
        return
    for user in settings.protected_users:
        status, body = await graph.get(f"/users/{quote(user)}?$select=id,userPrincipalName")
        if status == 200:
            report.line(OK, f"protected user {user} exists ({body.get('id')})")
        else:
            report.line(FAIL, f"protected user {user}: {_graph_said(status, body)}",
                        "fix RIPOSTE_PROTECTED_USERS: a typo here leaves a break-glass account unprotected")


async def _exchange(report: Report, settings: Settings, credential: AsyncTokenCredential | None,
                    policy: Policy) -> None:
    users = [name for name, permission in permissions(policy).items() if EXCHANGE_PERMISSION in permission]
    if not users:
        return
    own = credential is None
    if credential is None:
        if not settings.has_graph_credentials:
            return
        credential = MsalClientCredential(
            tenant_id=settings.graph_tenant_id, client_id=settings.graph_client_id,
            authority_host=settings.authority_host, client_secret=settings.graph_client_secret.get_secret_value(),
            certificate_path=settings.graph_client_certificate_path)
    exchange = ExchangeAdmin(credential, settings.graph_tenant_id, endpoint=settings.exchange_endpoint)
    try:
        output, _ = await exchange.invoke("Get-AcceptedDomain", {})
        report.line(OK, f"Exchange Online: Get-AcceptedDomain answered ({len(output)} domain(s))")
    except (ServiceError, CredentialError) as error:
        report.line(FAIL, f"Exchange Online: Get-AcceptedDomain failed: {error} (needed by {', '.join(users)})",
                    "grant Office 365 Exchange Online › Exchange.ManageAsApp and assign the app the Exchange "
                    "Administrator role")
    except Exception as error:
        report.line(FAIL, f"Exchange Online could not be reached ({type(error).__name__})",
                    "check EXCHANGE_ENDPOINT and the network path")
    finally:
        await exchange.aclose()
        if own:
            await credential.close()


async def _redis(report: Report, settings: Settings) -> None:
    if not settings.redis_url:
        mark = WARN if settings.local_mode else FAIL
        report.line(mark, "REDIS_URL is not set" + (": the in-process stand-in keeps state only while the process "
                                                     "runs" if settings.local_mode else ""),
                    "set REDIS_URL to a Redis with AOF on")
        return
    redis = connect_redis(settings.redis_url)
    try:
        await redis.ping()
    except (RedisError, OSError) as error:
        report.line(FAIL, f"Redis does not answer ({type(error).__name__})", "check REDIS_URL and that Redis runs")
        await redis.aclose()
        return
    try:
        report.line(OK, "Redis answers")
        state = await persistence(redis)
        if "error" in state:
            report.line(WARN, f"Redis persistence unknown: {state['error']}")
        elif not state["aof_enabled"]:
            report.line(WARN, "Redis AOF is off: the audit trail and queued jobs since the last snapshot are lost in "
                              "a crash", "run Redis with appendonly yes, appendfsync everysec")
        else:
            report.line(OK, "Redis AOF is on")
        channel = settings.alert_channel or await redis.get(ALERT_CHANNEL_KEY)
    finally:
        await redis.aclose()
    if channel:
        report.line(OK, "alert channel is set" + ("" if settings.alert_channel else " (chosen in chat)"))
    else:
        report.line(FAIL, "no alert channel: alerts are refused (409)",
                    "set RIPOSTE_ALERT_CHANNEL, or type `use this channel for alerts` in the channel")


async def _bot_identity(report: Report, settings: Settings) -> None:
    if not settings.microsoft_app_id:
        report.line(WARN, "MicrosoftAppId is not set: no Bot Framework identity (local or unauthenticated test only)")
        return
    credential = MsalClientCredential(
        tenant_id=settings.microsoft_app_tenant_id or "botframework.com", client_id=settings.microsoft_app_id,
        authority_host=settings.authority_host, client_secret=settings.microsoft_app_password.get_secret_value())
    try:
        await credential.get_token(BOT_FRAMEWORK_SCOPE)
        report.line(OK, f"Bot Framework token: bot {settings.microsoft_app_id} ({settings.app_type}) signed in")
    except CredentialError as error:
        report.line(FAIL, f"Bot Framework token: {error}",
                    "check MicrosoftAppId, MicrosoftAppPassword, MicrosoftAppTenantId and MicrosoftAppType against "
                    "the Azure Bot resource")
    except Exception as error:
        report.line(FAIL, f"Bot Framework token: the authority could not be reached ({type(error).__name__})")
    finally:
        await credential.close()


async def run(settings: Settings, *, out: TextIO | None = None, credential: AsyncTokenCredential | None = None,
              app_id: str = "", configured: Settings | None = None) -> int:
    """Check everything; 0 when nothing an action needs is missing, 1 otherwise. `credential` replaces the msal
    one (the local sandbox); `app_id` names the app when GRAPH_CLIENT_ID does not; `configured`: the settings as
    given, when `settings` were rewritten to point at the sandbox."""
    report = Report(out or sys.stdout, secret_values(configured or settings))
    problem = (configured or settings).startup_problem()
    if problem:
        report.line(FAIL, f"configuration: {problem}")
    else:
        report.line(OK, "configuration: the bot would start with these settings")
    policy = _policy(report, (configured or settings).policy_file)
    token = await _token(report, settings, credential)
    app_id = app_id or settings.graph_client_id
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        if token is not None:
            graph = Graph(session, settings.graph_endpoint, token)
            held_roles = await _permissions(report, graph, settings, app_id, policy)
            await check_privileged_mode(report, graph, settings, policy, held_roles)
            await _groups(report, graph, settings, policy)
            await _protected_users(report, graph, settings)
        else:
            report.line(FAIL, "permissions, groups and protected users: not checked without a Graph token")
    await _exchange(report, settings, credential, policy)
    await _redis(report, settings)
    await _bot_identity(report, settings)
    verdict = OK if not report.failures else FAIL
    report.out.write(f"{verdict} {report.failures} problem(s), {report.warnings} warning(s)\n")
    return 1 if report.failures else 0


def _policy(report: Report, path: str) -> Policy:
    """The policy file's actions: what is switched off is not asked for. A file Riposte would refuse is a red line
    (the checks then assume the built-in policy)."""
    try:
        policy = load_policy(path)
    except PolicyError as error:
        report.line(FAIL, f"policy file: {error}", "fix RIPOSTE_POLICY_FILE; Riposte will not start with it")
        return default_policy()
    if policy.disabled:
        report.line(WARN, f"switched off by the policy file (enabled = false), so what only they need is not checked: "
                          f"{', '.join(sorted(policy.disabled))}")
    return policy


LocalRun = Callable[[Settings], Coroutine[Any, Any, int]]


def main(argv: list[str], run_local: LocalRun) -> int:
    """`run_local` checks the built-in sandbox in local mode: app.py starts it (production code never imports it)."""
    parser = argparse.ArgumentParser(prog="python app.py doctor", description="Check this configuration against "
                                     "Entra, Graph, Exchange Online, Redis and the Bot Framework.")
    parser.parse_args(argv)
    settings = Settings()
    if settings.local_mode:
        return asyncio.run(run_local(settings))
    return asyncio.run(run(settings))
