"""The Bot Framework token service as the sign-in flow sees it (bot/teams/user_tokens.py speaks it through
botbuilder's UserTokenClient), what a click brings for it, and the answers a click may need instead of a card."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from actions.errors import RiposteError

LOGIN_REQUEST = "application/vnd.microsoft.activity.loginRequest"
PRECONDITION_FAILED = "application/vnd.microsoft.error.preconditionFailed"


class TokenServiceError(RiposteError):
    """The token service refused or could not be reached (an unknown connection name, an outage)."""


class ExchangeRefused(RiposteError):
    """The token service could not exchange a Teams token (its message says why, e.g. AADSTS65001: no consent)."""


class TokenService(Protocol):
    """The token service for one turn's clicker and the configured OAuth connection. Tokens pass through; none is
    kept by Riposte (the token service caches them)."""

    async def cached(self) -> str | None:
        """The clicker's token if the token service holds one (signed in before), else None."""
        ...

    async def redeem(self, code: str) -> str | None:
        """The token a sign-in left for this code (the invoke's value.state), or None."""
        ...

    async def exchange(self, teams_token: str) -> str:
        """Exchange Teams' single-sign-on token for a Graph token; ExchangeRefused when it cannot."""
        ...

    async def sign_out(self) -> None:
        """Drop the clicker's token at the token service (it was someone else's)."""
        ...

    async def sign_in_card(self, text: str) -> dict[str, Any]:
        """An OAuth card (connectionName, tokenExchangeResource, a sign-in link) for a loginRequest."""
        ...


@dataclass(frozen=True)
class ClickSignIn:
    """What an Action.Execute invoke carries for sign-in: a Teams token to exchange (value.authentication.token)
    or the code of a finished sign-in (value.state), and the token service to take them to."""

    tokens: TokenService | None = None
    teams_token: str = field(default="", repr=False)
    code: str = field(default="", repr=False)


class SignInAnswer(Exception):
    """The click must be answered with this instead of a card: 401 loginRequest (sign in) or 412 (the Teams token
    could not be exchanged: Teams falls back to the sign-in link)."""

    def __init__(self, status_code: int, content_type: str, value: dict[str, Any]) -> None:
        super().__init__(f"sign-in answer {status_code}")
        self.status_code, self.content_type, self.value = status_code, content_type, value


class SignInRefused(RiposteError):
    """Sign-in cannot help (no consent, signed in as someone else, no connection): the card says why, with a
    button to where it can be mended (`link`: the admin consent page) when there is one."""

    def __init__(self, message: str, link: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.link = link
