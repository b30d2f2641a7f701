"""Graph application permissions named once: the Graph calls that need them (whose refusal names them) and the
actions' `permission` field (the README table) both use these, so the two cannot drift apart.

Each is the least-privileged application permission in the Graph v1.0 reference of the call."""

from __future__ import annotations

# POST /identity/conditionalAccess/policies: the reference lists Application.Read.All too (the policy names apps).
CREATE_CA_POLICY = "Policy.Read.All + Policy.ReadWrite.ConditionalAccess + Application.Read.All"
DELETE_CA_POLICY = "Policy.Read.All + Policy.ReadWrite.ConditionalAccess"
# GET /users/{id}/oauth2PermissionGrants: Directory.Read.All is the least privileged that can list them.
LIST_CONSENT_GRANTS = "Directory.Read.All (or DelegatedPermissionGrant.ReadWrite.All)"
DELETE_CONSENT_GRANT = "DelegatedPermissionGrant.ReadWrite.All"
# POST /users/{id}/checkMemberGroups (is the clicker a responder?).
CHECK_MEMBER_GROUPS = "User.Read.All + GroupMember.Read.All"
