"""What several actions share: applicability rules, and checks on what the card handed the action."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actions.errors import RiposteError
from actions.spec import ActionContext, Exchange, Item, TargetUser

NO_MAILBOX = "no Exchange Online mailbox"
GUEST_MAILBOX = "guest account: their mailbox (if any) is in their home tenant"
GUEST_HOME_TENANT = "guest account: the password is managed by their home tenant"
SYNCED_ON_PREMISES = "password is managed on-premises (the account is synced from Active Directory): reset it there"
EXCHANGE_NEEDS = "the Exchange.ManageAsApp permission and the Exchange Administrator role"
EXCHANGE_PERMISSION = "Exchange.ManageAsApp + Exchange Administrator role"  # an Exchange-backed action's needs
RULES_IN_OUTLOOK = "Outlook on the web › Settings › Mail › Rules"


def mailbox_not_applicable(target: TargetUser) -> str | None:
    if target.is_guest:
        return GUEST_MAILBOX
    if not target.has_mailbox:
        return NO_MAILBOX
    return None


def password_not_applicable(target: TargetUser) -> str | None:
    if target.is_guest:
        return GUEST_HOME_TENANT
    if target.on_premises_sync:
        return SYNCED_ON_PREMISES
    return None


def require_exchange(ctx: ActionContext) -> Exchange:
    if ctx.exchange is None:
        raise RiposteError(
            "Exchange Online is not configured for Riposte, so mailbox forwarding, permissions and transport rules "
            f"cannot be changed; the app needs {EXCHANGE_NEEDS}."
        )
    return ctx.exchange


def with_warnings(summary: str, warnings: tuple[str, ...]) -> str:
    """An outcome's summary with what Exchange warned about: the cmdlet succeeded, but the responder should know."""
    if not warnings:
        return summary
    return summary + " Exchange warned: " + " ".join(f"“{warning}”" for warning in warnings)


def require_item(ctx: ActionContext, kind: str) -> Item:
    if ctx.item is None or ctx.item.kind != kind:
        raise RiposteError(f"No {kind.replace('_', ' ')} was chosen; pick one from the list on the card.")
    return ctx.item


def require_saved(ctx: ActionContext, *keys: str) -> Mapping[str, Any]:
    """What the reversed action saved; refuse rather than guess when it is missing."""
    saved = ctx.saved or {}
    missing = [key for key in keys if key not in saved]
    if missing:
        raise RiposteError(
            f"Nothing to restore from: the saved copy lacks {', '.join(missing)} (was the original action run by "
            "Riposte on this case?)."
        )
    return saved


def internal_domains(ctx: ActionContext) -> set[str]:
    """Mail domains counted as inside the tenant: the target's own, plus any the bot passes in options."""
    domains = {str(d).lower() for d in ctx.options.get("internal_domains", [])}
    for address in (ctx.target.upn, ctx.target.mail or ""):
        if "@" in address:
            domains.add(address.rsplit("@", 1)[1].lower())
    return domains


def is_external(address: str, domains: set[str]) -> bool:
    bare = address.split(":", 1)[-1] if address.lower().startswith("smtp:") else address
    domain = bare.rsplit("@", 1)[1].lower() if "@" in bare else ""
    return bool(domain) and domain not in domains and not any(domain.endswith(f".{d}") for d in domains)
