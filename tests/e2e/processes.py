"""Bots as separate `python app.py` processes on the production code path (msal against the sandbox's HTTPS
authority, real Redis, the sandbox channel as the Bot Connector)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from sandbox.channel import CHANNEL, ChannelState, create_channel_app
from sandbox.launcher import (
    RunningServer,
    TenantWithAuthority,
    production_like_environment,
    start_server,
    start_tenant_with_authority,
)
from sandbox.ports import free_port
from sandbox.seed import load_seed
from sandbox.tenant import TENANT, TenantState

APP_PY = Path(__file__).resolve().parents[2] / "app.py"


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process
    url: str
    log: Path


@dataclass
class World:
    tenant: TenantWithAuthority
    channel: RunningServer
    redis_url: str
    workdir: Path
    bots: list[BotProcess] = field(default_factory=list)

    @property
    def channel_state(self) -> ChannelState:
        return self.channel.app[CHANNEL]

    @property
    def tenant_state(self) -> TenantState:
        return self.tenant.server.app[TENANT]

    async def start_bot(self, *args: str, **settings: str) -> BotProcess:
        """`python app.py *args` with the production-like environment plus `settings` (environment names)."""
        port = free_port()
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("Microsoft", "GRAPH_", "RIPOSTE_", "REDIS_"))}
        env.update(production_like_environment(load_seed(), self.tenant, self.channel.url, self.redis_url, port))
        env.update(settings)
        log = self.workdir / f"bot-{port}.log"
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(APP_PY), *args, env=env, cwd=self.workdir, stdout=output, stderr=output
            )
        bot = BotProcess(process, f"http://127.0.0.1:{port}", log)
        self.bots.append(bot)
        await _wait_healthy(bot)
        if self.channel_state.bot_base_url is None:
            self.channel_state.bot_base_url = bot.url
        return bot


async def _wait_healthy(bot: BotProcess) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if bot.process.returncode is not None:
                break
            try:
                async with session.get(f"{bot.url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"bot process did not become healthy:\n{bot.log.read_text()[-3000:]}")


@pytest.fixture
async def world(clean_redis: str, tmp_path: Path) -> AsyncIterator[World]:
    tenant = await start_tenant_with_authority(load_seed(), tmp_path)
    channel = await start_server(create_channel_app(load_seed()))
    channel.app[CHANNEL].service_url = channel.url + "/"
    channel.app[CHANNEL].tenant_url = tenant.graph_url  # Teams' sign-in and the token service reach the tenant there
    running = World(tenant, channel, clean_redis, tmp_path)
    yield running
    stopping = [bot.process for bot in running.bots if bot.process.returncode is None]
    for process in stopping:
        # The test is over: nothing a graceful stop would finish is checked any more (a SIGTERM waited for the
        # processes' pending notes and checks, seconds each). Tests of a graceful stop send SIGTERM themselves.
        process.kill()
    await asyncio.gather(*(process.wait() for process in stopping))
    await channel.runner.cleanup()
    await tenant.server.runner.cleanup()
