"""botbuilder's user token client (OAuth sign-in cards, SSO token exchange), built only when something uses it.

CloudAdapter builds one for every incoming activity, whether or not the turn signs anyone in: a TokenApiClient with
its own msrest pipeline and a requests Session (a urllib3 pool manager), about a quarter of the CPU of answering a
click (measured with bench/click_latency.py under py-spy). Riposte has no sign-in prompt, so the client is almost
never needed; when it is, the first call builds the real one exactly as botbuilder would have.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import ClaimsIdentity
from botframework.connector.auth.user_token_client import UserTokenClient


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


class BotAuthentication(ConfigurationBotFrameworkAuthentication):  # type: ignore[misc]
    """ConfigurationBotFrameworkAuthentication whose user token clients are built on first use."""

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        build = super().create_user_token_client
        return LazyUserTokenClient(lambda: build(claims_identity))
