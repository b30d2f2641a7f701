"""Shared fixtures: a real redis-server (unless REDIS_URL is given) and the sandbox servers on free ports."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis as sync_redis
from aiohttp import web

from app import create_app
from bot.config import Settings
from sandbox.launcher import RunningServer, Sandbox, start_sandbox
from sandbox.redis_server import RedisServer, RedisServerError


def worker_database(url: str, worker: str) -> str:
    """The database of a given REDIS_URL that one pytest-xdist worker (gw0, gw1, ...) may flush: the URL's own plus
    the worker's number, so that parallel workers never flush each other's state."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    database = base + int(worker.removeprefix("gw") or 0)
    if database > 15:
        pytest.fail(f"REDIS_URL: test worker {worker} would need database {database}, past Redis' default 16: "
                    "run fewer workers (pytest -n) or let the tests start their own redis-server")
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One redis-server for the session (each test flushes it: clean_redis), or the REDIS_URL given. With
    pytest-xdist each worker process has its own session: its own redis-server, or its own database of REDIS_URL."""
    given = os.environ.get("REDIS_URL")
    if given:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        yield worker_database(given, worker) if worker else given
        return
    try:
        server = RedisServer().start()
    except RedisServerError as error:
        pytest.fail(str(error))
    yield server.url
    server.close()


@pytest.fixture
def clean_redis(redis_url: str) -> str:
    with sync_redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    return redis_url


@pytest.fixture
def base_settings(clean_redis: str) -> Settings:
    """Settings for a test's app. The time budgets that only make a test wait are shortened here; the tests of
    each one set it back (or to what they need) themselves:

    - grouping (on by default) off, so that each test alert opens its own case (tests/faults and the grouping
      tests switch it on);
    - case notes go out at once, not batched for 5 s ("nothing more happened" waits for every queued job, and a
      batched note is a job due seconds later; tests/e2e/test_case_notes.py sets its own windows);
    - no shutdown grace: an app stopping at a test's end has nothing left to prove (tests/e2e/test_shutdown.py);
    - read-backs that do not show a change yet are tried again after 20 and 50 ms, not 0.5 and 1.5 s;
    - the watcher may read Graph at 50 requests/s, not 2 (tests/e2e/test_watch.py, tests/bot/test_watch_budget.py);
    - Teams' send limits far above Teams' own: a test's handful of cards in one channel would otherwise wait
      for the per-thread windows (tests/faults/test_intake_pipeline.py tests them, against limits the sandbox
      channel enforces).
    """
    return Settings(_env_file=None, REDIS_URL=clean_redis, RIPOSTE_GROUP_ALERTS_MINUTES=0,  # type: ignore[call-arg]
                    RIPOSTE_CASE_NOTES_SECONDS=0, RIPOSTE_SHUTDOWN_GRACE_SECONDS=0,
                    RIPOSTE_READ_BACK_RETRY_SECONDS="0.02,0.05", RIPOSTE_WATCH_MAX_RPS=50,
                    RIPOSTE_TEAMS_THREAD_LIMITS="200/second", RIPOSTE_TEAMS_TENANT_LIMITS="500/second")


class RunningBot:
    """The app on a free port, the sandbox it talks to, and helpers the tests share."""

    def __init__(self, server: RunningServer, sandbox: Sandbox) -> None:
        self.server = server
        self.sandbox = sandbox

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def app(self) -> web.Application:
        return self.server.app


BotFactory = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
async def make_bot(base_settings: Settings) -> AsyncIterator[BotFactory]:
    """Start the app (and its sandbox) with settings overridden by keyword, e.g. alert_token=SecretStr("t")."""
    started: list[RunningBot] = []

    async def start(**overrides: Any) -> RunningBot:
        # Hold the bot's port from the start: a port found free, closed, and bound again later can be taken in
        # between (the sandbox's own servers and every client connection draw from the same ports).
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        settings = base_settings.model_copy(update=overrides)
        sandbox = await start_sandbox(f"http://127.0.0.1:{port}", settings)
        app = create_app(sandbox.settings, credential=sandbox.credential, sandbox_page=sandbox.page_url)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, listener).start()
        server = RunningServer(runner, f"http://127.0.0.1:{port}")
        started.append(RunningBot(server, sandbox))
        return started[-1]

    yield start
    for running in reversed(started):
        await running.server.runner.cleanup()
        await running.sandbox.close()


@pytest.fixture
async def bot(make_bot: BotFactory) -> RunningBot:
    return await make_bot()
