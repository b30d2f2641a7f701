"""GraphTenant's identity methods: Conditional Access policies, authentication methods, Identity Protection risk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgraph import GraphServiceClient
from msgraph.generated.identity_protection.risky_users.confirm_compromised.confirm_compromised_post_request_body import (  # noqa: E501
    ConfirmCompromisedPostRequestBody,
)
from msgraph.generated.identity_protection.risky_users.dismiss.dismiss_post_request_body import (
    DismissPostRequestBody,
)
from msgraph.generated.models.conditional_access_policy import ConditionalAccessPolicy

from actions import permissions
from actions.errors import RiposteError
from actions.graph import Operation, call_method, get_json, get_json_pages
from actions.graph_json import from_json

READ_POLICY = Operation("read a Conditional Access policy", "Policy.Read.All")
CREATE_POLICY = Operation("create a Conditional Access policy", permissions.CREATE_CA_POLICY,
                          "an Entra ID P1 licence for Conditional Access", delegable=True)
DELETE_POLICY = Operation("delete a Conditional Access policy", permissions.DELETE_CA_POLICY, delegable=True)
READ_METHODS = Operation("read authentication methods", "UserAuthenticationMethod.Read.All")
WRITE_METHODS = Operation("remove an authentication method", "UserAuthenticationMethod.ReadWrite.All",
                          delegable=True)
RISK = Operation(
    "change the user's risk state", "IdentityRiskyUser.ReadWrite.All", "an Entra ID P2 licence for Identity Protection",
    delegable=True,
)
READ_RISK = Operation("read the user's risk state", "IdentityRiskyUser.Read.All")

# @odata.type of a method → the builder (and Graph path segment) that deletes it. Never the password method.
METHOD_BUILDERS: Mapping[str, tuple[str, str]] = {
    "#microsoft.graph.phoneAuthenticationMethod": ("phone_methods", "by_phone_authentication_method_id"),
    "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod": (
        "microsoft_authenticator_methods", "by_microsoft_authenticator_authentication_method_id",
    ),
    "#microsoft.graph.fido2AuthenticationMethod": ("fido2_methods", "by_fido2_authentication_method_id"),
    "#microsoft.graph.emailAuthenticationMethod": ("email_methods", "by_email_authentication_method_id"),
    "#microsoft.graph.softwareOathAuthenticationMethod": (
        "software_oath_methods", "by_software_oath_authentication_method_id",
    ),
    # What an attacker adds to keep a way in: a pass that signs in without the password, a Windows Hello key on
    # their device, a macOS platform credential.
    "#microsoft.graph.temporaryAccessPassAuthenticationMethod": (
        "temporary_access_pass_methods", "by_temporary_access_pass_authentication_method_id",
    ),
    "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod": (
        "windows_hello_for_business_methods", "by_windows_hello_for_business_authentication_method_id",
    ),
    "#microsoft.graph.platformCredentialAuthenticationMethod": (
        "platform_credential_methods", "by_platform_credential_authentication_method_id",
    ),
}


class GraphIdentity:
    _client: GraphServiceClient

    # --- Conditional Access -----------------------------------------------------------------------

    async def create_ca_policy(self, policy: Mapping[str, Any]) -> tuple[str, str | None]:
        """Create a Conditional Access policy from its Graph JSON; return the new policy's id."""
        builder = self._client.identity.conditional_access.policies
        body = from_json(policy, ConditionalAccessPolicy)

        created, request_id = await call_method(CREATE_POLICY, str(policy.get("displayName", "")), builder.post, body)
        return str(created.id), request_id

    async def get_ca_policy(self, policy_id: str) -> dict[str, Any]:
        builder = self._client.identity.conditional_access.policies.by_conditional_access_policy_id(policy_id)
        return await get_json(READ_POLICY, f"policy {policy_id}", builder)

    async def list_ca_policies(self) -> list[dict[str, Any]]:
        return await get_json_pages(READ_POLICY, "the tenant", self._client.identity.conditional_access.policies)

    async def delete_ca_policy(self, policy_id: str) -> str | None:
        builder = self._client.identity.conditional_access.policies.by_conditional_access_policy_id(policy_id)

        _, request_id = await call_method(DELETE_POLICY, f"policy {policy_id}", builder.delete)
        return request_id

    # --- Authentication methods -------------------------------------------------------------------

    async def list_auth_methods(self, user_id: str) -> list[dict[str, Any]]:
        builder = self._client.users.by_user_id(user_id).authentication.methods
        return await get_json_pages(READ_METHODS, user_id, builder)

    async def delete_auth_method(self, user_id: str, odata_type: str, method_id: str) -> str | None:
        if odata_type not in METHOD_BUILDERS:
            raise RiposteError(
                f"Riposte cannot remove a {odata_type.rsplit('.', 1)[-1]}; remove it in the Entra admin centre "
                "(Users › the user › Authentication methods)."
            )
        collection_name, by_id = METHOD_BUILDERS[odata_type]
        collection = getattr(self._client.users.by_user_id(user_id).authentication, collection_name)
        builder = getattr(collection, by_id)(method_id)

        _, request_id = await call_method(WRITE_METHODS, user_id, builder.delete)
        return request_id

    # --- Identity Protection ----------------------------------------------------------------------

    async def confirm_compromised(self, user_id: str) -> str | None:
        builder = self._client.identity_protection.risky_users.confirm_compromised
        body = ConfirmCompromisedPostRequestBody(user_ids=[user_id])

        _, request_id = await call_method(RISK, user_id, builder.post, body)
        return request_id

    async def get_risky_user(self, user_id: str) -> dict[str, Any]:
        builder = self._client.identity_protection.risky_users.by_risky_user_id(user_id)
        return await get_json(READ_RISK, user_id, builder)

    async def dismiss_risk(self, user_id: str) -> str | None:
        builder = self._client.identity_protection.risky_users.dismiss
        body = DismissPostRequestBody(user_ids=[user_id])

        _, request_id = await call_method(RISK, user_id, builder.post, body)
        return request_id
