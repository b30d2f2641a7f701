"""Alert storm within Teams' send limits: 1,000 alerts about 50 users, the sandbox channel enforcing Teams'
documented limits (SendLimits defaults: per thread 7/1 s, 8/2 s, 60/30 s, 1,800/h, a channel's threads being one
thread; 50/s per tenant) and the bot's limiter at its defaults. Measures:

  - time until every case's card is posted and shows its grouped count (and, apart, until the job backlog is 0:
    that includes the clicks' follow-up work, their revokes' card updates, case notes and the watch's baseline
    checks, which keep to RIPOSTE_WATCH_MAX_RPS),
  - against the lower bound those limits allow for the sends the storm needs (a new thread and a card update per
    case), and the ratio (target <= 1.2x); a card is drawn when its send slot is taken, so a case whose alerts all
    arrived before its post needs no update and the storm can finish under that bound,
  - 429s the sandbox answered (sends over a limit) as % of sends (target <= 2%),
  - click answer times during the storm (a responder presses "Revoke sessions" on posted cards every 20 ms;
    target p99 <= 50 ms), apart for the presses while the alerts arrived and while the backlog drained.

    .venv/bin/python bench/storm.py [--alerts 1000] [--users 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from collections import Counter
from typing import Any

from harness import World, card_text, click_invoke, machine, percentile, seed_with_users

from sandbox.channel_activities import invoke_id
from sandbox.channel_limits import TEAMS_TENANT_WINDOWS, TEAMS_THREAD_WINDOWS, SendLimits

RESPONDER = "rita.responder@contoso.com"
TARGET_RATIO = 1.2
TARGET_THROTTLED = 0.02
TARGET_CLICK_P99_MS = 50.0
REAL_CLICKS = 10  # cases whose revoke is really run by a click (each costs an interactive card update)
# A press every 20 ms: enough presses land in the second the storm arrives that its p99 is a percentile, not the
# slowest of a handful (at 100 ms, 4-11 presses fell in it and the figure swung between 16 and 72 ms run to run).
CLICK_EVERY_SECONDS = 0.02
BULK_RESERVE = 2  # bot/pipeline/limiter.py: storm traffic leaves this many sends per thread window free


def earliest_schedule(sends: int, windows: tuple[tuple[int, float], ...]) -> list[float]:
    """The earliest times `sends` sends can go in one thread under moving windows (count, seconds), the first at 0.

    A moving window (c, w) allows at most c sends in any w seconds: send i may go no earlier than send i-c plus w.
    The earliest schedule is t_1 = 0, t_i = max(t_{i-1}, max over windows of t_{i-c} + w); no schedule is faster,
    since each constraint only pushes a send later than one before it (the least solution of the constraints)."""
    times: list[float] = []
    for index in range(sends):
        earliest = times[-1] if times else 0.0
        for count, seconds in windows:
            if index >= count:
                earliest = max(earliest, times[index - count] + seconds)
        times.append(earliest)
    return times


def lower_bound(sends: int, windows: tuple[tuple[int, float], ...]) -> float:
    return earliest_schedule(sends, windows)[-1] if sends else 0.0


def naive_bound(sends: int, windows: tuple[tuple[int, float], ...]) -> float:
    """Each window on its own: floor((N-1)/c) * w; the combined bound is at least the largest of these."""
    return max((sends - 1) // count * seconds for count, seconds in windows)


def explain_bound(sends: int) -> list[str]:
    windows = TEAMS_THREAD_WINDOWS + TEAMS_TENANT_WINDOWS  # all sends share one channel (and one tenant)
    per_window = ", ".join(f"floor(({sends}-1)/{c})*{w:g}s = {(sends - 1) // c * w:g}s" for c, w in windows)
    times = earliest_schedule(sends, windows)
    marks = ", ".join(f"t{n}={times[n - 1]:g}s" for n in (7, 8, 9, 16, 60, 61) if n <= sends)
    return [
        f"lower bound for N={sends} sends in one channel: t_1 = 0, t_i = max(t_(i-1), t_(i-7)+1s, t_(i-8)+2s, "
        f"t_(i-60)+30s, t_(i-1800)+3600s, t_(i-50)+1s [tenant]); bound = t_N",
        f"  each window alone: {per_window}; largest {naive_bound(sends, windows):g}s",
        f"  together (the 8/2s pace fills the 60/30s window by t60, then send 60+k waits for t_k+30s): {marks}, "
        f"t{sends}={times[-1]:g}s",
    ]


def bulk_windows() -> tuple[tuple[int, float], ...]:
    return tuple((count - BULK_RESERVE, seconds) for count, seconds in TEAMS_THREAD_WINDOWS) + TEAMS_TENANT_WINDOWS


async def run(alert_count: int, users: int, jitter: float) -> None:
    world = await World.start(seed_with_users(users))
    limits = world.channel.send_limits = SendLimits(jitter_seconds=jitter)
    try:
        bot = await world.start_bot()
        session = world.http()
        print(f"storm benchmark: {alert_count} alerts about {users} users; {machine()}")
        print(f"sandbox channel enforcing Teams' limits: thread {TEAMS_THREAD_WINDOWS}, tenant "
              f"{TEAMS_TENANT_WINDOWS}, jitter forgiven {limits.jitter_seconds} s; bot limiter at its defaults")
        bodies = [json.dumps({"id": f"storm-{n}", "title": "Storm: suspicious sign-in", "severity": "high",
                              "user": f"storm{n % users}@contoso.com", "source": "bench"}).encode()
                  for n in range(alert_count)]
        answers: list[dict[str, Any]] = []
        clicks: list[tuple[str, float, float]] = []  # kind, sent at, ms
        done = asyncio.Event()

        async def send_storm() -> None:
            pending = iter(bodies)

            async def worker() -> None:
                for body in pending:
                    async with session.post(f"{bot.url}/api/alerts", data=body,
                                            headers={"Content-Type": "application/json"}) as response:
                        assert response.status == 202, await response.text()
                        answers.append(await response.json())

            await asyncio.gather(*(worker() for _ in range(8)))

        async def click_meanwhile() -> None:
            """Every 20 ms a responder presses Revoke sessions on one of the first posted cards: the first press
            on each of them runs the revoke (Graph call, interactive card update); later ones (as pressed on the
            card as first seen: a stale card, or a second responder) are answered "already done" (no send)."""
            pressed: dict[str, dict[str, Any]] = {}  # thread id -> its first press
            turn = 0
            while not done.is_set():
                threads = [t for t in world.channel.threads() if t["root"].get("attachments")][:REAL_CLICKS]
                if threads:
                    thread = threads[turn % len(threads)]
                    turn += 1
                    first = pressed.get(thread["id"])
                    invoke = (click_invoke(world.channel, RESPONDER, thread, "revoke_sessions") if first is None
                              else {**first, "id": invoke_id()})  # Teams gives every press its own id
                    if invoke is not None:
                        kind = "first" if first is None else "repeat"
                        pressed.setdefault(thread["id"], invoke)
                        started = time.perf_counter()
                        async with session.post(f"{bot.url}/api/messages", json=invoke) as response:
                            await response.read()
                            assert response.status == 200, response.status
                        clicks.append((kind, started, (time.perf_counter() - started) * 1000))
                await asyncio.sleep(CLICK_EVERY_SECONDS)

        started = time.monotonic()
        clicker = asyncio.get_running_loop().create_task(click_meanwhile())
        await send_storm()
        intake_seconds = time.monotonic() - started
        intake_done = time.perf_counter()
        counts = Counter(answer["case_id"] for answer in answers)
        cases = set(counts)
        all_posted_at: float | None = None
        shown_at: float | None = None  # every case posted and its card showing all its grouped alerts
        drained_at: float | None = None  # and no job left (the clicks' follow-up work included)
        pattern = re.compile(r"(\d+) more alert\(s\) about this user joined this case")
        case_id = re.compile(r"\b\d{8}-[0-9a-f]{8}\b")
        where: dict[str, str] = {}  # case id -> its thread's conversation id, once posted
        seen: set[str] = set()
        deadline = started + 170
        # Cheap polling: this process also hosts the sandbox channel, whose arrival times are what it counts
        # against Teams' windows; a busy loop here would bunch them.
        while time.monotonic() < deadline:
            for conversation in list(world.channel.conversations.values()):
                if conversation.id not in seen and conversation.activities and conversation.personal_oid is None:
                    seen.add(conversation.id)
                    found = case_id.search(card_text(conversation.activities[0]))
                    if found:
                        where[found.group(0)] = conversation.id
            now = time.monotonic() - started
            if all_posted_at is None and cases <= set(where):
                all_posted_at = now
            if all_posted_at is not None and shown_at is None:
                shown_right = 0
                for case in cases:
                    shown = pattern.search(card_text(world.channel.conversations[where[case]].activities[0]))
                    shown_right += (int(shown.group(1)) if shown else 0) == counts[case] - 1
                if shown_right == len(cases):
                    shown_at = now
            if shown_at is not None and await world.metric(bot, "riposte_jobs_backlog") == 0:
                drained_at = now
                break
            await asyncio.sleep(0.1)
        done.set()
        await clicker

        sends = limits.accepted + limits.throttled
        posts = sum(1 for r in world.channel.received if r["method"] == "POST" and r["path"] == "/v3/conversations")
        updates = sum(1 for r in world.channel.received if r["method"] == "PUT")
        needed = 2 * len(cases)
        windows = TEAMS_THREAD_WINDOWS + TEAMS_TENANT_WINDOWS
        bound = lower_bound(needed, windows)
        bound_actual = lower_bound(limits.accepted, windows)
        bound_bulk = lower_bound(needed, bulk_windows())
        print()
        print(f"intake of the storm: {intake_seconds:.2f} s ({alert_count / intake_seconds:,.0f} alerts/s), "
              f"{len(cases)} cases (one per user)")
        for line in explain_bound(needed):
            print(line)
        print(f"  the bot's bulk lane leaves {BULK_RESERVE} per thread window to clicks, so its own floor for "
              f"N={needed} is {bound_bulk:g}s; for the {limits.accepted} sends actually accepted the Teams bound is "
              f"{bound_actual:g}s")
        first_clicks = [ms for kind, _, ms in clicks if kind == "first"]
        all_clicks = [ms for _, _, ms in clicks]
        during_intake = [ms for _, at, ms in clicks if at < intake_done]
        after_intake = [ms for _, at, ms in clicks if at >= intake_done]
        rows = [
            ("alerts / users / cases", f"{alert_count} / {users} / {len(cases)}", ""),
            ("all cards posted", _s(all_posted_at), ""),
            ("all posted + grouped counts shown", _s(shown_at), ""),
            ("+ backlog 0 (the clicks' follow-up too: revoke outcomes, notes, watch baselines)", _s(drained_at), ""),
            (f"lower bound for {needed} sends (Teams' limits)", f"{bound:g} s", ""),
            ("ratio to the bound (posted + counts shown)", _ratio(shown_at, bound), f"<= {TARGET_RATIO}x"),
            ("sends accepted (posts / card updates attempted)", f"{limits.accepted} ({posts} / {updates})", ""),
            ("429s from the sandbox", f"{limits.throttled} = {_pct(limits.throttled, sends)} of sends",
             f"<= {TARGET_THROTTLED:.0%}"),
            ("clicks answered during the storm", f"{len(all_clicks)} ({len(first_clicks)} ran the revoke)", ""),
            ("click answer p50 / p99 / max", _lat(all_clicks), f"p99 <= {TARGET_CLICK_P99_MS:.0f} ms"),
            ("first clicks (revoke runs) p50 / p99 / max", _lat(first_clicks), ""),
            (f"clicks while the alerts arrived ({len(during_intake)}) p50 / p99 / max", _lat(during_intake), ""),
            (f"clicks after ({len(after_intake)}) p50 / p99 / max", _lat(after_intake), ""),
        ]
        print()
        print("| storm | measured | target |")
        print("|---|---|---|")
        for name, value, target in rows:
            print(f"| {name} | {value} | {target} |")
        print()
        ratio_ok = shown_at is not None and shown_at <= TARGET_RATIO * bound
        throttled_ok = bool(sends) and limits.throttled / sends <= TARGET_THROTTLED
        print(f"time within {TARGET_RATIO}x of the bound: {'met' if ratio_ok else 'NOT met'}; "
              f"429s <= {TARGET_THROTTLED:.0%}: {'met' if throttled_ok else 'NOT met'}; "
              f"click p99 <= {TARGET_CLICK_P99_MS:.0f} ms: all presses "
              f"{'met' if all_clicks and percentile(all_clicks, 0.99) <= TARGET_CLICK_P99_MS else 'NOT met'}, "
              f"while the alerts arrived "
              f"{'met' if during_intake and percentile(during_intake, 0.99) <= TARGET_CLICK_P99_MS else 'NOT met'}, "
              f"while the backlog drained "
              f"{'met' if after_intake and percentile(after_intake, 0.99) <= TARGET_CLICK_P99_MS else 'NOT met'}")
        if drained_at is None:
            backlog = await world.metric(bot, "riposte_jobs_backlog")
            print(f"the storm did not finish within 170 s: backlog {backlog:.0f}, "
                  f"{sum(1 for c in cases if world.thread_of_case(c))}/{len(cases)} cards posted")
    finally:
        await world.stop()


def _s(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "not reached"


def _ratio(value: float | None, bound: float) -> str:
    return f"{value / bound:.2f}x" if value is not None and bound else "n/a"


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "n/a"


def _lat(values: list[float]) -> str:
    if not values:
        return "no clicks"
    return (f"{statistics.median(values):.1f} / {percentile(values, 0.99):.1f} / {max(values):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="seconds of arrival bunching the sandbox forgives (SendLimits.jitter_seconds; default 0)")
    args = parser.parse_args()
    asyncio.run(run(args.alerts, args.users, args.jitter))


if __name__ == "__main__":
    main()
