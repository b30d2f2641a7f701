"""The tenant-wide (admin) consent to Riposte's delegated permissions, as Graph lists it: one
`oAuth2PermissionGrant` with `consentType` `AllPrincipals`, the app's service principal as `clientId` and Microsoft
Graph's as `resourceId`, its `scope` the consented permissions space-separated. The consent itself lives in
`TenantState.consented_scopes` (admin-consent page, `PUT /_sandbox/consent`); a full withdrawal removes the grant,
as revoking admin consent in Entra does."""

from __future__ import annotations

from typing import Any

from sandbox.tenant_directory import GRAPH_APP_ID, RESOURCES
from sandbox.tenant_state import TenantState

GRANT_ID = "riposte-sandbox-admin-consent"


def admin_consent_grant(state: TenantState) -> dict[str, Any] | None:
    if not state.consented_scopes:
        return None
    return {"id": GRANT_ID, "clientId": state.application["id"], "consentType": "AllPrincipals",
            "principalId": None, "resourceId": RESOURCES[GRAPH_APP_ID]["id"],
            "scope": " ".join(sorted(state.consented_scopes))}
