"""Entra's rules on who may make a sensitive change, as Graph applies them to each call.

Graph checks the caller's directory roles, not only its permissions:
- an app-only token changes an administrator's account (enable/disable, password, sessions) only if the app itself
  holds Privileged Authentication Administrator (or Global Administrator); resetting anyone's password needs the app
  to hold User Administrator at least;
- a delegated token does only what both its consented scopes and the signed-in person's own directory roles allow:
  a Helpdesk, User or Authentication Administrator resets an ordinary user's password, only a Privileged
  Authentication Administrator or a Global Administrator acts on an administrator, Conditional Access policies need
  Conditional Access or Security Administrator, a user's risk needs Security Administrator or Operator;
- a delegated token opens only the signed-in person's own mailbox.
Refusals are Graph's: 403 Authorization_RequestDenied "Insufficient privileges to complete the operation." (the
same words for a missing scope and a missing role), ErrorAccessDenied for a mailbox."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sandbox.tenant_http import GraphError
from sandbox.tenant_state import DelegatedGrant, TenantState

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_AUTH_ADMIN = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
PRIVILEGED_ROLE_ADMIN = "e8611ab8-c189-46e8-94e1-60213ab1f814"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
HELPDESK_ADMIN = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
AUTHENTICATION_ADMIN = "c4e39bd9-1100-46d3-8c65-fb160da0071f"
CONDITIONAL_ACCESS_ADMIN = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
SECURITY_OPERATOR = "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f"
# A user holding one of these is an administrator: only the most privileged roles may change their account.
PRIVILEGED = frozenset({
    GLOBAL_ADMIN, PRIVILEGED_ROLE_ADMIN, PRIVILEGED_AUTH_ADMIN, SECURITY_ADMIN, USER_ADMIN, AUTHENTICATION_ADMIN,
    CONDITIONAL_ACCESS_ADMIN, "29232cdf-9323-42fd-ade2-1d097af3e4de", "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "158c047a-c907-4556-b7ef-446551a6b5f7",  # Exchange, Application, Cloud Application Administrator
})
ON_ADMINISTRATORS = frozenset({PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN})
_USER = r"^/users/(?P<user>[^/]+)"
_DIRECTORY_WRITE = ("User.ReadWrite.All", "Directory.AccessAsUser.All")


@dataclass(frozen=True)
class Rule:
    """One guarded call. Role sets: any one suffices; empty: no role needed (the permission is enough)."""

    method: str  # a regex on the HTTP method
    path: re.Pattern[str]  # below /v1.0; a `user` group names the target
    body_field: str = ""  # PATCH /users/{id}: only when the body sets this property
    scopes: tuple[str, ...] = ()  # delegated permissions, any one of which the token must carry
    person_on_user: frozenset[str] = frozenset()
    person_on_admin: frozenset[str] = frozenset()
    app_on_user: frozenset[str] = frozenset()
    app_on_admin: frozenset[str] = frozenset()


RULES: tuple[Rule, ...] = (
    Rule("PATCH", re.compile(_USER + "$"), "accountEnabled",
         ("User.EnableDisableAccount.All", *_DIRECTORY_WRITE),
         person_on_user=frozenset({USER_ADMIN, *ON_ADMINISTRATORS}), person_on_admin=ON_ADMINISTRATORS,
         app_on_admin=ON_ADMINISTRATORS),
    Rule("PATCH", re.compile(_USER + "$"), "passwordProfile",
         ("User-PasswordProfile.ReadWrite.All", *_DIRECTORY_WRITE),
         person_on_user=frozenset({HELPDESK_ADMIN, USER_ADMIN, AUTHENTICATION_ADMIN, *ON_ADMINISTRATORS}),
         person_on_admin=ON_ADMINISTRATORS, app_on_user=frozenset({USER_ADMIN, *ON_ADMINISTRATORS}),
         app_on_admin=ON_ADMINISTRATORS),
    Rule("POST", re.compile(_USER + "/revokeSignInSessions$"), scopes=("User.RevokeSessions.All", *_DIRECTORY_WRITE),
         person_on_user=frozenset({HELPDESK_ADMIN, USER_ADMIN, AUTHENTICATION_ADMIN, *ON_ADMINISTRATORS}),
         person_on_admin=ON_ADMINISTRATORS, app_on_admin=ON_ADMINISTRATORS),
    Rule("DELETE", re.compile(_USER + "/authentication/"), scopes=("UserAuthenticationMethod.ReadWrite.All",),
         person_on_user=frozenset({AUTHENTICATION_ADMIN, *ON_ADMINISTRATORS}), person_on_admin=ON_ADMINISTRATORS),
    Rule("POST|PATCH|DELETE", re.compile(r"^/identity/conditionalAccess/policies"),
         scopes=("Policy.ReadWrite.ConditionalAccess",),
         person_on_user=frozenset({CONDITIONAL_ACCESS_ADMIN, SECURITY_ADMIN, GLOBAL_ADMIN}),
         person_on_admin=frozenset({CONDITIONAL_ACCESS_ADMIN, SECURITY_ADMIN, GLOBAL_ADMIN})),
    Rule("POST", re.compile(r"^/identityProtection/riskyUsers/(confirmCompromised|dismiss)$"),
         scopes=("IdentityRiskyUser.ReadWrite.All",),
         person_on_user=frozenset({SECURITY_ADMIN, SECURITY_OPERATOR, GLOBAL_ADMIN}),
         person_on_admin=frozenset({SECURITY_ADMIN, SECURITY_OPERATOR, GLOBAL_ADMIN})),
)
_MAILBOX = re.compile(_USER + "/(mailFolders|mailboxSettings|messages)")


def _denied() -> GraphError:
    return GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def _is_admin(state: TenantState, user_key: str | None) -> bool:
    user = state.find_user(user_key, by_mail=False) if user_key else None
    return user is not None and bool(state.role_templates_of(str(user["id"])) & PRIVILEGED)


def refusal(state: TenantState, method: str, path: str, body: Any, person: DelegatedGrant | None) -> GraphError | None:
    """Graph's refusal of this call by this caller (`person` None: the app's own token), or None."""
    if person is not None and (mailbox := _MAILBOX.search(path)):
        owner = state.find_user(mailbox.group("user"), by_mail=False)
        if owner is None or owner["id"] != person.user_id:
            return GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    for rule in RULES:
        match = rule.path.search(path)
        if match is None or not re.fullmatch(rule.method, method):
            continue
        if rule.body_field and not (isinstance(body, dict) and rule.body_field in body):
            continue
        admin = _is_admin(state, match.groupdict().get("user"))
        if person is None:
            needed, held = (rule.app_on_admin if admin else rule.app_on_user), state.app_role_templates()
        else:
            if not set(rule.scopes) & person.scopes:
                return _denied()
            needed, held = (rule.person_on_admin if admin else rule.person_on_user), state.role_templates_of(
                person.user_id)
        return _denied() if needed and not needed & held else None
    return None
