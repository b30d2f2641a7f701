"""What the benchmarks share: a real redis-server, the sandbox (tenant behind msal's HTTPS authority, channel as the
Bot Connector) in this process, and bot processes (`python app.py …`) on the production code path against them."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sandbox.channel import CHANNEL, ChannelState, create_channel_app  # noqa: E402
from sandbox.channel_activities import card_action_invoke  # noqa: E402
from sandbox.launcher import (  # noqa: E402
    RunningServer,
    TenantWithAuthority,
    production_like_environment,
    start_server,
    start_tenant_with_authority,
)
from sandbox.ports import free_port as free_port  # noqa: E402  (re-exported: bench/intake.py)
from sandbox.redis_server import RedisServer  # noqa: E402
from sandbox.seed import load_seed  # noqa: E402

APP_PY = ROOT / "app.py"


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def machine() -> str:
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}, Python "
            f"{sys.version.split()[0]}, load average at start {load[0]:.2f}")


def seed_with_users(count: int, prefix: str = "storm") -> dict[str, Any]:
    """The sandbox seed plus `count` ordinary users (`storm0@contoso.com` …), modelled on Alice."""
    seed = copy.deepcopy(load_seed())
    alice = next(user for user in seed["users"] if user["userPrincipalName"] == "alice@contoso.com")
    for index in range(count):
        user = copy.deepcopy(alice)
        upn = f"{prefix}{index}@contoso.com"
        user.update(id=f"5b000000-0000-4000-8000-{index:012d}", userPrincipalName=upn, mail=upn,
                    displayName=f"Storm User {index}")
        seed["users"].append(user)
    return seed


def card_text(activity: dict[str, Any] | None) -> str:
    """Every string on an activity's adaptive card, joined (the case id is on it)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            parts.append(node)

    for attachment in (activity or {}).get("attachments") or []:
        walk(attachment.get("content"))
    return "\n".join(parts)


def button(activity: dict[str, Any], verb: str) -> dict[str, Any] | None:
    """The Action.Execute button `verb` among the card's main actions."""
    content = ((activity.get("attachments") or [{}])[0]).get("content") or {}
    return next((a for a in content.get("actions", []) if a.get("verb") == verb), None)


def click_invoke(channel: ChannelState, person_id: str, thread: dict[str, Any], verb: str) -> dict[str, Any] | None:
    """The `adaptiveCard/action` invoke Teams sends when `person_id` presses `verb` on the thread's root card."""
    root = thread["root"]
    found = button(root, verb)
    person = channel.person(person_id)
    if found is None or person is None:
        return None
    action = {"type": "Action.Execute", "title": found.get("title", ""), "verb": verb, "data": found["data"]}
    invoke: dict[str, Any] = card_action_invoke(person, thread["id"], root["id"], channel.service_url or "", action)
    return invoke


@dataclass
class BotProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class World:
    """redis-server, the sandbox, and the bot processes started against them."""

    workdir: Path
    seed: dict[str, Any]
    redis_url: str
    redis: RedisServer | None
    tenant: TenantWithAuthority
    channel_server: RunningServer
    bots: list[BotProcess] = field(default_factory=list)
    session: aiohttp.ClientSession | None = None

    @property
    def channel(self) -> ChannelState:
        return self.channel_server.app[CHANNEL]

    @classmethod
    async def start(cls, seed: dict[str, Any] | None = None) -> World:
        seed = seed or load_seed()
        workdir = Path(tempfile.mkdtemp(prefix="riposte-bench-"))
        redis_url, redis = start_redis(workdir)
        tenant = await start_tenant_with_authority(seed, workdir)
        channel_server = await start_server(create_channel_app(seed))
        channel_server.app[CHANNEL].service_url = channel_server.url + "/"
        world = cls(workdir, seed, redis_url, redis, tenant, channel_server)
        world.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return world

    def http(self) -> aiohttp.ClientSession:
        assert self.session is not None
        return self.session

    async def start_bot(self, *args: str, settings: dict[str, str] | None = None) -> BotProcess:
        """`python app.py *args` with the production-like environment plus `settings` (environment names)."""
        port = free_port()
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("Microsoft", "GRAPH_", "RIPOSTE_", "REDIS_"))}
        env.update(production_like_environment(self.seed, self.tenant, self.channel_server.url, self.redis_url, port))
        env.update(settings or {})
        log = self.workdir / f"bot-{port}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(  # noqa: S603, ASYNC220
                [sys.executable, *os.environ.get("BENCH_PYTHON_ARGS", "").split(), str(APP_PY), *args], env=env,
                cwd=self.workdir, stdout=output, stderr=output,
            )
        bot = BotProcess(process, f"http://127.0.0.1:{port}", log)
        self.bots.append(bot)
        await wait_healthy(self.http(), bot)
        if self.channel.bot_base_url is None and "worker" not in args:
            self.channel.bot_base_url = bot.url
        return bot

    async def metric(self, bot: BotProcess, name: str) -> float:
        """The sum of the samples of `name` (any labels) on the bot's /metrics."""
        async with self.http().get(f"{bot.url}/metrics") as response:
            text = await response.text()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))

    def thread_of_case(self, case_id: str) -> dict[str, Any] | None:
        for thread in self.channel.threads():
            if case_id in card_text(thread["root"]):
                return thread
        return None

    async def stop(self) -> None:
        for bot in self.bots:
            if bot.alive():
                bot.process.send_signal(signal.SIGTERM)
        for bot in self.bots:
            try:
                await asyncio.to_thread(bot.process.wait, 45)
            except subprocess.TimeoutExpired:
                print(f"note: bot pid {bot.process.pid} still running 45 s after SIGTERM; killed", file=sys.stderr)
                bot.process.kill()
                bot.process.wait()
        if self.session is not None:
            await self.session.close()
        await self.channel.close()
        await self.channel_server.runner.cleanup()
        await self.tenant.server.runner.cleanup()
        if self.redis is not None:
            self.redis.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis(workdir: Path) -> tuple[str, RedisServer | None]:
    """A fresh redis-server on a free loopback port (BENCH_REDIS_URL in the environment: use that one instead)."""
    if os.environ.get("BENCH_REDIS_URL"):
        return os.environ["BENCH_REDIS_URL"], None
    server = RedisServer(workdir=workdir).start()
    return server.url, server


async def wait_healthy(session: aiohttp.ClientSession, bot: BotProcess, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not bot.alive():
            break
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{bot.url}/healthz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise SystemExit(f"bot process did not become healthy:\n{bot.log.read_text()[-3000:]}")


async def wait_for(predicate: Callable[[], Any], seconds: float, every: float = 0.02) -> Any:
    """Poll `predicate` until it returns something truthy; None after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        await asyncio.sleep(every)
    return None


@contextlib.asynccontextmanager
async def profiled(name: str, processes: dict[str, int]) -> Any:
    """With BENCH_PROFILE=DIR: py-spy (requirements-dev.txt) samples each process while the block runs and writes
    DIR/<name>-<label>.txt in its raw (collapsed stack) format; otherwise nothing."""
    folder = os.environ.get("BENCH_PROFILE")
    if not folder:
        yield
        return
    os.makedirs(folder, exist_ok=True)
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    samplers = [subprocess.Popen(  # noqa: S603, ASYNC220
        [spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "--nonblocking",
         "--output", str(Path(folder) / f"{slug}-{label}.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for label, pid in processes.items()]
    await asyncio.sleep(0.5)  # py-spy attaches
    try:
        yield
    finally:
        for sampler in samplers:
            sampler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for sampler in samplers:
            await asyncio.to_thread(sampler.wait, 30)
