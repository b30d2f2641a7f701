"""GraphTenant's app methods: consent grants, enterprise applications (service principals), Teams apps."""

from __future__ import annotations

from typing import Any

from msgraph import GraphServiceClient
from msgraph.generated.oauth2_permission_grants.oauth2_permission_grants_request_builder import (
    Oauth2PermissionGrantsRequestBuilder,
)
from msgraph.generated.users.item.teamwork.installed_apps.installed_apps_request_builder import (
    InstalledAppsRequestBuilder,
)

from actions import permissions
from actions.graph import Operation, call_method, get_json, get_json_pages

READ_GRANTS = Operation("read the user's app consents", permissions.LIST_CONSENT_GRANTS)
DELETE_GRANT = Operation("revoke an app consent", permissions.DELETE_CONSENT_GRANT)
READ_APP = Operation("read an enterprise application", "Application.Read.All")
DELETE_APP = Operation("delete an enterprise application", "Application.ReadWrite.All")
READ_TEAMS_APPS = Operation("read the user's Teams apps", "TeamsAppInstallation.ReadForUser.All")
REMOVE_TEAMS_APP = Operation("remove a Teams app", "TeamsAppInstallation.ReadWriteForUser.All")


class GraphApps:
    _client: GraphServiceClient

    async def list_consent_grants(self, user_id: str) -> list[dict[str, Any]]:
        """Delegated permission grants the user gave (consentType Principal, principalId = the user)."""
        query = Oauth2PermissionGrantsRequestBuilder.Oauth2PermissionGrantsRequestBuilderGetQueryParameters(
            filter=f"principalId eq '{user_id}'"
        )
        return await get_json_pages(READ_GRANTS, user_id, self._client.oauth2_permission_grants, query)

    async def get_service_principal(self, service_principal_id: str) -> dict[str, Any]:
        builder = self._client.service_principals.by_service_principal_id(service_principal_id)
        return await get_json(READ_APP, f"application {service_principal_id}", builder)

    async def delete_service_principal(self, service_principal_id: str) -> str | None:
        builder = self._client.service_principals.by_service_principal_id(service_principal_id)

        _, request_id = await call_method(DELETE_APP, f"application {service_principal_id}", builder.delete)
        return request_id

    async def delete_consent_grant(self, grant_id: str) -> str | None:
        builder = self._client.oauth2_permission_grants.by_o_auth2_permission_grant_id(grant_id)

        _, request_id = await call_method(DELETE_GRANT, f"consent {grant_id}", builder.delete)
        return request_id

    async def list_teams_apps(self, user_id: str) -> list[dict[str, Any]]:
        """Apps installed in the user's personal scope, each with its teamsApp (displayName, distributionMethod)."""
        query = InstalledAppsRequestBuilder.InstalledAppsRequestBuilderGetQueryParameters(expand=["teamsApp"])
        builder = self._client.users.by_user_id(user_id).teamwork.installed_apps
        return await get_json_pages(READ_TEAMS_APPS, user_id, builder, query)

    async def remove_teams_app(self, user_id: str, installation_id: str) -> str | None:
        installed = self._client.users.by_user_id(user_id).teamwork.installed_apps
        builder = installed.by_user_scope_teams_app_installation_id(installation_id)

        _, request_id = await call_method(REMOVE_TEAMS_APP, user_id, builder.delete)
        return request_id
