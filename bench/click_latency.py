"""Click latency, side by side in one run: how fast Teams' `adaptiveCard/action` invoke is answered (Teams allows
~5 s) by Riposte's web role, next to a bare botbuilder bot and a plain aiohttp handler answering the same invokes
with a fixed card; and how many actions the bot completes per second of its CPU.

Riposte runs as deployed: `python app.py web` (answers clicks, runs the action's Graph call in the background,
queues the card update) and `python app.py worker` (sends the card updates) as separate processes, on a real
redis-server, msal against the sandbox's HTTPS authority and the sandbox channel as Bot Connector (all hosted in this
process, with Teams' send limits lifted: bench/storm.py measures those). Grouping is off so every alert is its own
card. The baselines (bench/click_baselines.py) answer with the card Riposte answered. Per concurrency level, on the
same cards:

  first press   a responder presses "Revoke sessions" on a fresh card: role check, claim, audit intent, the
                "running" card as the answer; the revoke (Graph) runs after the answer in the web process and the
                card update is queued for the worker. The actions settle before the next row.
  answer only   another press on the same cards (a new invoke each): the answer ("already done by ...") alone,
                nothing runs or is sent after it
  botbuilder    the bare botbuilder 4.17.1 bot, the same invokes
  plain         the plain aiohttp handler, the same invokes

Then, separately, actions completed per CPU-second: N fresh cards clicked at concurrency 8 until every revoke has
its outcome audited and its card updated (backlog 0), divided by the CPU the web and worker processes used.

Targets (the durable-pipeline issue): p50 <= 3 ms, p99 <= 10 ms, >= 400 answers/s at concurrency 8.

    .venv/bin/python bench/click_latency.py [--clicks 300] [--concurrency 1 8] [--actions 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import (
    BotProcess,
    World,
    card_text,
    click_invoke,
    free_port,
    machine,
    percentile,
    profiled,
    wait_for,
    wait_healthy,
)

RESPONDER = "rita.responder@contoso.com"
CASE_ID = re.compile(r"\b\d{8}-[0-9a-f]{8}\b")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TARGET_P50_MS, TARGET_P99_MS, TARGET_RATE = 3.0, 10.0, 400.0
# Not Teams' limits (bench/storm.py measures those): card posts and updates go out as fast as the bot sends them.
SETTINGS = {"RIPOSTE_TEAMS_THREAD_LIMITS": "100000/second", "RIPOSTE_TEAMS_TENANT_LIMITS": "100000/second",
            "RIPOSTE_GROUP_ALERTS_MINUTES": "0", "RIPOSTE_CASE_NOTES_SECONDS": "0"}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Row:
    name: str
    concurrency: int
    latencies_ms: list[float]
    seconds: float
    cpu_ms_per_click: dict[str, float]

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def line(self) -> str:
        lat = self.latencies_ms
        cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in self.cpu_ms_per_click.items())
        return (f"| {self.name} | {self.concurrency} | {statistics.median(lat):.2f} | {percentile(lat, 0.95):.2f} | "
                f"{percentile(lat, 0.99):.2f} | {max(lat):.1f} | {self.rate:,.0f} | {cpu} |")


class Bench:
    def __init__(self, world: World, web: BotProcess, worker: BotProcess) -> None:
        self.world, self.web, self.worker = world, web, worker
        self.answer_card: dict[str, Any] | None = None
        self.seen: set[str] = set()  # conversations already read
        self.where: dict[str, str] = {}  # case id -> its thread's conversation id

    async def fresh_threads(self, count: int, tag: str) -> list[dict[str, Any]]:
        """`count` new cases (one card each, posted by the worker), their threads once posted."""
        session = self.world.http()
        case_ids = []
        for index in range(count):
            alert = {"id": f"click-{tag}-{index}", "title": "Bench alert", "severity": "high",
                     "user": "alice@contoso.com", "source": "bench"}
            async with session.post(f"{self.web.url}/api/alerts", json=alert) as response:
                assert response.status == 202, await response.text()
                case_ids.append((await response.json())["case_id"])
        wanted = set(case_ids)

        def all_posted() -> bool:
            # Each new thread is read once (this process also serves the sandbox channel: keep the polling cheap).
            for conversation in list(self.world.channel.conversations.values()):
                if conversation.id in self.seen or not conversation.activities or conversation.personal_oid:
                    continue
                self.seen.add(conversation.id)
                found = CASE_ID.search(card_text(conversation.activities[0]))
                if found:
                    self.where[found.group(0)] = conversation.id
            return wanted <= set(self.where)

        if not await wait_for(all_posted, 120, every=0.05):
            raise SystemExit(f"only {len(wanted & set(self.where))} of {count} cards were posted within 120 s")
        conversations = self.world.channel.conversations
        return [{"id": conversations[self.where[case_id]].id, "root": conversations[self.where[case_id]].activities[0]}
                for case_id in case_ids]

    def invokes(self, threads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A new "Revoke sessions" invoke (new id) per thread, as Teams sends one per press."""
        made = [click_invoke(self.world.channel, RESPONDER, thread, "revoke_sessions")
                for thread in threads]
        assert all(made), "a card without its Revoke sessions button"
        return [invoke for invoke in made if invoke is not None]

    async def click_all(self, url: str, invokes: list[dict[str, Any]], concurrency: int) -> tuple[float, list[float]]:
        session = self.world.http()
        latencies: list[float] = []
        pending = iter(invokes)

        async def clicker() -> None:
            for invoke in pending:
                started = time.perf_counter()
                async with session.post(f"{url}/api/messages", json=invoke) as response:
                    body = await response.read()
                    assert response.status == 200, (response.status, body[:300])
                latencies.append((time.perf_counter() - started) * 1000)
                if self.answer_card is None:
                    self.answer_card = json.loads(body)["value"]

        started = time.perf_counter()
        await asyncio.gather(*(clicker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies

    async def measured(self, name: str, url: str, invokes: list[dict[str, Any]], concurrency: int,
                       processes: dict[str, int]) -> Row:
        async with profiled(f"{name} c{concurrency}", processes):
            before = {label: cpu_seconds(pid) for label, pid in processes.items()}
            seconds, latencies = await self.click_all(url, invokes, concurrency)
            await self.settled()  # work after the answers (Graph calls, card updates) counts for the clicks too
            cpu = {label: (cpu_seconds(pid) - before[label]) * 1000 / len(invokes)
                   for label, pid in processes.items()}
        return Row(name, concurrency, latencies, seconds, cpu)

    async def settled(self, seconds: float = 120.0) -> None:
        """Every action finished in the web process and every job done by the worker."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            running = await self.world.metric(self.web, "riposte_actions_in_flight")
            backlog = await self.world.metric(self.worker, "riposte_jobs_backlog")
            if running == 0 and backlog == 0:
                return
            await asyncio.sleep(0.05)
        raise SystemExit("actions or card updates still pending after 120 s")


async def start_baseline(world: World, kind: str, card_file: Path) -> tuple[subprocess.Popen[bytes], BotProcess]:
    port = free_port()
    log = world.workdir / f"{kind}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603, ASYNC220
            [sys.executable, str(Path(__file__).with_name("click_baselines.py")), kind, str(port), str(card_file)],
            stdout=output, stderr=output)
    bot = BotProcess(process, f"http://127.0.0.1:{port}", log)
    await wait_healthy(world.http(), bot)
    return process, bot


async def run(clicks: int, levels: list[int], actions: int) -> None:
    world = await World.start()
    baselines: list[subprocess.Popen[bytes]] = []
    try:
        worker = await world.start_bot("worker", settings=SETTINGS)
        web = await world.start_bot("web", settings=SETTINGS)
        bench = Bench(world, web, worker)
        print(f"click benchmark: {clicks} clicks per row, concurrency {levels}, {actions} actions; {machine()}")
        # Warm up: msal token, role look-ups (cached in Redis), code paths.
        warm = await bench.fresh_threads(40, "warm")
        await bench.click_all(web.url, bench.invokes(warm), 4)
        await bench.settled()
        await bench.click_all(web.url, bench.invokes(warm), 4)
        card_file = world.workdir / "answer-card.json"
        card_file.write_text(json.dumps(bench.answer_card))
        botbuilder_process, botbuilder = await start_baseline(world, "botbuilder", card_file)
        plain_process, plain = await start_baseline(world, "plain", card_file)
        baselines += [botbuilder_process, plain_process]
        await bench.click_all(botbuilder.url, bench.invokes(warm), 4)
        await bench.click_all(plain.url, bench.invokes(warm), 4)
        riposte = {"web": web.process.pid, "worker": worker.process.pid}
        print(f"web pid {web.process.pid}, worker pid {worker.process.pid}, botbuilder pid {botbuilder_process.pid}, "
              f"plain pid {plain_process.pid}, redis {world.redis_url}")

        rows: list[Row] = []
        for concurrency in levels:
            threads = await bench.fresh_threads(clicks, f"c{concurrency}")
            await bench.settled()
            rows.append(await bench.measured("Riposte web role: first press (revoke runs after the answer)",
                                             web.url, bench.invokes(threads), concurrency, riposte))
            rows.append(await bench.measured("Riposte web role: answer only (already done)", web.url,
                                             bench.invokes(threads), concurrency, riposte))
            rows.append(await bench.measured("bare botbuilder 4.17.1, fixed card", botbuilder.url,
                                             bench.invokes(threads), concurrency,
                                             {"bot": botbuilder_process.pid}))
            rows.append(await bench.measured("plain aiohttp, fixed card", plain.url, bench.invokes(threads),
                                             concurrency, {"handler": plain_process.pid}))

        print()
        print("| bot | concurrency | p50 ms | p95 ms | p99 ms | max ms | answers/s | CPU ms per click |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for row in rows:
            print(row.line())
        print()
        for row in rows:
            if row.name.startswith("Riposte") and row.concurrency == max(levels):
                p50, p99 = statistics.median(row.latencies_ms), percentile(row.latencies_ms, 0.99)
                verdict = ("met" if p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS and row.rate >= TARGET_RATE
                           else "NOT met")
                print(f"{row.name}, concurrency {row.concurrency}: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
                      f"{row.rate:,.0f} answers/s (target p50 <= {TARGET_P50_MS:g} ms, p99 <= {TARGET_P99_MS:g} ms, "
                      f">= {TARGET_RATE:,.0f}/s): {verdict}")

        threads = await bench.fresh_threads(actions, "actions")
        await bench.settled()
        done_before = await world.metric(web, "riposte_actions_total")
        cpu_before = {label: cpu_seconds(pid) for label, pid in riposte.items()}
        started = time.perf_counter()
        await bench.click_all(web.url, bench.invokes(threads), 8)
        await bench.settled()
        wall = time.perf_counter() - started
        completed = await world.metric(web, "riposte_actions_total") - done_before
        cpu = {label: cpu_seconds(pid) - cpu_before[label] for label, pid in riposte.items()}
        total_cpu = sum(cpu.values())
        print()
        print(f"actions: {completed:.0f} revokes clicked at concurrency 8, each audited, run against Graph and its "
              f"card updated: {wall:.2f} s wall = {completed / wall:,.0f} actions/s on this machine; CPU web "
              f"{cpu['web']:.2f} s + worker {cpu['worker']:.2f} s = {total_cpu:.2f} s -> "
              f"{completed / total_cpu:,.0f} actions per CPU-second (per worker core at full use), "
              f"{total_cpu * 1000 / completed:.2f} ms of bot CPU per action")
        print(f"RSS web {rss_mb(web.process.pid):.0f} MB, worker {rss_mb(worker.process.pid):.0f} MB; "
              f"load average now {os.getloadavg()[0]:.2f}")
    finally:
        for process in baselines:
            process.terminate()
            process.wait()
        await world.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--actions", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(run(args.clicks, args.concurrency, args.actions))


if __name__ == "__main__":
    main()
