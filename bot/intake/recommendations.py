"""What to do first, by the kind of threat: the data behind a case card's "Recommended" block and button order.

An alert matches a kind when its category is one of the kind's categories, its title contains one of the kind's
keywords, or it carries evidence of one of the kind's evidence kinds (all compared in lower case). A card
recommends the actions of every kind it matches, in this table's order, and explains each in one sentence.
Operators override or add kinds in the policy TOML (see `with_overrides` and README "Recommendations").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from actions import ACTIONS
from bot.intake.alerts import Alert

# A card shows at most this many recommended buttons, so that "Block user" still fits among the visible six
# (with "More actions" taking the last slot).
MAX_RECOMMENDED = 4


@dataclass(frozen=True)
class ThreatKind:
    name: str
    advice: str  # one plain sentence for the card: what it looks like and what the buttons do
    actions: tuple[str, ...]  # card verbs, most important first (an item kind's listing verb: remove_app, …)
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()

    def matches(self, alert: Alert) -> bool:
        title = alert.title.lower()
        return (alert.category.lower() in self.categories
                or any(keyword in title for keyword in self.keywords)
                or any(item.kind in self.evidence for item in alert.evidence))


DEFAULT_KINDS: tuple[ThreatKind, ...] = (
    ThreatKind(
        "mail_rule",
        "Mail is being forwarded out or hidden by an inbox rule: turn the rule off (Show inbox rules), remove the "
        "mailbox forwarding, and sign the user out.",
        ("list_inbox_rules", "remove_forwarding", "revoke_sessions"),
        keywords=("inbox rule", "forwarding", "forward", "mail rule", "hide", "hiding", "mail flow"),
        evidence=("inbox_rule",),
    ),
    ThreatKind(
        "consent_phishing",
        "The user gave an app access to their data: remove the app (or the user's consent), and sign the user out.",
        ("remove_app", "revoke_sessions"),
        keywords=("consent", "oauth", "illicit app", "malicious app", "suspicious app"),
        evidence=("app",),
    ),
    ThreatKind(
        "mfa_method",
        "An attacker may have registered their own sign-in method: remove it (MFA methods), and sign the user out.",
        ("remove_auth_method", "revoke_sessions"),
        keywords=("mfa method", "authentication method", "security info", "mfa registration", "new mfa"),
        evidence=("auth_method",),
    ),
    ThreatKind(
        "mailbox_permission",
        "Another account was given access to the mailbox: remove that access (Mailbox access).",
        ("remove_mailbox_access",),
        keywords=("mailbox permission", "fullaccess", "full access", "mailbox delegation", "delegate"),
    ),
    # Last: a sign-in is part of most takeovers, so the more specific kinds above lead.
    ThreatKind(
        "risky_sign_in",
        "Someone else may be signing in as the user: sign them out everywhere, reset the password, and mark the "
        "account compromised.",
        ("revoke_sessions", "reset_password", "confirm_compromised"),
        categories=("credentialaccess",),
        keywords=("risky sign-in", "risky sign in", "impossible travel", "atypical travel", "password spray",
                  "unfamiliar sign-in", "anonymous ip", "leaked credentials", "brute force"),
    ),
)


@dataclass(frozen=True)
class Recommendation:
    advice: tuple[str, ...]  # one sentence per matched kind
    actions: tuple[str, ...]  # deduplicated, in order, at most MAX_RECOMMENDED


def recommend(alert: Alert, kinds: tuple[ThreatKind, ...] = DEFAULT_KINDS) -> Recommendation:
    matched = [kind for kind in kinds if kind.matches(alert)]
    actions = tuple(dict.fromkeys(name for kind in matched for name in kind.actions))[:MAX_RECOMMENDED]
    return Recommendation(tuple(kind.advice for kind in matched), actions)


class RecommendationError(ValueError):
    pass


_LISTS = ("actions", "categories", "keywords", "evidence")


def _strings(where: str, name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise RecommendationError(f"[recommendations.{where}] {name} must be a list of non-empty strings")
    return tuple(item if name == "actions" else item.lower() for item in value)


def with_overrides(tables: Mapping[str, Any], kinds: tuple[ThreatKind, ...] = DEFAULT_KINDS) -> tuple[ThreatKind, ...]:
    """`[recommendations.<kind>]` tables from the policy TOML: a known kind's fields are replaced (actions = []
    turns it off), an unknown name adds a kind (it needs advice, actions and something to match on)."""
    by_name = {kind.name: kind for kind in kinds}
    for name, table in tables.items():
        if not isinstance(table, dict) or set(table) - {"advice", *_LISTS}:
            raise RecommendationError(f"[recommendations.{name}] may set only advice, {', '.join(_LISTS)}")
        changes: dict[str, Any] = {key: _strings(name, key, table[key]) for key in _LISTS if key in table}
        if "advice" in table:
            if not isinstance(table["advice"], str) or not table["advice"].strip():
                raise RecommendationError(f"[recommendations.{name}] advice must be a non-empty string")
            changes["advice"] = table["advice"].strip()
        unknown = [verb for verb in changes.get("actions", ()) if verb not in ACTIONS]
        if unknown:
            raise RecommendationError(f"[recommendations.{name}] unknown action(s) {', '.join(unknown)}; known: "
                                      f"{', '.join(ACTIONS)}")
        if name in by_name:
            by_name[name] = replace(by_name[name], **changes)
            continue
        if not changes.get("advice") or not changes.get("actions") or not any(
                changes.get(key) for key in ("categories", "keywords", "evidence")):
            raise RecommendationError(f"[recommendations.{name}] is a new kind: it needs advice, actions and at "
                                      "least one of categories, keywords, evidence")
        by_name[name] = ThreatKind(name=name, **changes)
    return tuple(kind for kind in by_name.values() if kind.actions)
