"""What the watcher reads about a contained user, and what counts as undone.

A snapshot is plain JSON (kept in Redis as the baseline). Facets, each one Graph or Exchange read per check:

- account: accountEnabled and onPremisesSyncEnabled (GET /users/{id})
- block: the Riposte Conditional Access block policy, when one was created (GET …/policies/{id})
- rules: inbox rules, each with why it looks malicious (actions.items.rule_suspicion); a rule not seen before that
  moves mail to a folder costs a folder look-up or a few
- forwarding: the mailbox's ForwardingSmtpAddress / ForwardingAddress (Exchange Get-Mailbox)
- methods: authentication methods other than the password (GET …/authentication/methods)
- grants: delegated consents (GET …/oauth2PermissionGrants); a new one costs one servicePrincipal read for its name
- full_access: mailbox FullAccess holders (Exchange Get-MailboxPermission)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actions.common import internal_domains
from actions.errors import NotFound
from actions.items import PASSWORD_METHOD_TYPE, _method_label, hiding_folders, list_items, rule_suspicion
from actions.remove_forwarding import FORWARDING_FIELDS
from actions.spec import ActionContext

Snapshot = dict[str, Any]
FACETS = ("account", "block", "rules", "forwarding", "methods", "grants", "full_access")


@dataclass(frozen=True)
class Change:
    """One thing undone or added since containment, reported once (kept in Redis by bot/watch/store.py)."""

    facet: str
    key: str  # unique within a watch generation: the report-once guard
    text: str  # "account re-enabled"
    hint: str = ""  # "probably directory sync"
    item: str = ""  # the id a per-item button acts on (a re-created inbox rule)
    item_label: str = ""


def _rule_signature(rule: Mapping[str, Any]) -> str:
    essence = {"conditions": rule.get("conditions"), "actions": rule.get("actions"), "name": rule.get("displayName")}
    return hashlib.sha256(json.dumps(essence, sort_keys=True, default=str).encode()).hexdigest()[:16]


async def _rules(ctx: ActionContext, known: Mapping[str, Any]) -> dict[str, Any]:
    rules = await ctx.tenant.list_inbox_rules(ctx.target.id)
    fresh = [rule for rule in rules
             if str(rule.get("id")) not in known or known[str(rule["id"])].get("sig") != _rule_signature(rule)]
    hiding = await hiding_folders(ctx, fresh) if fresh else {}
    domains = internal_domains(ctx)
    result: dict[str, Any] = {}
    for rule in rules:
        rule_id, signature = str(rule.get("id")), _rule_signature(rule)
        before = known.get(rule_id)
        suspicious = (str(before.get("suspicious", "")) if before and before.get("sig") == signature
                      else rule_suspicion(rule, domains, hiding))
        result[rule_id] = {"name": str(rule.get("displayName") or "(no name)"),
                           "enabled": bool(rule.get("isEnabled", True)), "suspicious": suspicious, "sig": signature}
    return result


async def _forwarding(ctx: ActionContext) -> list[str] | None:
    if ctx.exchange is None:
        return None
    mailboxes, _ = await ctx.exchange.invoke("Get-Mailbox", {"Identity": ctx.target.upn})
    if not mailboxes:
        return None
    return sorted(str(mailboxes[0][field]) for field in FORWARDING_FIELDS[:2] if mailboxes[0].get(field))


async def _grants(ctx: ActionContext, known: Mapping[str, str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for grant in await ctx.tenant.list_consent_grants(ctx.target.id):
        grant_id = str(grant.get("id"))
        if grant_id in known:
            result[grant_id] = known[grant_id]
            continue
        client = str(grant.get("clientId"))
        try:
            name = str((await ctx.tenant.get_service_principal(client)).get("displayName") or client)
        except NotFound:
            name = client
        result[grant_id] = f"{name} ({grant.get('scope') or 'no scopes'})"
    return result


async def take(ctx: ActionContext, block: Mapping[str, Any] | None, previous: Snapshot | None,
               has_mailbox: bool) -> Snapshot:
    """Read every facet of ctx.target now. `block`: the Riposte block policy known for the user ({policy_id,
    displayName}) or None; `previous`: the last snapshot (spares re-judging unchanged rules and re-naming apps)."""
    previous = previous or {}
    user = await ctx.tenant.get_user_fields(ctx.target.id, ["accountEnabled", "onPremisesSyncEnabled"])
    snapshot: Snapshot = {"account": {"enabled": user.get("accountEnabled") is not False,
                                      "synced": bool(user.get("onPremisesSyncEnabled"))}}
    snapshot["block"] = None
    if block:
        try:
            policy = await ctx.tenant.get_ca_policy(str(block["policy_id"]))
        except NotFound:
            snapshot["block"] = {"id": str(block["policy_id"]), "name": str(block.get("displayName", "")),
                                 "present": False, "enabled": False, "state": "deleted"}
        else:
            snapshot["block"] = {"id": str(block["policy_id"]), "name": str(policy.get("displayName", "")),
                                 "present": True, "enabled": policy.get("state") == "enabled",
                                 "state": str(policy.get("state"))}
    if has_mailbox:
        snapshot["rules"] = await _rules(ctx, previous.get("rules") or {})
        snapshot["forwarding"] = await _forwarding(ctx)
        holders = await list_items("mailbox_permission", ctx) if ctx.exchange is not None else None
        snapshot["full_access"] = None if holders is None else sorted(item.id for item in holders)
    else:
        snapshot["rules"] = snapshot["forwarding"] = snapshot["full_access"] = None
    methods = await ctx.tenant.list_auth_methods(ctx.target.id)
    snapshot["methods"] = {str(m["id"]): _method_label(m) for m in methods
                           if m.get("@odata.type") != PASSWORD_METHOD_TYPE}
    snapshot["grants"] = await _grants(ctx, previous.get("grants") or {})
    return snapshot


def _hot(rule: Mapping[str, Any] | None) -> bool:
    return bool(rule and rule.get("enabled") and rule.get("suspicious"))


def compare(baseline: Snapshot, now: Snapshot, skip: frozenset[str] = frozenset()) -> list[Change]:
    """What `now` shows undone or added against the baseline, except on the facets in `skip` (re-baselined)."""
    changes: list[Change] = []
    account, was = now.get("account") or {}, baseline.get("account") or {}
    if "account" not in skip and was.get("enabled") is False and account.get("enabled"):
        hint = "probably directory sync (the account is synced from on-premises)" if account.get("synced") else ""
        changes.append(Change("account", "account", "account re-enabled", hint))
    block, was_block = now.get("block"), baseline.get("block")
    if "block" not in skip and was_block and was_block.get("enabled") and block and not block.get("enabled"):
        what = "removed" if not block.get("present") else f"disabled (state {block.get('state')})"
        changes.append(Change("block", f"block:{block.get('id')}", f"block policy “{block.get('name')}” {what}"))
    if "rules" not in skip:
        before = baseline.get("rules") or {}
        for rule_id, rule in (now.get("rules") or {}).items():
            if _hot(rule) and not _hot(before.get(rule_id)):
                verb = "re-enabled" if rule_id in before else "created"
                changes.append(Change("rules", f"rule:{rule_id}",
                                      f"suspicious inbox rule “{rule['name']}” {verb}: {rule['suspicious']}",
                                      item=rule_id, item_label=str(rule["name"])))
    for facet, noun in (("forwarding", "mailbox forwarding to"), ("full_access", "FullAccess to the mailbox for")):
        if facet in skip or baseline.get(facet) is None:
            continue
        for value in now.get(facet) or []:
            if value not in baseline[facet]:
                changes.append(Change(facet, f"{facet}:{value}", f"new {noun} {value}", item=value))
    for facet, noun in (("methods", "new MFA method"), ("grants", "new consented app")):
        if facet in skip:
            continue
        for key, label in (now.get(facet) or {}).items():
            if key not in (baseline.get(facet) or {}):
                changes.append(Change(facet, f"{facet}:{key}", f"{noun}: {label}", item=key, item_label=label))
    return changes


def merge(baseline: Snapshot | None, now: Snapshot, rebase: frozenset[str]) -> Snapshot:
    """The next baseline: re-baselined facets (a Riposte action changed them on purpose) as read now; elsewhere the
    baseline, less what has gone since (so removed-then-re-added counts as new), plus fresh rule judgements."""
    if baseline is None:
        return now
    merged: Snapshot = {}
    for facet in FACETS:
        old, new = baseline.get(facet), now.get(facet)
        if facet in rebase or old is None:
            merged[facet] = new
        elif isinstance(old, dict) and facet in ("rules", "methods", "grants"):
            merged[facet] = {key: old[key] for key in old if isinstance(new, dict) and key in new}
        elif isinstance(old, list):
            merged[facet] = [value for value in old if value in (new or [])]
        else:
            merged[facet] = old
    return merged


def missing_parts(now: Snapshot) -> list[str]:
    """What still lets the attacker in or out, as read now: empty means contained."""
    parts = []
    account, block = now.get("account") or {}, now.get("block") or {}
    if account.get("enabled") and not block.get("enabled"):
        parts.append("sign-in still possible (account enabled, no block policy)")
    parts.extend(f"forwarding to {address}" for address in now.get("forwarding") or [])
    parts.extend(f"suspicious inbox rule “{rule['name']}” enabled"
                 for rule in (now.get("rules") or {}).values() if _hot(rule))
    return parts
