"""The Bot Framework token service through botbuilder's UserTokenClient (the turn's, bot/teams/token_client.py):
the sign-in flow's TokenService port over it, and the invoke answers a sign-in needs. Tokens pass through here;
none is kept."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import InvokeResponse, Storage, TurnContext
from botbuilder.schema import ActionTypes, AdaptiveCardInvokeResponse, CardAction, OAuthCard
from botframework.connector.auth import UserTokenClient
from botframework.connector.token_api.models import TokenExchangeRequest
from msrest.exceptions import ClientRequestError, HttpOperationError
from redis.asyncio import Redis

from bot.signin.tokens import ExchangeRefused, SignInAnswer, TokenServiceError
from bot.teams.token_client import LazyUserTokenClient

log = logging.getLogger(__name__)
EXCHANGE_ONCE_SECONDS = 600


class TurnTokens:
    """bot.signin.tokens.TokenService for this turn's sender and one OAuth connection."""

    def __init__(self, turn_context: TurnContext, connection: str) -> None:
        self._activity = turn_context.activity
        self._client: UserTokenClient | None = turn_context.turn_state.get(UserTokenClient.__name__)
        self._user = str(getattr(self._activity.from_property, "id", "") or "")
        self._channel = str(self._activity.channel_id or "msteams")
        self._connection = connection

    def _require(self) -> UserTokenClient:
        if self._client is None:
            raise TokenServiceError("this turn has no Bot Framework token service client")
        return self._client

    def _refused(self, error: Exception) -> TokenServiceError:
        log.warning("the token service refused a call for connection %r: %s", self._connection,
                    type(error).__name__)
        return TokenServiceError(
            f"the Bot Framework token service did not answer for the OAuth connection '{self._connection}' "
            f"({type(error).__name__}): check that RIPOSTE_OAUTH_CONNECTION names an OAuth connection setting of "
            "the Azure Bot. Nothing ran.")

    async def _get(self, code: str | None) -> str | None:
        try:
            response = await self._require().get_user_token(self._user, self._connection, self._channel, code)
        except (HttpOperationError, ClientRequestError, OSError) as error:
            raise self._refused(error) from None
        token = getattr(response, "token", None) if response is not None else None
        return str(token) if token else None

    async def cached(self) -> str | None:
        return await self._get(None)

    async def redeem(self, code: str) -> str | None:
        return await self._get(code)

    async def exchange(self, teams_token: str) -> str:
        try:
            response = await self._require().exchange_token(
                self._user, self._connection, self._channel, TokenExchangeRequest(token=teams_token))
        except (HttpOperationError, ClientRequestError, OSError) as error:
            raise ExchangeRefused(type(error).__name__) from None
        token = getattr(response, "token", None) if response is not None else None
        if not token:
            raise ExchangeRefused(await self._refusal() or "the token service returned no token")
        return str(token)

    async def _refusal(self) -> str:
        """Why the token service refused the last exchange (TokenClient keeps it)."""
        client = self._client
        real = await client.real() if isinstance(client, LazyUserTokenClient) else client
        return str(getattr(real, "refused", "") or "")

    async def sign_out(self) -> None:
        try:
            await self._require().sign_out_user(self._user, self._connection, self._channel)
        except (HttpOperationError, ClientRequestError, OSError) as error:
            raise self._refused(error) from None  # the caller must not say "signed out"

    async def sign_in_card(self, text: str) -> dict[str, Any]:
        """The OAuth card of a loginRequest: the token service's sign-in link and token exchange resource (the
        connection's Teams SSO app id URI), as botbuilder's OAuthPrompt builds its card."""
        try:
            resource = await self._require().get_sign_in_resource(self._connection, self._activity, None)
        except (HttpOperationError, ClientRequestError, OSError) as error:
            raise self._refused(error) from None
        exchange = resource.token_exchange_resource
        card = OAuthCard(
            text=text, connection_name=self._connection,
            buttons=[CardAction(type=ActionTypes.signin, title="Sign in", text="Sign in", value=resource.sign_in_link)],
            token_exchange_resource=exchange.serialize() if exchange is not None else None,
        )
        serialized: dict[str, Any] = card.serialize()
        return serialized


def sign_in_response(answer: SignInAnswer) -> InvokeResponse:
    """The invoke answer for a sign-in (HTTP 200, the status in the body, as every Universal Actions answer)."""
    body = AdaptiveCardInvokeResponse(status_code=answer.status_code, type=answer.content_type, value=answer.value)
    return InvokeResponse(status=200, body=body)


class ExchangeOnce(Storage):  # type: ignore[misc]
    """The Storage TeamsSSOTokenExchangeMiddleware needs to let one `signin/tokenExchange` per exchange id through
    (a person signed in to several Teams clients sends one from each): a write succeeds once per key, across
    replicas (Redis SET NX); a repeat raises the "Etag conflict" the middleware recognises."""

    def __init__(self, redis: Redis, prefix: str = "riposte:signin:exchange:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def read(self, keys: list[str]) -> dict[str, object]:
        return {}

    async def write(self, changes: dict[str, object]) -> None:
        for key in changes:
            if not await self._redis.set(self._prefix + key, "1", nx=True, ex=EXCHANGE_ONCE_SECONDS):
                raise StorageEtagConflict(f"Etag conflict: token exchange {key!r} was already processed")

    async def delete(self, keys: list[str]) -> None:
        if keys:
            await self._redis.delete(*(self._prefix + key for key in keys))


class StorageEtagConflict(Exception):
    """A second write of an exchange id (its message carries the words the middleware looks for)."""
