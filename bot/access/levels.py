"""Who may use a verb: a Riposte role, any role at all, or anyone. The policy (bot/access/policy.py) says which per
verb; bot/access/permission.py is the one place that checks it."""

from __future__ import annotations

from enum import StrEnum

from actions.spec import Role


class Access(StrEnum):
    ANYONE = "anyone"  # no role needed, and no Graph look-up to find out
    ANY_ROLE = "any_role"  # any one of the Riposte roles


Requirement = Role | Access
REQUIREMENTS = ", ".join([*(role.value for role in Role), *(access.value for access in Access)])
_NOUNS = {Role.RESPONDER: "a responder", Role.APPROVER: "an approver", Role.ADMIN_RESPONDER: "an admin responder"}


def parse_requirement(value: object) -> Requirement:
    """A policy file's spelling of a requirement; ValueError names the choices."""
    if isinstance(value, str):
        for kind in (Role, Access):
            if value in kind.__members__.values():
                return kind(value)
    raise ValueError(f"must be one of {REQUIREMENTS}")


def holds(required: Requirement, roles: frozenset[Role]) -> bool:
    if required is Access.ANYONE:
        return True
    if required is Access.ANY_ROLE:
        return bool(roles)
    # An admin responder is a responder who may also act on administrators; approving stays a separate duty.
    return required in roles or (required is Role.RESPONDER and Role.ADMIN_RESPONDER in roles)


def describe(required: Requirement) -> str:
    if required is Access.ANY_ROLE:
        return "a Riposte role (responder, approver or admin_responder)"
    return f"the {required.value} role"


def lacking(required: Requirement) -> str:
    """For the audit: what the refused person is not, e.g. "not an approver"."""
    return f"not {_NOUNS[required]}" if isinstance(required, Role) else "holds no Riposte role"
