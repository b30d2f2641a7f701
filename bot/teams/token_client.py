"""botbuilder's user token client (OAuth sign-in cards, SSO token exchange), built only when something uses it, and
talking to `OAuthUrl` when set (a regional token service, or the sandbox's).

CloudAdapter builds one for every incoming activity, whether or not the turn signs anyone in: a TokenApiClient with
its own msrest pipeline and a requests Session (a urllib3 pool manager), about a quarter of the CPU of answering a
click (measured with bench/click_latency.py under py-spy). Most turns sign nobody in (only delegated mode's runs on
administrators and password resets do, bot/signin), so the client is rarely needed; when it is, the first call
builds the real one as botbuilder would have, with our endpoint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.integration.aiohttp import (
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity, JwtTokenValidation
from botframework.connector.auth._user_token_client_impl import _UserTokenClientImpl
from botframework.connector.auth.user_token_client import UserTokenClient
from botframework.connector.token_api.models import ErrorResponse, TokenExchangeRequest


class LazyUserTokenClient(UserTokenClient):  # type: ignore[misc]
    def __init__(self, build: Callable[[], Awaitable[UserTokenClient]]) -> None:
        self._build = build
        self._client: UserTokenClient | None = None

    async def real(self) -> UserTokenClient:
        if self._client is None:
            self._client = await self._build()
        return self._client

    async def get_user_token(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self.real()).get_user_token(*args, **kwargs)

    async def get_sign_in_resource(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self.real()).get_sign_in_resource(*args, **kwargs)

    async def sign_out_user(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self.real()).sign_out_user(*args, **kwargs)

    async def get_token_status(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self.real()).get_token_status(*args, **kwargs)

    async def get_aad_tokens(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self.real()).get_aad_tokens(*args, **kwargs)

    async def exchange_token(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self.real()).exchange_token(*args, **kwargs)


class TokenClient(_UserTokenClientImpl):  # type: ignore[misc]
    """botbuilder's client, except that a refused exchange returns None (what botbuilder's callers test for) rather
    than an ErrorResponse they would read as a token (TeamsSSOTokenExchangeMiddleware crashes on one). The reason
    is kept on the client, which lives for one turn, for the sign-in flow to read (consent missing?)."""

    refused: str = ""

    async def exchange_token(self, user_id: str, connection_name: str, channel_id: str,
                             exchange_request: TokenExchangeRequest) -> Any:
        result = await super().exchange_token(user_id, connection_name, channel_id, exchange_request)
        if isinstance(result, ErrorResponse):
            error = result.error
            self.refused = f"{getattr(error, 'code', '') or 'error'}: {getattr(error, 'message', '') or ''}"
            return None
        return result


class BotAuthentication(ConfigurationBotFrameworkAuthentication):  # type: ignore[misc]
    """ConfigurationBotFrameworkAuthentication whose user token clients are ours (TokenClient), built on first use
    and talking to `token_service_url` (botbuilder offers that only with every other endpoint spelled out too)."""

    def __init__(self, configuration: Any, token_service_url: str = "") -> None:
        self._credentials = ConfigurationServiceClientCredentialFactory(configuration)
        super().__init__(configuration, credentials_factory=self._credentials)
        self._token_service_url = token_service_url or AuthenticationConstants.OAUTH_URL
        self._bot_app_id = str(getattr(configuration, "APP_ID", "") or "")

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        return LazyUserTokenClient(lambda: self._build(claims_identity))

    async def _build(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        # What botbuilder's public-cloud authentication does, with our endpoint.
        app_id = JwtTokenValidation.get_app_id_from_claims(claims_identity.claims) or self._bot_app_id
        credentials = await self._credentials.create_credentials(
            app_id, AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
            AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX, True)
        return TokenClient(app_id, credentials, self._token_service_url)
