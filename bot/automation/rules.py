"""Automation rules: which alerts automation acts on, and with which actions in which order.

Read from the policy file's `[[automation.rules]]` (bot/access/policy.py loads them); the first rule that matches an
alert wins. Without any, one rule, "default", holds the behaviour from before rules existed: confidence high and
severity high or critical, with the actions of RIPOSTE_AUTOMATION_ACTIONS.

    [[automation.rules]]
    name = "impossible travel"              # required, unique: recorded in the audit and shown on the card
    source = "graph"                        # "native" or "graph" (a Microsoft Graph alerts_v2 body)
    detection_source = ["azureAdIdentityProtection"]   # the alert's source: native `source`, Graph detectionSource
    category = ["InitialAccess", "CredentialAccess"]
    title = "impossible travel|atypical travel"        # a regular expression, searched, case-insensitive
    min_severity = "high"
    min_confidence = "high"                 # only alerts that carry a confidence (Graph alerts do not) can match
    evidence = ["ip"]                       # every kind listed must be among the alert's evidence
    actions = ["revoke_sessions", "block_signin"]      # run in this order; default RIPOSTE_AUTOMATION_ACTIONS

Every condition left out matches anything; a string or a list of strings is accepted where a list is shown (any
of them matches, case-insensitive). Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from actions import ACTIONS
from bot.intake.alerts import EVIDENCE_KINDS, SEVERITIES, Alert

CONFIDENCES = ("low", "medium", "high")
ORIGINS = ("native", "graph")
DEFAULT_RULE_NAME = "default"
KEYS = frozenset({"name", "source", "detection_source", "category", "title", "min_severity", "min_confidence",
                  "evidence", "actions"})


class RuleError(ValueError):
    pass


def why_not_automatable(name: str) -> str | None:
    """Why automation can never run action `name`, or None when it can (the rails still apply per target)."""
    spec = ACTIONS.get(name)
    if spec is None:
        return f"{name!r} is not an action; known: {', '.join(sorted(ACTIONS))}"
    if spec.item_kind:
        return f"{name} acts on one listed item, which a person picks"
    if spec.needs_saved:
        return f"{name} is an undo"
    if spec.inline:  # e.g. a temporary password, for the person who clicked: automation has nobody to give it to
        return f"{name} needs a person (its result is shown only to whoever ran it)"
    return None


@dataclass(frozen=True)
class AutomationRule:
    name: str
    actions: tuple[str, ...] = ()  # empty: RIPOSTE_AUTOMATION_ACTIONS
    origins: tuple[str, ...] = ()
    detection_sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    title: str = ""  # a regular expression
    min_severity: str = ""
    min_confidence: str = ""
    evidence: tuple[str, ...] = ()

    def matches(self, alert: Alert) -> bool:
        def among(value: str, allowed: tuple[str, ...]) -> bool:
            return not allowed or value.lower() in allowed

        if not (among(alert.origin, self.origins) and among(alert.source, self.detection_sources)
                and among(alert.category, self.categories)):
            return False
        if self.title and not re.search(self.title, alert.title, re.IGNORECASE):
            return False
        if self.min_severity and _rank(alert.severity, SEVERITIES) < SEVERITIES.index(self.min_severity):
            return False
        if self.min_confidence and _rank(alert.confidence, CONFIDENCES) < CONFIDENCES.index(self.min_confidence):
            return False
        kinds = {evidence.kind for evidence in alert.evidence}
        return all(kind in kinds for kind in self.evidence)

    def describe(self) -> str:
        """The conditions in words, for `automation status`."""
        parts = []
        if self.origins:
            parts.append("source " + " or ".join(self.origins))
        if self.detection_sources:
            parts.append("detection source " + " or ".join(self.detection_sources))
        if self.categories:
            parts.append("category " + " or ".join(self.categories))
        if self.title:
            parts.append(f"title matching /{self.title}/")
        if self.min_severity:
            parts.append(f"severity ≥ {self.min_severity}")
        if self.min_confidence:
            parts.append(f"confidence ≥ {self.min_confidence}")
        if self.evidence:
            parts.append("evidence " + " and ".join(self.evidence))
        return ", ".join(parts) or "every alert"


def _rank(value: str, order: Sequence[str]) -> int:
    """Where a value stands in an order; -1 (below everything) when it is missing or unknown."""
    lowered = value.strip().lower()
    return order.index(lowered) if lowered in order else -1


def default_rule(actions: Sequence[str]) -> AutomationRule:
    return AutomationRule(DEFAULT_RULE_NAME, tuple(actions), min_severity="high", min_confidence="high")


def _strings(where: str, key: str, value: Any, allowed: Sequence[str] = ()) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise RuleError(f"{where}: {key} must be a string or a non-empty list of strings")
    lowered = tuple(v.strip().lower() for v in values)
    unknown = [v for v in lowered if allowed and v not in allowed]
    if unknown:
        raise RuleError(f"{where}: {key} {', '.join(unknown)} unknown; known: {', '.join(allowed)}")
    return lowered


def _level(where: str, key: str, value: Any, order: Sequence[str]) -> str:
    if not isinstance(value, str) or value.lower() not in order:
        raise RuleError(f"{where}: {key} must be one of {', '.join(order)}")
    return value.lower()


def parse_rule(index: int, table: Any) -> AutomationRule:
    where = f"[[automation.rules]] #{index + 1}"
    if not isinstance(table, dict):
        raise RuleError(f"{where} must be a table")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RuleError(f"{where} needs a name")
    where = f"[[automation.rules]] {name!r}"
    unknown = set(table) - KEYS
    if unknown:
        raise RuleError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(KEYS))}")
    actions: tuple[str, ...] = ()
    if "actions" in table:
        raw = table["actions"]
        if not isinstance(raw, list) or not raw or not all(isinstance(action, str) for action in raw):
            raise RuleError(f"{where}: actions must be a non-empty list of action names")
        problems = [problem for action in raw if (problem := why_not_automatable(action))]
        if problems:
            raise RuleError(f"{where}: automation cannot run {'; '.join(problems)}")
        actions = tuple(dict.fromkeys(raw))
    title = table.get("title", "")
    if not isinstance(title, str):
        raise RuleError(f"{where}: title must be a regular expression (a string)")
    try:
        re.compile(title)
    except re.error as error:
        raise RuleError(f"{where}: title is not a regular expression: {error}") from None
    return AutomationRule(
        name=name.strip(), actions=actions, title=title,
        origins=_strings(where, "source", table["source"], ORIGINS) if "source" in table else (),
        detection_sources=(_strings(where, "detection_source", table["detection_source"])
                           if "detection_source" in table else ()),
        categories=_strings(where, "category", table["category"]) if "category" in table else (),
        min_severity=_level(where, "min_severity", table["min_severity"], SEVERITIES) if "min_severity" in table
        else "",
        min_confidence=(_level(where, "min_confidence", table["min_confidence"], CONFIDENCES)
                        if "min_confidence" in table else ""),
        evidence=_strings(where, "evidence", table["evidence"], EVIDENCE_KINDS) if "evidence" in table else (),
    )


def parse_rules(automation: Any) -> tuple[AutomationRule, ...]:
    """The policy file's [automation] table: its rules, in order."""
    if not isinstance(automation, dict) or set(automation) - {"rules"}:
        raise RuleError("[automation] may hold only [[automation.rules]]")
    tables = automation.get("rules", [])
    if not isinstance(tables, list):
        raise RuleError("automation.rules must be an array of tables: [[automation.rules]]")
    rules = tuple(parse_rule(index, table) for index, table in enumerate(tables))
    names = [rule.name.lower() for rule in rules]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RuleError(f"[[automation.rules]]: names must be unique; repeated: {', '.join(duplicates)}")
    return rules


def first_match(rules: Sequence[AutomationRule], alert: Alert) -> AutomationRule | None:
    return next((rule for rule in rules if rule.matches(alert)), None)
