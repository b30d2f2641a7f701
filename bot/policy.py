"""Who may run each action and which actions wait for a second person: one readable policy.

Defaults come from the action registry (each action declares its role and whether it needs approval); an
operator may override them in a TOML file named by RIPOSTE_POLICY_FILE:

    [actions.reset_password]
    role = "admin_responder"
    approval = true

    [approval]
    privileged_targets = true   # any action on an administrator needs approval

    [recommendations.risky_sign_in]   # what a case card recommends first, by threat kind (bot/recommendations.py)
    actions = ["revoke_sessions", "block_signin"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from actions import ACTIONS
from actions.spec import Role, TargetUser
from bot.recommendations import DEFAULT_KINDS, RecommendationError, ThreatKind, with_overrides


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class ActionRule:
    role: Role
    approval: bool


@dataclass(frozen=True)
class Policy:
    rules: Mapping[str, ActionRule]
    approval_for_privileged_targets: bool = True
    recommendations: tuple[ThreatKind, ...] = DEFAULT_KINDS

    def role_for(self, action: str) -> Role:
        return self.rules[action].role

    def needs_approval(self, action: str, target: TargetUser | None) -> bool:
        if self.rules[action].approval:
            return True
        return bool(self.approval_for_privileged_targets and target is not None and target.is_admin)


def default_policy() -> Policy:
    return Policy({name: ActionRule(spec.role, spec.needs_approval) for name, spec in ACTIONS.items()})


def _override(rules: dict[str, ActionRule], name: str, table: Any) -> None:
    if name not in rules:
        raise PolicyError(f"unknown action {name!r}; known: {', '.join(sorted(rules))}")
    if not isinstance(table, dict) or set(table) - {"role", "approval"}:
        raise PolicyError(f"[actions.{name}] may set only role and approval")
    rule = rules[name]
    if "role" in table:
        try:
            rule = replace(rule, role=Role(table["role"]))
        except ValueError:
            raise PolicyError(
                f"[actions.{name}] role must be one of {', '.join(role.value for role in Role)}"
            ) from None
    if "approval" in table:
        if not isinstance(table["approval"], bool):
            raise PolicyError(f"[actions.{name}] approval must be true or false")
        rule = replace(rule, approval=table["approval"])
    rules[name] = rule


def load_policy(path: str) -> Policy:
    policy = default_policy()
    if not path:
        return policy
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise PolicyError(f"RIPOSTE_POLICY_FILE {path}: {error}") from None
    rules = dict(policy.rules)
    for name, table in (document.get("actions") or {}).items():
        _override(rules, name, table)
    approval = document.get("approval") or {}
    privileged = approval.get("privileged_targets", policy.approval_for_privileged_targets)
    if not isinstance(privileged, bool):
        raise PolicyError("[approval] privileged_targets must be true or false")
    tables = document.get("recommendations") or {}
    try:
        if not isinstance(tables, dict):
            raise RecommendationError("[recommendations] must be a table of [recommendations.<kind>] tables")
        kinds = with_overrides(tables)
    except RecommendationError as error:
        raise PolicyError(str(error)) from None
    return Policy(rules, privileged, kinds)
