"""Which runs need a person's own Graph token (delegated mode), what Graph requires of that person, and where a
Global Administrator consents to Riposte's delegated permissions."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from actions.spec import ActionSpec, TargetUser, any_of
from bot.config import Settings

# The Bot Framework token service's redirect URI, which an app registration used by an OAuth connection already
# lists; the admin-consent link comes back there.
BOT_FRAMEWORK_REDIRECT_HOST = "https://token.botframework.com"
NOT_CONFIGURED = ("needs a person's own Entra sign-in (RIPOSTE_PRIVILEGED_ACTIONS=delegated), and "
                  "RIPOSTE_OAUTH_CONNECTION is not set")


def roles_needed(settings: Settings, spec: ActionSpec, target: TargetUser) -> tuple[str, ...] | None:
    """The Entra roles Graph requires of the person whose token runs `spec` on `target` (any one), or None when
    the app's own rights run it: app mode, an action with no delegated declaration, an ordinary target."""
    if not settings.delegated:
        return None
    if target.is_admin and spec.delegated_admin_roles:
        return spec.delegated_admin_roles
    return spec.delegated_roles or None


def needs_person(settings: Settings, spec: ActionSpec, target: TargetUser) -> bool:
    return roles_needed(settings, spec, target) is not None


def roles_text(settings: Settings, spec: ActionSpec, target: TargetUser) -> str:
    """"Privileged Authentication Administrator or Global Administrator", or "" when the app runs it."""
    return any_of(roles_needed(settings, spec, target) or ())


def unavailable(settings: Settings) -> Callable[[ActionSpec, TargetUser], str]:
    """Why a card greys an action out for sign-in reasons ("" when it does not): delegated mode without an OAuth
    connection cannot get anyone's token."""

    def reason(spec: ActionSpec, target: TargetUser) -> str:
        if settings.oauth_connection or not needs_person(settings, spec, target):
            return ""
        return NOT_CONFIGURED

    return reason


def consent_url(settings: Settings) -> str:
    """Entra's admin-consent link for the OAuth connection's app: a Global Administrator opens it once."""
    app_id = settings.oauth_app_id or settings.microsoft_app_id
    if not app_id:
        return ""
    tenant = settings.tenant_id or "organizations"
    token_service = (settings.oauth_url or BOT_FRAMEWORK_REDIRECT_HOST).rstrip("/")
    query = urlencode({"client_id": app_id, "scope": f"{settings.graph_endpoint.rstrip('/')}/.default",
                       "redirect_uri": f"{token_service}/.auth/web/redirect"})
    return f"{settings.authority_host.rstrip('/')}/{tenant}/v2.0/adminconsent?{query}"
