"""The sandbox tenant's mutable state: directory, mailboxes, policies, plus what it was asked to do."""

from __future__ import annotations

import copy
import hashlib
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web

from sandbox.faults import Fault, Faults

SANDBOX_GRAPH_TOKEN = "riposte-sandbox-token"
ALERTS_PAGE_SIZE = 1000

# Graph gives every user's password method this fixed id.
PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"

# Application permissions any one of which lets the app see which directory roles a user holds.
ROLE_READ_PERMISSIONS = frozenset({"RoleManagement.Read.Directory", "RoleManagement.ReadWrite.Directory",
                                   "RoleManagement.Read.All", "Directory.Read.All", "Directory.ReadWrite.All"})

# Reads that go over POST; they change nothing, so mutations() leaves them out.
_READ_ONLY_POSTS = re.compile(r"/users/[^/]+/(checkMemberGroups|checkMemberObjects|getMemberGroups)$|/oauth2/")


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    cmdlet: str | None = None
    anchor: str | None = None  # an Exchange call's X-AnchorMailbox: which mailbox Exchange routed it to
    at: float = field(default_factory=time.time)  # when it arrived (epoch seconds): rates can be measured
    caller: str = ""  # whose token: "app", or the signed-in person's UPN (a delegated token); "" before the check

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DelegatedGrant:
    """What a delegated access token stands for: a person, the app that asked (on their behalf), the scopes."""

    user_id: str
    client_id: str
    scopes: frozenset[str]


def _default_mailbox_settings() -> dict[str, Any]:
    return {
        "timeZone": "UTC",
        "userPurpose": "user",
        "language": {"locale": "en-US", "displayName": "English (United States)"},
        "automaticRepliesSetting": {"status": "disabled", "externalAudience": "all",
                                    "internalReplyMessage": "", "externalReplyMessage": ""},
    }


# Every mailbox has these folders; Graph also finds them by these well-known names, whatever the locale.
_DEFAULT_FOLDERS = {"inbox": "Inbox", "archive": "Archive", "deleteditems": "Deleted Items",
                    "junkemail": "Junk Email", "conversationhistory": "Conversation History",
                    "sentitems": "Sent Items", "drafts": "Drafts"}


def _default_folders(user_id: str) -> list[dict[str, Any]]:
    """Opaque, stable ids shaped like Exchange's (real ones are long base64 entry ids)."""
    return [
        {"id": "AQMkAD" + hashlib.sha256(f"{user_id}/{name}".encode()).hexdigest()[:48] + "AAAA==",
         "displayName": display, "wellKnownName": name}
        for name, display in _DEFAULT_FOLDERS.items()
    ]


class TenantState:
    """Everything the tenant knows. Seed-shaped dicts, keyed by object id where Graph has one."""

    def __init__(self, seed: dict[str, Any]) -> None:
        self._seed = copy.deepcopy(seed)
        self.requests: list[RecordedRequest] = []
        self.faults = Faults()
        # Survives reset(): a running bot keeps its cached token across test cases.
        self.issued_tokens: set[str] = set()
        # Delegated mode (sandbox/tenant_signin.py): tokens issued for a person, Teams' single-sign-on tokens (what
        # the Teams client holds for the bot's app id URI), and authorization codes of the sign-in page. Kept across
        # reset() too, as the token service caches what it was given.
        self.delegated_tokens: dict[str, DelegatedGrant] = {}
        self.sso_tokens: dict[str, str] = {}  # token → the person's object id
        self.auth_codes: dict[str, DelegatedGrant] = {}
        self.exchange_page_size = 1000  # Exchange's largest page; tests lower it to see paging
        self.exchange_pages: dict[str, list[dict[str, Any]]] = {}  # the rest of a paged cmdlet output, by token
        # The app holds every application permission but these (tests withhold some to see Graph's answer).
        self.withheld_permissions: set[str] = set()
        self.alerts_page_size = ALERTS_PAGE_SIZE  # security alerts per page at most; tests lower it to see paging
        self.alerts_repeat_next_link = False  # a stuck cursor: a second page's @odata.nextLink is its own URL
        self._load()

    def _load(self) -> None:
        seed = copy.deepcopy(self._seed)
        self.tenant: dict[str, Any] = seed["tenant"]
        self.users: dict[str, dict[str, Any]] = {}
        self.mailboxes: dict[str, dict[str, Any]] = {}  # Exchange side: forwarding and FullAccess
        self.mailbox_settings: dict[str, dict[str, Any]] = {}
        self.inbox_rules: dict[str, list[dict[str, Any]]] = {}
        self.mail_folders: dict[str, list[dict[str, Any]]] = {}
        self.auth_methods: dict[str, list[dict[str, Any]]] = {}
        # user id → the method id that is their default sign-in method (Graph will not delete it while others exist)
        self.default_methods: dict[str, str] = {}
        self.teams_apps: dict[str, list[dict[str, Any]]] = {}
        for raw in seed.get("users", []):
            self._load_user(raw)
        self.groups = _by_id(seed.get("groups", []))
        self.directory_roles = _by_id(seed.get("directoryRoles", []))
        self.ca_policies = _by_id(seed.get("conditionalAccessPolicies", []))
        self.service_principals = _by_id(seed.get("servicePrincipals", []))
        self.oauth2_grants = _by_id(seed.get("oauth2PermissionGrants", []))
        self.risky_users = _by_id(seed.get("riskyUsers", []))
        self.deleted_items: dict[str, dict[str, Any]] = {}
        self.transport_rules: list[dict[str, Any]] = seed.get("transportRules", [])
        self.security_alerts: list[dict[str, Any]] = seed.get("securityAlerts", [])
        # Riposte's own app registration (its service principal and directory roles): what doctor inspects.
        self.application: dict[str, Any] = seed.get("application", {})
        # The delegated permissions a Global Administrator consented to for the app (all it asks for, to begin with).
        self.consented_scopes: set[str] = set(self.application.get("delegatedPermissions", []))

    def _load_user(self, raw: dict[str, Any]) -> None:
        user = {"jobTitle": None, "mail": None, "onPremisesSyncEnabled": None, "userType": "Member", **raw}
        uid: str = user["id"]
        mailbox = user.pop("mailbox", None)
        default_methods = [{"id": PASSWORD_METHOD_ID, "@odata.type": "#microsoft.graph.passwordAuthenticationMethod"}]
        self.auth_methods[uid] = user.pop("authenticationMethods", default_methods)
        if default := user.pop("defaultAuthenticationMethod", None):
            self.default_methods[uid] = default
        self.teams_apps[uid] = user.pop("teamsApps", [])
        self.users[uid] = user
        if mailbox is None:  # no Exchange Online mailbox (guest, cloud-only admin, on-prem)
            return
        self.inbox_rules[uid] = mailbox.pop("inboxRules", [])
        self.mail_folders[uid] = _default_folders(uid) + mailbox.pop("folders", [])
        self.mailbox_settings[uid] = {**_default_mailbox_settings(), **mailbox.pop("settings", {})}
        self.mailboxes[uid] = {
            "forwardingSmtpAddress": mailbox.get("forwardingSmtpAddress"),
            "forwardingAddress": mailbox.get("forwardingAddress"),
            "deliverToMailboxAndForward": bool(mailbox.get("deliverToMailboxAndForward", False)),
            "fullAccess": list(mailbox.get("fullAccess", [])),
        }

    def seed_users(self) -> list[dict[str, Any]]:
        """The users as seeded (with their mailboxes' seeded inbox rules): what an attacker may re-create."""
        return copy.deepcopy(list(self._seed.get("users", [])))

    def reset(self) -> None:
        """Back to the seed; forget requests and faults (issued tokens stay valid)."""
        self.requests.clear()
        self.faults.clear()
        self.exchange_page_size = 1000
        self.exchange_pages.clear()
        self.withheld_permissions.clear()
        self.alerts_page_size = ALERTS_PAGE_SIZE
        self.alerts_repeat_next_link = False
        self._load()

    # --- lookups -------------------------------------------------------------------------------

    def find_user(self, id_or_upn: str, *, by_mail: bool = True) -> dict[str, Any] | None:
        """By object id or UPN (or mail, unless by_mail=False as Graph's /users/{id} is), ignoring case."""
        key = id_or_upn.lower()
        for user in self.users.values():
            names = [user["id"], user["userPrincipalName"]] + ([user.get("mail")] if by_mail else [])
            if any(name and name.lower() == key for name in names):
                return user
        return None

    def group_ids_of(self, user_id: str) -> list[str]:
        return [gid for gid, group in self.groups.items() if user_id in group.get("members", [])]

    def role_ids_of(self, user_id: str) -> list[str]:
        return [rid for rid, role in self.directory_roles.items() if user_id in role.get("members", [])]

    def can_read_roles(self) -> bool:
        return not ROLE_READ_PERMISSIONS <= self.withheld_permissions

    def accepts_token(self, token: str) -> bool:
        return bool(token) and (token == SANDBOX_GRAPH_TOKEN or token in self.issued_tokens
                                or token in self.delegated_tokens)

    def role_templates_of(self, user_id: str) -> set[str]:
        return {str(self.directory_roles[rid].get("roleTemplateId")) for rid in self.role_ids_of(user_id)}

    def app_role_templates(self) -> set[str]:
        return {str(role.get("roleTemplateId")) for role in self.application.get("directoryRoles", [])}

    def writes(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method != "GET"]

    def mutations(self) -> list[RecordedRequest]:
        """writes() minus token requests, POST-shaped reads (checkMemberGroups) and Exchange Get-* cmdlets."""
        return [r for r in self.writes()
                if not _READ_ONLY_POSTS.search(r.path) and not (r.cmdlet or "").lower().startswith("get-")]

    # --- faults --------------------------------------------------------------------------------

    def add_fault(self, method: str | None = None, path_regex: str = ".*", status: int = 500,
                  times: int | None = 1, retry_after: str | float | None = None, code: str | None = None,
                  message: str | None = None, cmdlet: str | None = None, delay: float = 0.0,
                  body_regex: str | None = None, unapplied: bool = False, until_released: bool = False) -> Fault:
        return self.faults.add(Fault(status=status, method=method, path_regex=path_regex, times=times,
                                     retry_after=None if retry_after is None else str(retry_after),
                                     code=code, message=message, cmdlet=cmdlet, delay=delay,
                                     body_regex=body_regex, unapplied=unapplied, until_released=until_released))

    # What a request can change; an `unapplied` fault puts these back after answering.
    _DATA = ("tenant", "users", "mailboxes", "mailbox_settings", "inbox_rules", "mail_folders", "auth_methods",
             "teams_apps", "groups", "directory_roles", "ca_policies", "service_principals", "oauth2_grants",
             "risky_users", "deleted_items", "transport_rules", "security_alerts")

    def data(self) -> dict[str, Any]:
        return {name: copy.deepcopy(getattr(self, name)) for name in self._DATA}

    def restore(self, data: dict[str, Any]) -> None:
        for name, value in data.items():
            setattr(self, name, value)

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy({
            "tenant": self.tenant,
            "users": list(self.users.values()),
            "groups": list(self.groups.values()),
            "directoryRoles": list(self.directory_roles.values()),
            "mailboxes": self.mailboxes,
            "mailboxSettings": self.mailbox_settings,
            "inboxRules": self.inbox_rules,
            "mailFolders": self.mail_folders,
            "authenticationMethods": self.auth_methods,
            "defaultAuthenticationMethods": self.default_methods,
            "teamsApps": self.teams_apps,
            "conditionalAccessPolicies": list(self.ca_policies.values()),
            "servicePrincipals": list(self.service_principals.values()),
            "deletedItems": list(self.deleted_items.values()),
            "oauth2PermissionGrants": list(self.oauth2_grants.values()),
            "riskyUsers": list(self.risky_users.values()),
            "transportRules": self.transport_rules,
            "securityAlerts": self.security_alerts,
            "faults": [f.to_json() for f in self.faults],
            "withheldPermissions": sorted(self.withheld_permissions),
            "consentedScopes": sorted(self.consented_scopes),
        })


def _by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


TENANT = web.AppKey("riposte_sandbox_tenant", TenantState)
