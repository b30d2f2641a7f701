"""botbuilder's user token client is built on the first call that needs it, as botbuilder would have built it, and
no sooner (CloudAdapter asks for one on every activity)."""

from __future__ import annotations

from botframework.connector.auth import ClaimsIdentity
from botframework.connector.auth.user_token_client import UserTokenClient

from bot.config import Settings
from bot.teams.adapter import _BotAuthConfig, build_adapter
from bot.teams.token_client import BotAuthentication, LazyUserTokenClient


async def test_the_user_token_client_is_built_on_first_use_and_once() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert isinstance(build_adapter(settings).bot_framework_authentication, BotAuthentication)
    authentication = BotAuthentication(_BotAuthConfig(settings))
    client = await authentication.create_user_token_client(ClaimsIdentity({}, True))
    assert isinstance(client, LazyUserTokenClient) and client._client is None
    real = await client.real()
    assert isinstance(real, UserTokenClient) and not isinstance(real, LazyUserTokenClient)
    assert await client.real() is real
