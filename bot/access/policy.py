"""Who may do what, and which actions wait for a second person: one readable policy.

Defaults come from the action registry (each action declares its role and whether it needs approval) and the
command table (each command declares who may type it), plus the card and chat verbs below. An operator may
override them in a TOML file named by RIPOSTE_POLICY_FILE:

    [actions.reset_password]
    role = "admin_responder"
    approval = true

    [actions.remove_forwarding]  # switched off: no button, refused as a command or click, never automated, and
    enabled = false              # `doctor` does not ask for the permissions only it needs

    [verbs.use_channel]          # any verb of VERBS: a command, cancel, approve, reject, release, automation
    role = "responder"           # a role, "any_role" or "anyone"

    [approval]
    privileged_targets = true   # any action on an administrator needs approval

    # what a case card recommends first, by threat kind (bot/intake/recommendations.py)
    [recommendations.risky_sign_in]
    actions = ["revoke_sessions", "block_signin"]

    [[automation.rules]]              # what automation acts on, first match wins (bot/automation/rules.py)
    name = "impossible travel"
    title = "impossible travel"
    min_severity = "medium"
    actions = ["revoke_sessions", "block_signin"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from actions import ACTIONS
from actions.spec import Role, TargetUser
from bot.access.levels import Access, Requirement, parse_requirement
from bot.automation.rules import AutomationRule, RuleError, parse_rules
from bot.commands.table import COMMANDS
from bot.intake.recommendations import DEFAULT_KINDS, RecommendationError, ThreatKind, with_overrides


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class ActionRule:
    role: Role
    approval: bool
    enabled: bool = True  # false: the deployment leaves the action out (e.g. no Exchange Online permissions)


@dataclass(frozen=True)
class Verb:
    name: str  # as the policy file names it: [verbs.<name>]
    label: str  # how a refusal names it: "<label> needs the approver role; …"
    default: Requirement


# Every verb a person can use besides the actions (those are [actions.<name>]): the typed commands, from their
# table, and the buttons and commands that are not actions.
VERBS: Mapping[str, Verb] = {
    **{spec.verb: Verb(spec.verb, spec.refusal_label, spec.role) for spec in COMMANDS},
    # Whoever typed the command may always cancel their own confirm card (bot/access/permission.py): this is for others.
    "cancel": Verb("cancel", "Cancelling", Role.RESPONDER),
    "approve": Verb("approve", "Deciding", Role.APPROVER),
    "reject": Verb("reject", "Deciding", Role.APPROVER),
    # CONTRACT.md's `release <user>`: not a typed command yet; its rule is here so that a policy file written for
    # it now is accepted and holds once it is. (`automation on|off|status|dry-run` are in the command table.)
    "release": Verb("release", "`release`", Role.RESPONDER),
}


def _default_verbs() -> dict[str, Requirement]:
    return {name: verb.default for name, verb in VERBS.items()}


@dataclass(frozen=True)
class Policy:
    rules: Mapping[str, ActionRule]
    approval_for_privileged_targets: bool = True
    recommendations: tuple[ThreatKind, ...] = DEFAULT_KINDS
    verbs: Mapping[str, Requirement] = field(default_factory=_default_verbs)
    automation_rules: tuple[AutomationRule, ...] = ()  # [[automation.rules]]; none: the default rule applies

    def role_for(self, action: str) -> Role:
        return self.rules[action].role

    def enabled(self, action: str) -> bool:
        rule = self.rules.get(action)
        return rule is not None and rule.enabled

    @property
    def disabled(self) -> frozenset[str]:
        return frozenset(name for name, rule in self.rules.items() if not rule.enabled)

    def why_disabled(self, action: str) -> str | None:
        """The refusal for an action the policy file switched off, or None when it is on."""
        if self.enabled(action):
            return None
        spec = ACTIONS.get(action)
        return (f"{spec.title if spec else action} is switched off in this deployment (`enabled = false` under "
                f"[actions.{action}] in the policy file): ask whoever runs Riposte.")

    def requirement(self, verb: str) -> Requirement:
        """Who may use a verb; an unknown one needs a role (fail closed), though every verb used is in VERBS."""
        return self.verbs.get(verb, Access.ANY_ROLE)

    def needs_approval(self, action: str, target: TargetUser | None) -> bool:
        if self.rules[action].approval:
            return True
        return bool(self.approval_for_privileged_targets and target is not None and target.is_admin)


def default_policy() -> Policy:
    return Policy({name: ActionRule(spec.role, spec.needs_approval) for name, spec in ACTIONS.items()})


def _override(rules: dict[str, ActionRule], name: str, table: Any) -> None:
    if name not in rules:
        raise PolicyError(f"unknown action {name!r}; known: {', '.join(sorted(rules))}")
    if not isinstance(table, dict) or set(table) - {"role", "approval", "enabled"}:
        raise PolicyError(f"[actions.{name}] may set only role, approval and enabled")
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
    if "enabled" in table:
        if not isinstance(table["enabled"], bool):
            raise PolicyError(f"[actions.{name}] enabled must be true or false")
        rule = replace(rule, enabled=table["enabled"])
    rules[name] = rule


TOP_LEVEL = frozenset({"actions", "approval", "recommendations", "verbs", "automation"})


def _verb_overrides(tables: Any) -> dict[str, Requirement]:
    if not isinstance(tables, dict):
        raise PolicyError("[verbs] must be a table of [verbs.<verb>] tables")
    verbs = _default_verbs()
    for name, table in tables.items():
        if name not in verbs:
            raise PolicyError(f"[verbs.{name}]: unknown verb; known: {', '.join(sorted(verbs))}")
        if not isinstance(table, dict) or set(table) != {"role"}:
            raise PolicyError(f"[verbs.{name}] must set role, and only role")
        try:
            verbs[name] = parse_requirement(table["role"])
        except ValueError as error:
            raise PolicyError(f"[verbs.{name}] role {error}") from None
    return verbs


def load_policy(path: str) -> Policy:
    policy = default_policy()
    if not path:
        return policy
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise PolicyError(f"RIPOSTE_POLICY_FILE {path}: {error}") from None
    unknown = set(document) - TOP_LEVEL
    if unknown:  # a misspelt table ([verb.cancel]) would otherwise leave the default in force, silently
        raise PolicyError(f"RIPOSTE_POLICY_FILE {path}: unknown table(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(sorted(TOP_LEVEL))}")
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
    verbs = _verb_overrides(document.get("verbs") or {})
    try:
        automation = parse_rules(document.get("automation") or {})
    except RuleError as error:
        raise PolicyError(str(error)) from None
    for rule in automation:  # a rule that could only be refused each time says the file contradicts itself
        off = [name for name in rule.actions if not rules[name].enabled]
        if off:
            raise PolicyError(f"[[automation.rules]] {rule.name!r} runs {', '.join(off)}, which [actions.{off[0]}] "
                              "switches off (enabled = false): take it out of the rule, or switch it on")
    return Policy(rules, privileged, kinds, verbs, automation)
