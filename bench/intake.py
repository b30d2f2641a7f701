"""Alert intake throughput: how many alerts per second POST /api/alerts accepts (202), and how long each answer
takes, at a fixed concurrency, side by side with a plain aiohttp handler doing one Redis SET (the baseline).

The bot runs as its own `python app.py` process (web front and workers) against a real redis-server and the
sandbox (tenant and channel in this process); the baseline runs as its own process too. Runs, in one go:

  baseline   a plain aiohttp handler: one Redis SET, 202 with a fixed body
  accepted   distinct alert ids about many users: every alert opens a case and queues its posting job
  throttled  the same while the sandbox channel answers every Bot Connector send 429 (workers retrying)
  grouped    distinct alert ids about 20 users: after the first 20, every alert joins its user's open case
  web role   as accepted, against `python app.py web` with `python app.py worker` as a second process

Targets (the durable-intake issue): >= 1,000 alerts/s, >= 1/4 of the baseline's rate; p99 <= 20 ms while Teams
throttles.

    .venv/bin/python bench/intake.py [--alerts 4000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from harness import ROOT, World, free_port, machine, percentile

FIXED_BODY = json.dumps({"case_id": "baseline", "status": "accepted"}).encode()
TARGET_RATE = 1000.0
TARGET_SHARE = 0.25
TARGET_P99_THROTTLED_MS = 20.0


@dataclass
class Run:
    name: str
    alerts: int
    seconds: float
    latencies_ms: list[float]
    statuses: Counter[str]
    note: str = ""

    @property
    def rate(self) -> float:
        return self.alerts / self.seconds

    def row(self) -> str:
        lat = self.latencies_ms
        shown = ", ".join(f"{key} {value}" for key, value in sorted(self.statuses.items()))
        return (f"| {self.name} | {self.alerts} | {self.rate:,.0f} | {statistics.median(lat):.1f} | "
                f"{percentile(lat, 0.99):.1f} | {max(lat):.1f} | {shown} | {self.note} |")


def serve_baseline(port: int, redis_url: str) -> None:
    """The plain handler: read the body, one Redis SET, answer 202 with a fixed body."""
    from aiohttp import web
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    counter = iter(range(10**12))

    async def alerts(request: web.Request) -> web.Response:
        body = await request.read()
        await redis.set(f"bench:baseline:{next(counter)}", body, ex=600)
        return web.Response(status=202, body=FIXED_BODY, content_type="application/json")

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/api/alerts", alerts)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


async def load(session: aiohttp.ClientSession, url: str, bodies: list[bytes], concurrency: int
               ) -> tuple[float, list[float], Counter[str]]:
    """POST every body with `concurrency` requests in flight; (wall seconds, answer times in ms, statuses)."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    pending = iter(bodies)
    headers = {"Content-Type": "application/json"}

    async def worker() -> None:
        for body in pending:
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                answer = await response.read()
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status == 202:
                    statuses[json.loads(answer).get("status", "202")] += 1
                else:
                    statuses[f"HTTP {response.status}"] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


def alerts(tag: str, count: int, users: int) -> list[bytes]:
    return [json.dumps({"id": f"{tag}-{index}", "title": "Bench alert: impossible travel", "severity": "high",
                        "user": f"user{index % users}.{tag}@contoso.com", "source": "bench"}).encode()
            for index in range(count)]


async def run(count: int, concurrency: int) -> None:
    world = await World.start()
    baseline_port = free_port()
    baseline = subprocess.Popen(  # noqa: S603, ASYNC220
        [sys.executable, __file__, "--serve-baseline", str(baseline_port), world.redis_url])
    try:
        bot = await world.start_bot()
        session = world.http()
        for _ in range(200):
            try:
                async with session.get(f"http://127.0.0.1:{baseline_port}/healthz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        bot_url, baseline_url = f"{bot.url}/api/alerts", f"http://127.0.0.1:{baseline_port}/api/alerts"
        print(f"intake benchmark: {count} alerts per run, concurrency {concurrency}; {machine()}")
        print(f"bot pid {bot.process.pid} (python app.py: web + workers), baseline pid {baseline.pid}, "
              f"redis {world.redis_url}")
        # Warm up both (connections, msal token, first Graph calls, code paths).
        await load(session, bot_url, alerts("warm", 300, 300), concurrency)
        await load(session, baseline_url, alerts("warmb", 300, 300), concurrency)
        await asyncio.sleep(1.0)
        runs: list[Run] = []

        wall, lat, statuses = await load(session, baseline_url, alerts("base", count, count), concurrency)
        runs.append(Run("baseline: plain aiohttp + 1 SET", count, wall, lat, statuses))

        wall, lat, statuses = await load(session, bot_url, alerts("new", count, count), concurrency)
        backlog = await world.metric(bot, 'riposte_jobs_backlog{queue="riposte-alerts"}')
        runs.append(Run("accepted: new case each", count, wall, lat, statuses, f"backlog after: {backlog:.0f} jobs"))

        channel = world.channel
        sent_before = len(channel.received)
        faults = [channel.add_fault("POST", r"^/v3/conversations", status=429, times=None, retry_after="1"),
                  channel.add_fault("PUT", r"^/v3/conversations", status=429, times=None, retry_after="1")]
        await asyncio.sleep(2.0)  # workers are now being refused
        throttled_before = sum(1 for r in channel.received[sent_before:] if r["method"] in ("POST", "PUT"))
        wall, lat, statuses = await load(session, bot_url, alerts("thr", count, count), concurrency)
        refused = sum(1 for r in channel.received[sent_before:] if r["method"] in ("POST", "PUT"))
        runs.append(Run("throttled: every send 429", count, wall, lat, statuses,
                        f"429s to the workers during the run: {refused - throttled_before}"))
        for fault in faults:
            channel.faults.remove(fault)

        wall, lat, statuses = await load(session, bot_url, alerts("grp", count, 20), concurrency)
        runs.append(Run("grouped: 20 users", count, wall, lat, statuses))

        # As deployed: the web role answering, the workers in a process of their own (same machine, same cores).
        bot.process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(bot.process.wait, 60)
        await world.start_bot("worker")
        web = await world.start_bot("web")
        await load(session, f"{web.url}/api/alerts", alerts("warmw", 300, 300), concurrency)
        wall, lat, statuses = await load(session, f"{web.url}/api/alerts", alerts("web", count, count), concurrency)
        runs.append(Run("accepted, web role (workers in another process)", count, wall, lat, statuses))

        print()
        print("| run | alerts | alerts/s | p50 ms | p99 ms | max ms | answers | note |")
        print("|---|---:|---:|---:|---:|---:|---|---|")
        for row in runs:
            print(row.row())
        print()
        base = runs[0].rate
        for row in runs[1:]:
            share = row.rate / base
            verdict = "met" if row.rate >= TARGET_RATE and share >= TARGET_SHARE else "NOT met"
            print(f"{row.name}: {row.rate:,.0f} alerts/s = {share:.0%} of the baseline's {base:,.0f}/s "
                  f"(target >= {TARGET_RATE:,.0f}/s and >= {TARGET_SHARE:.0%}): {verdict}")
        p99 = percentile(runs[2].latencies_ms, 0.99)
        print(f"p99 while Teams throttles: {p99:.1f} ms (target <= {TARGET_P99_THROTTLED_MS:.0f} ms): "
              f"{'met' if p99 <= TARGET_P99_THROTTLED_MS else 'NOT met'}")
        print(f"web role RSS {rss_mb(web.process.pid):.0f} MB; load average now {os.getloadavg()[0]:.2f}")
    finally:
        baseline.terminate()
        baseline.wait()
        await world.stop()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--serve-baseline", nargs=2, metavar=("PORT", "REDIS_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(int(args.serve_baseline[0]), args.serve_baseline[1])
        return
    asyncio.run(run(args.alerts, args.concurrency))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
