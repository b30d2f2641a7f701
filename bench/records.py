"""Case records in Redis: the cost of saving and loading a case with 50 action records, through the stores' own
API against a real redis-server. Every card drawn loads the case and its records (`CaseStore.get` and
`card_state`); every run writes its record a few times (`put_record`).

    .venv/bin/python bench/records.py [--rounds 2000] [--tree PATH]

`--tree` runs the same measurement on another checkout's code (e.g. `git archive <commit> | tar -x -C DIR`), for
a before/after comparison on the same machine. Prints, per operation, the median wall time and the client's CPU
time (`time.process_time`: redis-py's parsing plus the records' decoding), in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECORDS = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sample_case(module: Any, alerts: Any, spec: Any, case_id: str) -> Any:
    alert = alerts.Alert(id=f"a-{case_id}", source="defender", title="Suspicious inbox forwarding rule",
                         severity="high", user="alice@contoso.com", detected_at="2026-11-20T10:00:00Z",
                         description="A rule forwards mail outside the tenant. " * 4, category="Exfiltration",
                         evidence=(alerts.Evidence(kind="inbox_rule", id="AQAAAJ5dZqA=", name="Forward all"),
                                   alerts.Evidence(kind="ip", id="203.0.113.7")))
    target = spec.TargetUser(id="00000000-0000-4000-8000-0000000000a1", upn="alice@contoso.com",
                             display_name="Alice Target", account_enabled=True, mail="alice@contoso.com")
    return module.Case(id=case_id, alert=alert, nonce="n0nce", created_at="2026-11-20T10:00:01+00:00",
                       target=target, offered=("revoke_sessions", "disable_account", "block_user"),
                       conversation={"conversation": {"id": "19:abc@thread.tacv2"}, "serviceUrl": "https://x/"},
                       activity_id="1700000000000")


def sample_record(module: Any, index: int) -> Any:
    return module.ActionRecord(
        action="remove_inbox_rule", state="done", actor_id="r", actor_name="Rita Responder",
        started_at="2026-11-20T10:01:00+00:00", finished_at="2026-11-20T10:01:01+00:00",
        summary="Removed the inbox rule “Forward all”.", reversal="Restore it from the saved copy (Undo).",
        request_id="8f6c1d9e-0000-4000-8000-000000000000", item=f"rule-{index}", item_label=f"Forward all {index}",
        steps=["✓ one", "✓ two"], verification="Verified: the rule is gone.", run_id=f"{index:016x}",
        options={"app_mode": "grant"}, actor_upn="rita@contoso.com", actor_roles="responder",
        audit_id=f"1700000000000-{index}",
    )


def wait_for_redis(port: int) -> None:
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


async def timed(rounds: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """Median wall µs per call, and mean CPU µs per call."""
    for _ in range(min(50, rounds)):
        await work()
    walls: list[float] = []
    cpu_start = time.process_time()
    for _ in range(rounds):
        start = time.perf_counter()
        await work()
        walls.append(time.perf_counter() - start)
    cpu = time.process_time() - cpu_start
    return statistics.median(walls) * 1e6, cpu / rounds * 1e6


async def measure(redis_url: str, rounds: int) -> list[tuple[str, float, float]]:
    from redis.asyncio import Redis

    from actions import spec
    from bot.intake import alerts
    from bot.state import cases

    redis = Redis.from_url(redis_url, decode_responses=True)
    store = cases.CaseStore(redis)
    case = sample_case(cases, alerts, spec, "bench-1")
    records = [sample_record(cases, index) for index in range(RECORDS)]
    await store.save(case)
    for record in records:
        await store.put_record(case.id, record)

    async def put_all() -> None:
        for record in records:
            await store.put_record(case.id, record)

    results = [
        ("save the case", *await timed(rounds, lambda: store.save(case))),
        ("load the case (get)", *await timed(rounds, lambda: store.get(case.id))),
        (f"load its {RECORDS} records (records)", *await timed(rounds, lambda: store.records(case.id))),
        (f"load what a card needs (card_state, {RECORDS} records)",
         *await timed(rounds, lambda: store.card_state(case.id))),
        (f"write {RECORDS} records (put_record each)", *await timed(max(1, rounds // 10), put_all)),
    ]
    await redis.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose code is measured")
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree.resolve()))

    workdir = tempfile.mkdtemp(prefix="riposte-bench-records-")
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir], stdout=subprocess.DEVNULL)
    try:
        wait_for_redis(port)
        results = asyncio.run(measure(f"redis://127.0.0.1:{port}/0", args.rounds))
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"code: {args.tree.resolve()}; rounds: {args.rounds}")
    print("| operation | wall p50 µs | client CPU µs |")
    print("|---|---:|---:|")
    for name, wall, cpu in results:
        print(f"| {name} | {wall:.0f} | {cpu:.0f} |")


if __name__ == "__main__":
    main()
