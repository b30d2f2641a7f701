"""Listings of the things per-item actions act on, each with why it looks malicious (suspicious ones first).

The bot renders these as per-item buttons and, on a click, looks the chosen item up again here (by id), so no
card data is trusted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from actions.common import internal_domains, is_external, require_exchange
from actions.errors import RiposteError
from actions.spec import ActionContext, Item

PASSWORD_METHOD_TYPE = "#microsoft.graph.passwordAuthenticationMethod"  # noqa: S105 (a type name)
TAP_METHOD_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
RECENT_METHOD = timedelta(days=7)

# --- inbox rules ---------------------------------------------------------------------------------

_FORWARDS = {"forwardTo": "forwards", "forwardAsAttachmentTo": "forwards as attachment", "redirectTo": "redirects"}
# Folders nobody reads. Graph finds these by well-known name whatever the mailbox's language; RSS Feeds has no
# well-known name in Graph v1.0, so it is recognised by display name (spaces and case ignored).
_HIDING_WELL_KNOWN = ("archive", "deleteditems", "junkemail", "conversationhistory")
_HIDING_NAMES = {"rssfeeds", "rsssubscriptions", *_HIDING_WELL_KNOWN}
_SECURITY_WORDS = ("security", "password", "sign-in", "signin", "mfa", "verification", "verify", "invoice",
                   "payment", "wire", "phish", "suspicious", "compromise", "unusual", "hack", "helpdesk")
_TEXT_CONDITIONS = ("subjectContains", "bodyContains", "bodyOrSubjectContains", "senderContains")


def rule_suspicion(rule: Mapping[str, Any], domains: set[str], hiding: Mapping[str, str]) -> str:
    """Why an inbox rule looks like an attacker's, or "" when it looks benign. `hiding`: folder id → name, for
    the folders nobody reads (see hiding_folders)."""
    actions: Mapping[str, Any] = rule.get("actions") or {}
    conditions: Mapping[str, Any] = rule.get("conditions") or {}
    reasons: list[str] = []
    for key, verb in _FORWARDS.items():
        # Every forward is worth a look (an attacker may relay through a second compromised mailbox); one that
        # leaves the tenant says so.
        addresses = [str((r.get("emailAddress") or {}).get("address", "")) for r in actions.get(key) or []]
        external = [address for address in addresses if is_external(address, domains)]
        if external:
            reasons.append(f"{verb} mail outside {', '.join(sorted(domains)) or 'the tenant'} ({', '.join(external)})")
        elif addresses:
            reasons.append(f"{verb} mail to {', '.join(addresses)}")
    if actions.get("permanentDelete"):
        reasons.append("permanently deletes mail")
    elif actions.get("delete"):
        reasons.append("deletes mail")
    folder = str(actions.get("moveToFolder") or "")
    if folder in hiding:
        reasons.append(f"moves mail to {hiding[folder]}")
    words = sorted({
        word for key in _TEXT_CONDITIONS for text in conditions.get(key) or []
        for word in _SECURITY_WORDS if word in str(text).lower()
    })
    if actions.get("markAsRead") and words:
        reasons.append(f"marks mail about {', '.join(words)} as read")
    name = str(rule.get("displayName") or "")
    if reasons and not any(ch.isalnum() for ch in name):
        reasons.append(f"has a meaningless name ({name!r})")
    return "; ".join(reasons)


def _plain(name: str) -> str:
    return name.replace(" ", "").lower()


async def hiding_folders(ctx: ActionContext, rules: list[dict[str, Any]]) -> dict[str, str]:
    """Of the folders these rules move mail to (Graph names them by id), the ones nobody reads: id → name.

    A folder that cannot be read (no Mail.ReadBasic.All, or gone) is judged by its id alone, so the listing
    still works, just less sharply."""
    moved_to = sorted({str(folder) for rule in rules if (folder := (rule.get("actions") or {}).get("moveToFolder"))})
    if not moved_to:
        return {}

    async def look_up(folder: str) -> dict[str, Any]:
        try:
            return await ctx.tenant.get_mail_folder(ctx.target.id, folder)
        except RiposteError:
            return {}

    found = await asyncio.gather(*(look_up(folder) for folder in (*_HIDING_WELL_KNOWN, *moved_to)))
    well_known_ids = {str(folder.get("id")) for folder in found[:len(_HIDING_WELL_KNOWN)] if folder}
    hiding: dict[str, str] = {}
    for folder_id, folder in zip(moved_to, found[len(_HIDING_WELL_KNOWN):], strict=True):
        name = str(folder.get("displayName") or folder_id)
        if folder_id in well_known_ids or _plain(name) in _HIDING_NAMES:
            hiding[folder_id] = name
    return hiding


async def inbox_rules(ctx: ActionContext) -> list[Item]:
    """The target's inbox rules as listing items, suspicious ones first."""
    rules = await ctx.tenant.list_inbox_rules(ctx.target.id)
    return inbox_rule_items(rules, internal_domains(ctx), await hiding_folders(ctx, rules))


def inbox_rule_items(rules: list[dict[str, Any]], domains: set[str], hiding: Mapping[str, str]) -> list[Item]:
    items = [
        Item(
            kind="inbox_rule",
            id=str(rule["id"]),
            label=str(rule.get("displayName") or "(no name)") + ("" if rule.get("isEnabled", True) else " (disabled)"),
            suspicious=rule_suspicion(rule, domains, hiding),
            detail={"displayName": rule.get("displayName"), "isEnabled": rule.get("isEnabled", True),
                    "sequence": rule.get("sequence")},
        )
        for rule in sorted(rules, key=lambda r: int(r.get("sequence") or 0))
    ]
    return _suspicious_first(items)


# --- apps the user consented to ------------------------------------------------------------------

_RISKY_SCOPES = {
    "Mail.Read": "read mail", "Mail.ReadWrite": "read and change mail", "Mail.Send": "send mail as the user",
    "MailboxSettings.ReadWrite": "change mailbox settings (rules, forwarding)", "Files.Read.All": "read all files",
    "Files.ReadWrite.All": "read and change all files", "Contacts.Read": "read contacts",
    "Contacts.ReadWrite": "change contacts", "Directory.ReadWrite.All": "change the directory",
    "EWS.AccessAsUser.All": "full mailbox access over EWS", "full_access_as_user": "full mailbox access",
    "Sites.ReadWrite.All": "change all SharePoint sites", "Chat.ReadWrite": "read and send Teams chats",
}


async def _apps(ctx: ActionContext) -> list[Item]:
    grants = await ctx.tenant.list_consent_grants(ctx.target.id)
    principals: dict[str, dict[str, Any]] = {}
    items = []
    for grant in grants:
        sp_id = str(grant.get("clientId"))
        if sp_id not in principals:
            principals[sp_id] = await ctx.tenant.get_service_principal(sp_id)
        sp = principals[sp_id]
        scopes = str(grant.get("scope") or "").split()
        risky = [_RISKY_SCOPES[s] for s in scopes if s in _RISKY_SCOPES]
        reasons = [f"can {', '.join(risky)}"] if risky else []
        if risky and "offline_access" in scopes:
            reasons.append("keeps access while the user is away (offline_access)")
        if not (sp.get("verifiedPublisher") or {}).get("verifiedPublisherId"):
            reasons.append("publisher not verified")
        name = str(sp.get("displayName") or sp_id)
        items.append(Item(
            kind="app",
            id=str(grant["id"]),
            label=f"{name} ({' '.join(scopes) or 'no scopes'})",
            suspicious="; ".join(reasons) if risky else "",
            detail={"servicePrincipalId": sp_id, "grantId": str(grant["id"]), "displayName": name,
                    "scope": " ".join(scopes)},
        ))
    return _suspicious_first(items)


# --- Teams apps ----------------------------------------------------------------------------------


async def _teams_apps(ctx: ActionContext) -> list[Item]:
    items = []
    for install in await ctx.tenant.list_teams_apps(ctx.target.id):
        app = install.get("teamsApp") or {}
        name = str(app.get("displayName") or install["id"])
        sideloaded = app.get("distributionMethod") == "sideloaded"
        why = "sideloaded: a custom app uploaded outside the store and the org catalogue" if sideloaded else ""
        items.append(Item(
            kind="teams_app",
            id=str(install["id"]),
            label=name,
            suspicious=why,
            detail={"teamsAppId": app.get("id"), "displayName": name,
                    "distributionMethod": app.get("distributionMethod")},
        ))
    return _suspicious_first(items)


# --- authentication methods ----------------------------------------------------------------------


def _method_label(method: Mapping[str, Any]) -> str:
    kind = str(method.get("@odata.type", "")).rsplit(".", 1)[-1]
    if kind == "phoneAuthenticationMethod":
        return f"Phone ({method.get('phoneType') or 'phone'}) {method.get('phoneNumber') or ''}".strip()
    if kind == "microsoftAuthenticatorAuthenticationMethod":
        return f"Microsoft Authenticator: {method.get('displayName') or 'device'}"
    if kind == "fido2AuthenticationMethod":
        return f"FIDO2 security key: {method.get('displayName') or method.get('model') or 'key'}"
    if kind == "emailAuthenticationMethod":
        return f"Email: {method.get('emailAddress') or ''}".strip()
    if kind == "softwareOathAuthenticationMethod":
        return "Software OATH token"
    if kind == "temporaryAccessPassAuthenticationMethod":
        usable = "one-time" if method.get("isUsableOnce") else "reusable"
        return f"Temporary Access Pass ({usable}, {method.get('lifetimeInMinutes') or '?'} min)"
    if kind == "windowsHelloForBusinessAuthenticationMethod":
        return f"Windows Hello for Business: {method.get('displayName') or 'device'}"
    if kind == "platformCredentialAuthenticationMethod":
        return f"Platform credential (macOS): {method.get('displayName') or 'device'}"
    return kind.removesuffix("AuthenticationMethod") or "method"


def _created(method: Mapping[str, Any]) -> datetime | None:
    value = method.get("createdDateTime")
    if not value:
        return None
    try:
        created = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return created if created.tzinfo else created.replace(tzinfo=UTC)


async def _auth_methods(ctx: ActionContext) -> list[Item]:
    methods = [m for m in await ctx.tenant.list_auth_methods(ctx.target.id)
               if m.get("@odata.type") != PASSWORD_METHOD_TYPE]
    oldest = datetime.min.replace(tzinfo=UTC)
    methods.sort(key=lambda m: _created(m) or oldest, reverse=True)
    now = datetime.now(UTC)
    items = []
    for method in methods:
        created = _created(method)
        recent = created is not None and now - created < RECENT_METHOD
        reasons = [f"registered recently ({created:%Y-%m-%d %H:%M} UTC)"] if recent and created else []
        if method.get("@odata.type") == TAP_METHOD_TYPE:
            reasons.append("signs in without the password or MFA while it is valid")
        items.append(Item(
            kind="auth_method",
            id=str(method["id"]),
            label=_method_label(method),
            suspicious="; ".join(reasons),
            detail={"odata_type": method.get("@odata.type"), "createdDateTime": method.get("createdDateTime")},
        ))
    return items  # newest first: a method the attacker added is usually the newest


# --- Exchange: mailbox permissions and transport rules -------------------------------------------


async def _mailbox_permissions(ctx: ActionContext) -> list[Item]:
    entries, _ = await require_exchange(ctx).invoke("Get-MailboxPermission", {"Identity": ctx.target.upn})
    items = []
    for entry in entries:
        holder = str(entry.get("User") or "")
        rights = entry.get("AccessRights") or []
        rights_text = ", ".join(str(r) for r in ([rights] if isinstance(rights, str) else rights))
        if (holder.upper().startswith("NT AUTHORITY\\") or entry.get("IsInherited") or entry.get("Deny")
                or "fullaccess" not in rights_text.replace(" ", "").lower()):
            continue
        items.append(Item(kind="mailbox_permission", id=holder, label=f"{holder}: {rights_text}",
                          detail={"accessRights": rights_text}))
    return items


_RULE_RECIPIENTS = ("BlindCopyTo", "CopyTo", "AddToRecipients", "RedirectMessageTo")


async def _transport_rules(ctx: ActionContext) -> list[Item]:
    rules, _ = await require_exchange(ctx).invoke("Get-TransportRule", {})
    domains = internal_domains(ctx)
    items = []
    for rule in rules:
        external = [
            str(address) for key in _RULE_RECIPIENTS
            for address in ([rule[key]] if isinstance(rule.get(key), str) else rule.get(key) or [])
            if is_external(str(address), domains)
        ]
        name = str(rule.get("Name") or rule.get("Identity"))
        items.append(Item(
            kind="transport_rule",
            id=str(rule.get("Identity") or rule.get("Name")),
            label=f"{name} ({rule.get('State', 'Enabled')})",
            suspicious=f"copies or redirects mail outside the tenant ({', '.join(external)})" if external else "",
            detail={"name": name, "state": rule.get("State")},
        ))
    return _suspicious_first(items)


def _suspicious_first(items: list[Item]) -> list[Item]:
    return sorted(items, key=lambda item: not item.suspicious)  # stable: keeps each group's order


LISTERS: Mapping[str, Callable[[ActionContext], Awaitable[list[Item]]]] = {
    "inbox_rule": inbox_rules,
    "app": _apps,
    "teams_app": _teams_apps,
    "auth_method": _auth_methods,
    "mailbox_permission": _mailbox_permissions,
    "transport_rule": _transport_rules,
}


async def list_items(kind: str, ctx: ActionContext) -> list[Item]:
    """The items of `kind` for ctx.target (transport rules: the organization's), suspicious ones first."""
    lister = LISTERS.get(kind)
    if lister is None:
        raise RiposteError(f"Riposte cannot list {kind!r}; known kinds: {', '.join(LISTERS)}.")
    return await lister(ctx)


async def find_item(kind: str, item_id: str, ctx: ActionContext) -> Item:
    """The item with this id, listed afresh (what the bot does with a per-item click)."""
    for item in await list_items(kind, ctx):
        if item.id == item_id:
            return item
    raise RiposteError(f"That {kind.replace('_', ' ')} is no longer there (removed since the card was drawn?).")
