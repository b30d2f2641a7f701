"""The sandbox channel: a local stand-in for Microsoft Teams that the bot talks to over real HTTP.

It speaks the Bot Connector v3 REST API (the bot posts, updates and deletes activities here) and serves
/sandbox, a Teams-like page where a person picks who they are, clicks card buttons and types; those
become Teams-shaped activities POSTed to the bot's /api/messages.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.channel_activities import (
    SANDBOX_BOT_ID,
    SANDBOX_BOT_NAME,
    SANDBOX_CHANNEL_ID,
    SANDBOX_TEAM_ID,
    personal_conversation_id,
    teams_user_id,
    thread_conversation_id,
)
from sandbox.channel_connector import connector_routes
from sandbox.channel_page import page_routes
from sandbox.channel_state import ChannelState, Conversation
from sandbox.channel_tokens import SANDBOX_OAUTH_CONNECTION, token_routes

__all__ = [
    "CHANNEL",
    "SANDBOX_BOT_ID",
    "SANDBOX_BOT_NAME",
    "SANDBOX_CHANNEL_ID",
    "SANDBOX_OAUTH_CONNECTION",
    "SANDBOX_TEAM_ID",
    "ChannelState",
    "Conversation",
    "create_channel_app",
    "personal_conversation_id",
    "teams_user_id",
    "thread_conversation_id",
]

CHANNEL: web.AppKey[ChannelState] = web.AppKey("sandbox_channel", ChannelState)


def _state_of(request: web.Request) -> ChannelState:
    return request.app[CHANNEL]


def create_channel_app(seed: dict[str, Any] | None = None) -> web.Application:
    """A ready app; set app[CHANNEL].service_url and .bot_base_url once the ports are known."""
    routes, recorder = connector_routes(_state_of)
    app = web.Application(middlewares=[recorder], client_max_size=8 * 1024 * 1024)
    app[CHANNEL] = ChannelState(seed)
    app.add_routes(routes)
    app.add_routes(page_routes(_state_of))
    app.add_routes(token_routes(lambda request: request.app[CHANNEL].token_service))

    async def wake_long_polls(app: web.Application) -> None:
        # Runs before aiohttp waits for open handlers, so page long-polls (and held requests) don't hold up shutdown.
        app[CHANNEL].wake_all()
        app[CHANNEL].faults.release()

    async def close_bot_session(app: web.Application) -> None:
        await app[CHANNEL].close()

    app.on_shutdown.append(wake_long_polls)
    app.on_cleanup.append(close_bot_session)
    return app
