"""Card building: how long the bot takes to build its representative cards and how large their JSON is, before
(hand-built dicts, at --before) and after (adaptive-cards-py's typed elements, this tree), side by side.

    .venv/bin/python bench/cards.py [--before 259929d] [--rounds 300] [--repeats 9]

`--before` defaults to the last commit whose cards were hand-built dicts. Both trees use the same module names, so
each side runs in its own interpreter (this script with `--worker`): the before tree is `git archive`d into a
temporary directory; the after side is this checkout. The worker only uses the card API both trees share.

Cards: the largest case card (every list open: 6 kinds x 12 items, the card shows 14 with their buttons; a done
action with its undo; grouped alerts; the source's advice), a new case's card (what a first click's answer
carries), a pending approval card, and an audit page (10 entries). For the case cards two times: `layout` builds
the card from a view drawn beforehand (the card builders alone); `view+layout` also draws the view from the case
state (signing every button), which is what a click's answer does before it is sent. Each time is the best of
`--repeats` runs of the mean of `--rounds` builds, in microseconds (the best, not the median: on a shared machine
other processes only ever add time). `equivalent` compares the two cards' JSON with
enum values lower-cased (the one intended difference: the library writes `"bolder"` where the dicts had `"Bolder"`;
Adaptive Cards reads both).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BEFORE = "259929d"  # the last commit with hand-built card dicts
ENUM_KEYS = {"weight", "size", "color", "spacing", "style", "fontType"}


def cases() -> dict[str, tuple[Callable[[], Any], Callable[[], dict[str, Any]] | None]]:
    """name -> (layout build, view+layout build or None); imported here, inside the worker's tree."""
    from actions import ACTIONS
    from actions.spec import Item, TargetUser
    from bot.access.signing import ButtonSigner
    from bot.cards.alert_card import alert_card
    from bot.cards.approval_card import ApprovalView, approval_card
    from bot.cards.audit_card import audit_card
    from bot.cards.views import CardPainter, CaseState
    from bot.intake.alerts import Alert, Evidence
    from bot.state.cases import ActionRecord, Case

    painter = CardPainter(ButtonSigner(b"bench-key"), ["breakglass@contoso.onmicrosoft.com"])
    target = TargetUser(id="1a000000-0000-4000-8000-000000000004", upn="alice@contoso.com",
                        display_name="Alice Target", account_enabled=False, mail="alice@contoso.com")
    alert = Alert(id="a1", source="defender", title="Suspicious inbox forwarding rule", severity="high",
                  user="alice@contoso.com", detected_at="2026-11-21T10:15:00Z", description="Forwards invoices out.",
                  category="InitialAccess", confidence="high", recommended_actions="Remove the rule. " * 50,
                  evidence=(Evidence("inbox_rule", "AQAAAJ5dZqA=", "."), Evidence("ip", "203.0.113.7")))
    case = Case(id="20261121-0000abcd", alert=alert, nonce="nonce", created_at="2026-11-21T10:16:00+00:00",
                target=target, offered=tuple(ACTIONS))
    done = ActionRecord(action="disable_account", state="done", actor_id="r", actor_name="Rita Responder",
                        started_at="2026-11-21T10:20:00+00:00", finished_at="2026-11-21T10:20:01+00:00",
                        summary="Disabled Alice Target.", reversal="Re-enable with the button.", request_id="req-1")
    kinds = ["inbox_rule", "app", "teams_app", "auth_method", "mailbox_permission", "transport_rule"]
    listings = {kind: [Item(kind, f"{kind}-{i}", f"Item {i} " + "x" * 40, "a reason" if i % 3 == 0 else "")
                       for i in range(12)] for kind in kinds}
    big = CaseState(case, {done.key: done}, listings, grouped=(alert, alert, alert), grouped_count=3)
    new = CaseState(Case(**{**case.__dict__, "target": TargetUser(**{**target.__dict__, "account_enabled": True})}),
                    {})
    big_view, new_view = painter.view(big), painter.view(new)
    approval = ApprovalView(
        "Delete rule", "Alice Target (alice@contoso.com)", ".", True, "Restore rule", "Rita Responder",
        "2026-11-21T10:20:00+00:00", "2026-11-21T10:50:00+00:00", "pending", {"case": "c", "sig": "s" * 32},
        {"case": "c", "sig": "s" * 32}, "approvers")
    entry = {"at": "2026-11-21T10:20:00+00:00", "phase": "outcome", "action": "disable_account",
             "actor_name": "Rita Responder", "actor_roles": "responder", "actor_upn": "rita@contoso.com",
             "target_upn": "alice@contoso.com", "case_id": "20261121-0000abcd", "result": "ok",
             "state_before": "enabled", "state_after": "disabled", "detail": "Disabled the account. " * 8,
             "request_id": "5b1c0e9e-3c1f-4c1e-9a39-0c4b7e1c2f10", "seq": "7"}
    paging = {"case": "audit", "nonce": "n", "sig": "s" * 32, "item": "{}"}
    return {
        "case card, every list open": (lambda: alert_card(big_view), lambda: alert_card(painter.view(big))),
        "case card, new alert": (lambda: alert_card(new_view), lambda: alert_card(painter.view(new))),
        "approval card (pending)": (lambda: approval_card(approval), None),
        "audit page (10 entries)": (lambda: audit_card("alice@contoso.com", [entry] * 10, "Audit chain holds.",
                                                       True, older=paging, newer=paging), None),
    }


def timed(build: Callable[[], Any], rounds: int, repeats: int) -> float:
    for _ in range(max(10, rounds // 10)):
        build()
    means = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(rounds):
            build()
        means.append((time.perf_counter() - start) / rounds * 1e6)
    return min(means)


def worker(rounds: int, repeats: int) -> None:
    results = {}
    for name, (layout, view_and_layout) in cases().items():
        card = json.loads(json.dumps(layout()))
        results[name] = {
            "layout_us": timed(layout, rounds, repeats),
            "view_layout_us": timed(view_and_layout, rounds, repeats) if view_and_layout else None,
            "bytes": len(json.dumps(card).encode()),
            "card": card,
        }
    json.dump(results, sys.stdout)


def run_worker(tree: Path, rounds: int, repeats: int) -> dict[str, Any]:
    script = Path(__file__).resolve()
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, str(script), "--worker", "--rounds", str(rounds), "--repeats",  # noqa: S603
                          str(repeats)], cwd=tree, env=env, check=True, capture_output=True, text=True).stdout
    results: dict[str, Any] = json.loads(out)
    return results


def normalised(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: value.lower() if key in ENUM_KEYS and isinstance(value, str) else normalised(value)
                for key, value in node.items()}
    if isinstance(node, list):
        return [normalised(value) for value in node]
    return node


def fmt(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="the commit with hand-built card dicts")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.rounds, args.repeats)
        return
    with tempfile.TemporaryDirectory(prefix="riposte-cards-before-") as before_tree:
        archive = subprocess.run(["git", "archive", args.before], cwd=ROOT, check=True,  # noqa: S603, S607
                                 capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(before_tree, filter="data")
        before = run_worker(Path(before_tree), args.rounds, args.repeats)
    after = run_worker(ROOT, args.rounds, args.repeats)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,  # noqa: S607
                          capture_output=True, text=True).stdout.strip()
    print(f"Python {platform.python_version()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
          f"rounds {args.rounds}, repeats {args.repeats}; before = {args.before} (hand-built dicts), "
          f"after = {head} (adaptive-cards-py)\n")
    print("| card | layout µs before | after | view+layout µs before | after | bytes before | after | "
          "equivalent |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, old in before.items():
        new = after[name]
        same = "yes" if normalised(old["card"]) == normalised(new["card"]) else "**no**"
        print(f"| {name} | {fmt(old['layout_us'])} | {fmt(new['layout_us'])} | {fmt(old['view_layout_us'])} | "
              f"{fmt(new['view_layout_us'])} | {old['bytes']:,} | {new['bytes']:,} | {same} |")


if __name__ == "__main__":
    main()
