"""The Tenant port over Microsoft Graph (msgraph-sdk): each method is one Graph call and its error translation.

Directory and account methods live here; mail, identity and app methods in tenant_mail, tenant_identity and
tenant_apps, mixed into GraphTenant.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from msgraph import GraphServiceClient
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.user import User
from msgraph.generated.users.item.check_member_groups.check_member_groups_post_request_body import (
    CheckMemberGroupsPostRequestBody,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from actions import permissions
from actions.errors import NotFound, RiposteError, ServiceError
from actions.graph import Operation, call_method, get_json, get_json_pages, read_pages
from actions.spec import GLOBAL_ADMIN_TEMPLATE, PRIVILEGED_ROLE_TEMPLATES, ROLE_READ_PERMISSION, Pages, TargetUser
from actions.tenant_apps import GraphApps
from actions.tenant_identity import GraphIdentity
from actions.tenant_mail import GraphMail

log = logging.getLogger(__name__)

READ_USER = Operation("read the user", "User.Read.All")
READ_ROLES = Operation("read the user's directory roles", ROLE_READ_PERMISSION)
CHECK_GROUPS = Operation("check group membership", permissions.CHECK_MEMBER_GROUPS)
CHECK_GROUPS_LIMIT = 20  # group ids Graph's checkMemberGroups takes in one request
REVOKE = Operation(
    "revoke sign-in sessions",
    "User.RevokeSessions.All",
    "the Privileged Authentication Administrator role to act on an administrator",
    delegable=True,
)
READ_MAILBOX = Operation("read mailbox settings", "MailboxSettings.Read")
ENABLE_DISABLE = Operation(
    "enable or disable the account",
    "User.EnableDisableAccount.All and User.Read.All",
    "the Privileged Authentication Administrator role to act on an administrator",
    delegable=True,
)
RESET_PASSWORD = Operation(
    "reset the password",
    "User-PasswordProfile.ReadWrite.All",
    "the User Administrator role (Privileged Authentication Administrator for an administrator)",
    delegable=True,
)
# Who signed in (delegated mode): the person's own token reads their own profile (User.Read, always consented).
READ_ME = Operation("read the signed-in user", "User.Read (delegated)", delegable=True)
READ_ALERTS = Operation("read security alerts", "SecurityAlert.Read.All")
READ_ROLE_MEMBERS = Operation("list the Global Administrators", ROLE_READ_PERMISSION)
USER_FIELDS = [
    "id", "userPrincipalName", "displayName", "mail", "accountEnabled", "userType", "onPremisesSyncEnabled",
]


class GraphTenant(GraphMail, GraphIdentity, GraphApps):
    def __init__(self, client: GraphServiceClient) -> None:
        self._client = client

    async def get_user(self, id_or_upn: str) -> TargetUser:
        """`id_or_upn` is an object id, a UPN or a mail address (Graph's /users/{id} knows only the first two)."""
        user = await self._read_user(id_or_upn)
        user_id = str(user["id"])
        (roles, roles_unreadable), has_mailbox = await asyncio.gather(
            self._privileged_roles(user_id, id_or_upn), self._has_mailbox(user_id, id_or_upn)
        )
        upn = str(user.get("userPrincipalName") or id_or_upn)
        return TargetUser(
            id=user_id,
            upn=upn,
            display_name=str(user.get("displayName") or upn),
            account_enabled=bool(user.get("accountEnabled")),
            user_type=str(user.get("userType") or "Member"),
            on_premises_sync=bool(user.get("onPremisesSyncEnabled")),
            mail=user.get("mail"),
            admin_roles=roles,
            has_mailbox=has_mailbox,
            roles_unreadable=roles_unreadable,
        )

    async def _read_user(self, key: str) -> dict[str, Any]:
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=USER_FIELDS)
        try:
            return await get_json(READ_USER, key, self._client.users.by_user_id(key), query)
        except NotFound:
            if "@" not in key:
                raise
            matches = await self._users_with_address(key)
            if not matches:
                raise
        if len(matches) > 1:
            upns = ", ".join(sorted(str(user.get("userPrincipalName")) for user in matches))
            raise RiposteError(f"{key} is the address of {len(matches)} users ({upns}): say which one by its UPN "
                               "or object id.")
        return matches[0]

    async def _users_with_address(self, address: str) -> list[dict[str, Any]]:
        """Users whose mail or one of whose proxy addresses is `address` (a guest's mail is not its UPN)."""
        quoted = address.replace("'", "''")  # OData escapes a quote by doubling it
        builder = self._client.users
        query = builder.UsersRequestBuilderGetQueryParameters(
            filter=f"mail eq '{quoted}' or proxyAddresses/any(p:p eq 'smtp:{quoted}')", count=True,
            select=USER_FIELDS)
        # Filtering on proxyAddresses is an advanced query: Graph wants $count and this header with it.
        return await get_json_pages(READ_USER, address, builder, query, {"ConsistencyLevel": "eventual"})

    async def _has_mailbox(self, user_id: str, subject: str) -> bool:
        """Graph answers 404 (MailboxNotEnabledForRESTAPI) for a user without an Exchange Online mailbox.

        Only a 404 counts as "no mailbox": when the check itself fails (permission, outage) the mailbox actions
        stay offered and fail with their own clear error, rather than the whole user failing to resolve.
        """
        try:
            await get_json(READ_MAILBOX, subject, self._client.users.by_user_id(user_id).mailbox_settings)
        except NotFound:
            return False
        except ServiceError as error:
            log.warning("could not tell whether %s has a mailbox: %s", subject, error)
        return True

    async def _privileged_roles(self, user_id: str, subject: str) -> tuple[tuple[str, ...], str]:
        """The privileged roles the user holds, and the missing permission if Graph hid some roles' identity.

        Without RoleManagement.Read.Directory (or Directory.Read.All) Graph still answers 200 but lists each
        directory role with only its type and id: that is not the absence of a role, so it must fail closed."""
        builder = self._client.users.by_user_id(user_id).transitive_member_of
        memberships = await get_json_pages(READ_ROLES, subject, builder)
        roles = [entry for entry in memberships if entry.get("@odata.type") == "#microsoft.graph.directoryRole"]
        names = {PRIVILEGED_ROLE_TEMPLATES[str(role.get("roleTemplateId"))] for role in roles
                 if str(role.get("roleTemplateId")) in PRIVILEGED_ROLE_TEMPLATES}
        hidden = any(not role.get("roleTemplateId") for role in roles)
        return tuple(sorted(names)), ROLE_READ_PERMISSION if hidden else ""

    async def enabled_global_admins(self) -> set[str]:
        """Object ids of the Global Administrators whose accounts are enabled."""
        role_builder = self._client.directory_roles_with_role_template_id(GLOBAL_ADMIN_TEMPLATE)

        role = await get_json(READ_ROLE_MEMBERS, "the tenant", role_builder)
        members_builder = self._client.directory_roles.by_directory_role_id(str(role["id"])).members
        members = await get_json_pages(READ_ROLE_MEMBERS, "the tenant", members_builder)
        user_ids = [str(m["id"]) for m in members if m.get("@odata.type") == "#microsoft.graph.user" and m.get("id")]
        # Role members come back without accountEnabled unless asked: read each (there are few).
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=["id", "accountEnabled"])
        users = await asyncio.gather(*(get_json(READ_USER, user_id, self._client.users.by_user_id(user_id), query)
                                       for user_id in user_ids))
        return {str(user["id"]) for user in users if user.get("accountEnabled")}

    async def security_alerts_since(self, since: str, top: int = 100, max_pages: int = 50) -> Pages:
        """Microsoft Graph security alerts (alerts_v2) updated after `since` (ISO 8601, UTC), as Graph's JSON.

        Only query options the v1.0 reference documents for this list ($count, $filter, $skip, $top): no
        $orderby, so the order is Graph's (newest first) and callers sort. Pages.complete is False when paging
        stopped early (a repeated @odata.nextLink, or `max_pages`)."""
        builder = self._client.security.alerts_v2
        query = builder.Alerts_v2RequestBuilderGetQueryParameters(filter=f"lastUpdateDateTime gt {since}", top=top)
        return await read_pages(READ_ALERTS, "the tenant", builder, query, max_pages=max_pages)

    async def member_groups(self, user_id: str, group_ids: list[str]) -> set[str]:
        batches = [group_ids[i:i + CHECK_GROUPS_LIMIT] for i in range(0, len(group_ids), CHECK_GROUPS_LIMIT)]
        answers = await asyncio.gather(*(self._check_member_groups(user_id, batch) for batch in batches))
        return set().union(*answers)

    async def _check_member_groups(self, user_id: str, group_ids: list[str]) -> set[str]:
        builder = self._client.users.by_user_id(user_id).check_member_groups
        body = CheckMemberGroupsPostRequestBody(group_ids=group_ids)

        answer, _ = await call_method(CHECK_GROUPS, user_id, builder.post, body)
        return set(answer.value or [])

    async def signed_in_user(self) -> dict[str, Any]:
        """GET /me: within acting_as, the person whose token it is (id, displayName, userPrincipalName)."""
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["id", "displayName", "userPrincipalName"])
        # msgraph-sdk's `me` builder names /users/me-token-to-replace and counts on a middleware this client does not
        # use (build_http_client) to turn it into /me: name /me directly.
        builder = self._client.me.with_url(f"{self._client.request_adapter.base_url}/me")
        return await get_json(READ_ME, "the signed-in person", builder, query)

    async def get_user_fields(self, user_id: str, fields: list[str]) -> dict[str, Any]:
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=["id", *fields])
        return await get_json(READ_USER, user_id, self._client.users.by_user_id(user_id), query)

    async def revoke_sessions(self, user_id: str) -> str | None:
        builder = self._client.users.by_user_id(user_id).revoke_sign_in_sessions

        _, request_id = await call_method(REVOKE, user_id, builder.post)
        return request_id

    async def set_account_enabled(self, user_id: str, enabled: bool) -> str | None:
        builder = self._client.users.by_user_id(user_id)
        body = User(account_enabled=enabled)

        _, request_id = await call_method(ENABLE_DISABLE, user_id, builder.patch, body)
        return request_id

    async def reset_password(self, user_id: str, password: str) -> str | None:
        builder = self._client.users.by_user_id(user_id)
        body = User(password_profile=PasswordProfile(password=password, force_change_password_next_sign_in=True))

        _, request_id = await call_method(RESET_PASSWORD, user_id, builder.patch, body)
        return request_id
