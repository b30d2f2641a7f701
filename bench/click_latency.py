"""Click latency: how fast a Riposte process answers an `adaptiveCard/action` invoke (Teams allows ~5 s).

The bot runs as its own `python app.py` process on the production code path (msal against the sandbox's HTTPS
authority, real Redis, the sandbox channel as Bot Connector); this script hosts the sandbox, posts alerts, then
clicks "Revoke sessions" on each card as a responder, and prints latency percentiles, throughput and the bot
process's own CPU time per click (which includes the background Graph call and the card update).

    .venv/bin/python bench/click_latency.py [--clicks 300] [--concurrency 1 8]

BENCH_ROLE="no role" clicks as a person without a role instead: the answer path alone (look-up, role check,
refusal card, audit), with no Graph call or card update behind it. BENCH_PYTHON_ARGS="-m cProfile -o bot.prof"
profiles the bot process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.channel import CHANNEL, create_channel_app  # noqa: E402
from sandbox.channel_activities import card_action_invoke  # noqa: E402
from sandbox.launcher import production_like_environment, start_server, start_tenant_with_authority  # noqa: E402
from sandbox.ports import free_port  # noqa: E402
from sandbox.redis_server import RedisServer  # noqa: E402
from sandbox.seed import load_seed  # noqa: E402

SEED = load_seed()
RESPONDER = next(u["id"] for u in SEED["users"] if u.get("sandboxRole") == os.environ.get("BENCH_ROLE", "responder"))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def wait_healthy(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with session.get(f"{url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the bot did not become healthy")


async def posted_thread(channel: Any, case_id: str, seconds: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for thread in channel.threads():
            if case_id in str(thread["root"].get("attachments")):
                return dict(thread)
        await asyncio.sleep(0.01)
    raise SystemExit(f"the card of case {case_id} was not posted within {seconds:.0f} s")


async def prepare(session: aiohttp.ClientSession, bot_url: str, channel: Any, count: int, tag: str) -> list[Any]:
    person = channel.person(RESPONDER)
    invokes = []
    for index in range(count):
        alert = {"id": f"bench-{tag}-{index}", "title": "Bench alert", "severity": "high", "user": "alice@contoso.com"}
        async with session.post(f"{bot_url}/api/alerts", json=alert) as response:
            assert response.status == 202, await response.text()
            case_id = (await response.json())["case_id"]
        thread = await posted_thread(channel, case_id)  # a worker posts the card after the 202
        root = thread["root"]
        revoke = next(a for a in root["attachments"][0]["content"]["actions"] if a["verb"] == "revoke_sessions")
        action = {"type": "Action.Execute", "title": "Revoke sessions", "verb": "revoke_sessions",
                  "data": revoke["data"]}
        invokes.append(card_action_invoke(person, thread["id"], root["id"], channel.service_url, action))
    return invokes


async def click_all(session: aiohttp.ClientSession, url: str, invokes: list[Any], concurrency: int) -> list[float]:
    latencies: list[float] = []
    pending = list(reversed(invokes))

    async def worker() -> None:
        while pending:
            invoke = pending.pop()
            started = time.perf_counter()
            async with session.post(f"{url}/api/messages", json=invoke) as response:
                await response.read()
                assert response.status == 200, response.status
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def run(clicks: int, levels: list[int]) -> None:
    workdir = tempfile.mkdtemp(prefix="riposte-bench-")
    redis_server = None if os.environ.get("REDIS_URL") else RedisServer(workdir=Path(workdir)).start()
    redis_url = redis_server.url if redis_server else os.environ["REDIS_URL"]
    tenant = await start_tenant_with_authority(SEED, Path(workdir))
    channel_server = await start_server(create_channel_app(SEED))
    channel = channel_server.app[CHANNEL]
    channel.service_url = channel_server.url + "/"
    port = free_port()
    env = {**os.environ, **production_like_environment(SEED, tenant, channel_server.url, redis_url, port)}
    # Not a benchmark of Teams' send limits (bench/storm.py is): cards for the clicks are posted without waiting.
    env.setdefault("RIPOSTE_TEAMS_THREAD_LIMITS", "1000/second")
    env.setdefault("RIPOSTE_TEAMS_TENANT_LIMITS", "1000/second")
    command = [sys.executable, *os.environ.get("BENCH_PYTHON_ARGS", "").split(), str(ROOT / "app.py")]
    bot = subprocess.Popen(command, env=env, cwd=workdir)  # noqa: S603, ASYNC220
    bot_url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, bot_url)
            print(f"{clicks} clicks per run, bot process pid {bot.pid}, Python {sys.version.split()[0]}")
            for concurrency in levels:
                invokes = await prepare(session, bot_url, channel, clicks, f"{concurrency}-{time.time()}")
                await asyncio.sleep(1.0)
                cpu_before, started = cpu_seconds(bot.pid), time.perf_counter()
                latencies = await click_all(session, bot_url, invokes, concurrency)
                wall = time.perf_counter() - started
                await asyncio.sleep(2.0)  # background Graph calls and card updates finish
                cpu = cpu_seconds(bot.pid) - cpu_before
                print(
                    f"concurrency {concurrency:>2}: invoke answer p50 {statistics.median(latencies):5.1f} ms, "
                    f"p95 {percentile(latencies, 0.95):5.1f} ms, p99 {percentile(latencies, 0.99):5.1f} ms, "
                    f"max {max(latencies):5.1f} ms; {clicks / wall:4.0f} clicks/s; "
                    f"bot CPU {cpu * 1000 / clicks:4.1f} ms per click (answer + Graph call + card update)"
                )
            print(f"bot process RSS after the runs: {rss_mb(bot.pid):.0f} MB")
    finally:
        bot.terminate()
        bot.wait(timeout=30)
        await channel_server.runner.cleanup()
        await tenant.server.runner.cleanup()
        if redis_server:
            redis_server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    asyncio.run(run(args.clicks, args.concurrency))


if __name__ == "__main__":
    main()
