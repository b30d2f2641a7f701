"""Starts the sandbox tenant (Graph) and the sandbox channel (Bot Connector + page) on free loopback ports,
and says how the bot's settings point at them. Used by `python app.py` in local mode and by the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from actions.credentials import StaticTokenCredential
from bot.config import Settings
from sandbox.channel import CHANNEL, SANDBOX_CHANNEL_ID, create_channel_app
from sandbox.seed import load_seed
from sandbox.tenant import SANDBOX_GRAPH_TOKEN, create_tenant_app


@dataclass
class RunningServer:
    runner: web.AppRunner
    url: str  # base URL without a trailing slash

    @property
    def app(self) -> web.Application:
        return self.runner.app


async def start_server(app: web.Application, host: str = "127.0.0.1", port: int = 0, **site: Any) -> RunningServer:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, host, port, **site)
    await tcp.start()
    bound_port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    scheme = "https" if site.get("ssl_context") else "http"
    return RunningServer(runner, f"{scheme}://{host}:{bound_port}")


def sandbox_settings(settings: Settings, seed: dict[str, Any], graph_url: str, channel_url: str) -> Settings:
    """The settings that point the bot at the sandbox, keeping anything the user set explicitly."""
    groups = {group["displayName"]: group["id"] for group in seed["groups"]}
    breakglass = [
        user["userPrincipalName"] for user in seed["users"] if user["userPrincipalName"].startswith("breakglass")
    ]
    return settings.model_copy(
        update={
            "graph_endpoint": graph_url,
            "graph_tenant_id": seed["tenant"]["id"],
            "service_url": channel_url + "/",
            "alert_channel": settings.alert_channel or SANDBOX_CHANNEL_ID,
            "responder_groups": settings.responder_groups or [groups["Riposte Responders"]],
            "approver_groups": settings.approver_groups or [groups["Riposte Approvers"]],
            "admin_responder_groups": settings.admin_responder_groups or [groups["Riposte Admin Responders"]],
            "protected_users": settings.protected_users or breakglass,
        }
    )


@dataclass
class Sandbox:
    tenant: RunningServer
    channel: RunningServer
    settings: Settings
    credential: StaticTokenCredential
    page_url: str

    async def close(self) -> None:
        await self.channel.runner.cleanup()
        await self.tenant.runner.cleanup()


async def start_sandbox(bot_base_url: str, settings: Settings, host: str = "127.0.0.1") -> Sandbox:
    seed = load_seed()
    tenant = await start_server(create_tenant_app(seed), host)
    channel = await start_server(create_channel_app(seed), host)
    state = channel.app[CHANNEL]
    state.bot_base_url = bot_base_url
    state.service_url = channel.url + "/"
    state.alert_token = settings.alert_token.get_secret_value() or None
    return Sandbox(
        tenant=tenant,
        channel=channel,
        settings=sandbox_settings(settings, seed, tenant.url, channel.url),
        credential=StaticTokenCredential(SANDBOX_GRAPH_TOKEN),
        page_url=f"{channel.url}/sandbox",
    )
