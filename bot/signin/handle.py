"""The sign-in flow of a click in delegated mode: Riposte's own checks have passed; when the run needs the
clicker's own Graph token, get it from the token service (cached, a Teams token exchanged, or the code of a sign-in
just finished), else answer the click with a sign-in request. The token is checked against Graph's /me (it must be
the clicker's own) and handed to the run in memory only.

The Universal Actions protocol (Teams docs, "SSO for Adaptive Cards Universal Actions"): no token → 401
`application/vnd.microsoft.activity.loginRequest` with an OAuth card (tokenExchangeResource for silent single
sign-on, a sign-in link as the fallback); Teams sends the click again with value.authentication (a token to
exchange; one that cannot be exchanged is answered 412, and Teams falls back to the link) or value.state (the code
after a sign-in)."""

from __future__ import annotations

import logging
from dataclasses import replace

from actions import ACTIONS
from actions.errors import RiposteError
from actions.graph import acting_as
from actions.spec import ActionSpec, SignedIn, TargetUser, any_of
from bot.services import Services
from bot.signin import rules
from bot.signin.tokens import (
    LOGIN_REQUEST,
    PRECONDITION_FAILED,
    ClickSignIn,
    ExchangeRefused,
    SignInAnswer,
    SignInRefused,
)

log = logging.getLogger(__name__)
# What Teams' own answer to a failed exchange says (botbuilder's TeamsSSOTokenExchangeMiddleware uses the same).
CONSENT_BUTTON = "Open admin consent"  # for a Global Administrator: consents once for the tenant
EXCHANGE_FAILED = "The bot is unable to exchange token. Proceed with regular login."


def _consent_missing(message: str) -> bool:
    """AADSTS65001 (no consent) or AADSTS90094 (an administrator must consent) in the token service's answer."""
    return any(code in message for code in ("AADSTS65001", "AADSTS90094", "consent_required"))


def consent_text(services: Services) -> str:
    url = rules.consent_url(services.settings)
    where = f": {url}" if url else " (Entra admin centre › App registrations › Riposte › API permissions)"
    return ("Riposte's delegated Graph permissions are not consented in this tenant yet, so nobody can act on "
            f"administrators or reset passwords with their own rights. A Global Administrator must consent once"
            f"{where}. Nothing ran.")


async def person_for(services: Services, signin: ClickSignIn | None, spec: ActionSpec, target: TargetUser,
                     clicker_id: str, clicker_name: str) -> SignedIn | None:
    """The clicker as a signed-in person whose token runs `spec` on `target`, or None when the app's rights run
    it. Raises SignInAnswer (answer the click with it) or SignInRefused (say why on the card)."""
    roles = rules.roles_needed(services.settings, spec, target)
    if roles is None:
        return None
    if not services.settings.oauth_connection:
        raise SignInRefused(f"{spec.title} {rules.NOT_CONFIGURED}. Nothing ran.")
    if signin is None or signin.tokens is None:
        raise SignInRefused(f"{spec.title} runs with your own Entra rights, which needs a Teams client that can "
                            "sign you in from a card (new Teams, or Teams on the web). Nothing ran.")
    token = await _token(services, signin, spec, target)
    person = SignedIn(id="", name=clicker_name, upn="", token=token, roles_needed=roles,
                      scope=spec.delegated_scope, consent_url=rules.consent_url(services.settings))
    with acting_as(person):
        me = await services.tenant.signed_in_user()
    if str(me.get("id", "")).lower() != clicker_id.lower():
        try:  # the next click asks again, rather than reusing someone else's sign-in
            await signin.tokens.sign_out()
            then = "You are signed out of Riposte's connection now; click again and sign in as yourself."
        except RiposteError:
            then = "Riposte could not sign you out of its connection: type `sign out`, then click again."
        raise SignInRefused(f"You signed in as {me.get('userPrincipalName') or 'someone else'}, but clicked as "
                            f"{clicker_name}: {spec.title} must run with your own rights. {then} Nothing ran.")
    log.info("%s signed in for %s (their own Entra rights; needs %s)", me.get("userPrincipalName"), spec.name,
             any_of(roles))
    return replace(person, id=str(me["id"]), name=str(me.get("displayName") or clicker_name),
                   upn=str(me.get("userPrincipalName") or ""))


async def _token(services: Services, signin: ClickSignIn, spec: ActionSpec, target: TargetUser) -> str:
    tokens = signin.tokens
    assert tokens is not None
    if signin.teams_token:
        try:
            return await tokens.exchange(signin.teams_token)
        except ExchangeRefused as refused:
            if _consent_missing(str(refused)):
                url = rules.consent_url(services.settings)
                raise SignInRefused(consent_text(services), (CONSENT_BUTTON, url) if url else None) from None
            log.info("a Teams token could not be exchanged (%s); answered 412 for the sign-in link", refused)
            raise SignInAnswer(412, PRECONDITION_FAILED, {"code": "412", "message": EXCHANGE_FAILED}) from None
    token = await tokens.redeem(signin.code) if signin.code else await tokens.cached()
    if token:
        return token
    text = (f"Sign in to run {spec.title} on {target.label} with your own Entra rights (you need "
            f"{rules.roles_text(services.settings, spec, target)}).")
    raise SignInAnswer(401, LOGIN_REQUEST, await tokens.sign_in_card(text))


async def typed_sign_in(services: Services, case_id: str) -> str:
    """Why the person who typed a command should sign in before pressing Confirm ("" when they need not): its card
    offers an action that Confirm runs with the clicker's own token (no approval comes between)."""
    if not services.settings.oauth_connection:
        return ""
    case = await services.cases.get(case_id)
    if case is None or case.target is None:
        return ""
    for name in case.offered:
        spec = ACTIONS[name]
        roles = rules.roles_needed(services.settings, spec, case.target)
        if roles and not services.policy.needs_approval(name, case.target):
            return (f"{spec.title} on {case.target.label} runs with your own Entra rights (you need {any_of(roles)}): "
                    "sign in, then press Confirm.")
    return ""
