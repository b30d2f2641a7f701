"""Starts the sandbox tenant (Graph) and the sandbox channel (Bot Connector + page) on free loopback ports,
and says how the bot's settings point at them. Used by `python app.py` in local mode and by the tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from actions.credentials import StaticTokenCredential
from bot.config import Settings
from sandbox.channel import CHANNEL, SANDBOX_CHANNEL_ID, SANDBOX_OAUTH_CONNECTION, create_channel_app
from sandbox.seed import load_seed
from sandbox.tenant import SANDBOX_GRAPH_TOKEN, create_tenant_app
from sandbox.tls import self_signed_certificate, server_context


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


def _groups(seed: dict[str, Any]) -> dict[str, str]:
    return {group["displayName"]: group["id"] for group in seed["groups"]}


def _breakglass(seed: dict[str, Any]) -> list[str]:
    return [user["userPrincipalName"] for user in seed["users"] if user["userPrincipalName"].startswith("breakglass")]


def sandbox_settings(settings: Settings, seed: dict[str, Any], graph_url: str, channel_url: str) -> Settings:
    """The settings that point the bot at the sandbox, keeping anything the user set explicitly."""
    groups = _groups(seed)
    breakglass = _breakglass(seed)
    return settings.model_copy(
        update={
            "graph_endpoint": graph_url,
            "exchange_endpoint": graph_url,
            "authority_host": graph_url,  # the tenant signs people in (and links its admin consent) too
            "graph_tenant_id": seed["tenant"]["id"],
            "service_url": channel_url + "/",
            "alert_channel": settings.alert_channel or SANDBOX_CHANNEL_ID,
            "responder_groups": settings.responder_groups or [groups["Riposte Responders"]],
            "approver_groups": settings.approver_groups or [groups["Riposte Approvers"]],
            "admin_responder_groups": settings.admin_responder_groups or [groups["Riposte Admin Responders"]],
            "protected_users": settings.protected_users or breakglass,
            # Delegated sign-in works out of the box: the channel is also the Bot Framework token service, with
            # one OAuth connection for the sandbox app (sandbox/channel_tokens.py).
            "oauth_connection": settings.oauth_connection or SANDBOX_OAUTH_CONNECTION,
            "oauth_url": settings.oauth_url or channel_url,
            "oauth_app_id": settings.oauth_app_id or str(seed["application"]["appId"]),
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
    state.tenant_url = tenant.url
    return Sandbox(
        tenant=tenant,
        channel=channel,
        settings=sandbox_settings(settings, seed, tenant.url, channel.url),
        credential=StaticTokenCredential(SANDBOX_GRAPH_TOKEN),
        page_url=f"{channel.url}/sandbox",
    )


@dataclass
class TenantWithAuthority:
    """The sandbox tenant behind two doors: msal's HTTPS authority and Graph over loopback HTTP."""

    server: RunningServer  # https: the authority msal signs in against
    graph_url: str
    ca_file: Path


async def start_tenant_with_authority(seed: dict[str, Any], directory: Path) -> TenantWithAuthority:
    cert, key = self_signed_certificate(directory)
    server = await start_server(create_tenant_app(seed), ssl_context=server_context(cert, key))
    graph_site = web.TCPSite(server.runner, "127.0.0.1", 0)
    await graph_site.start()
    graph_port = graph_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return TenantWithAuthority(server, f"http://127.0.0.1:{graph_port}", cert)


def production_like_environment(
    seed: dict[str, Any], tenant: TenantWithAuthority, channel_url: str, redis_url: str, port: int
) -> dict[str, str]:
    """Settings for a bot *process* using the real msal path against the sandbox (tests, benchmarks)."""
    groups = _groups(seed)
    return {
        "GRAPH_TENANT_ID": seed["tenant"]["id"],
        "GRAPH_CLIENT_ID": "riposte-sandbox-app",
        "GRAPH_CLIENT_SECRET": "sandbox-client-secret",
        "AUTHORITY_HOST": tenant.server.url,
        "GRAPH_ENDPOINT": tenant.graph_url,
        "EXCHANGE_ENDPOINT": tenant.graph_url,
        "REQUESTS_CA_BUNDLE": str(tenant.ca_file),
        "REDIS_URL": redis_url,
        "RIPOSTE_ALLOW_UNAUTHENTICATED": "true",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "RIPOSTE_SERVICE_URL": channel_url + "/",
        "RIPOSTE_ALERT_CHANNEL": SANDBOX_CHANNEL_ID,
        "RIPOSTE_RESPONDER_GROUPS": groups["Riposte Responders"],
        "RIPOSTE_APPROVER_GROUPS": groups["Riposte Approvers"],
        "RIPOSTE_ADMIN_RESPONDER_GROUPS": groups["Riposte Admin Responders"],
        "RIPOSTE_PROTECTED_USERS": ",".join(_breakglass(seed)),
        "RIPOSTE_OAUTH_CONNECTION": SANDBOX_OAUTH_CONNECTION,
        "OAuthUrl": channel_url,
        "RIPOSTE_OAUTH_APP_ID": str(seed["application"]["appId"]),
        "LOG_LEVEL": "WARNING",
    }
