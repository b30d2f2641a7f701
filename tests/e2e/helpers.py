"""Helpers for driving the running app and reading the sandbox's state."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
import redis.asyncio as redis_async

from sandbox.channel import CHANNEL, ChannelState
from sandbox.seed import load_seed
from sandbox.tenant import TENANT, TenantState
from tests.conftest import RunningBot

SEED = load_seed()
USERS = {user["userPrincipalName"].split("@")[0]: user for user in SEED["users"]}
RESPONDER = USERS["rita.responder"]["id"]
APPROVER = USERS["avery.approver"]["id"]
NO_ROLE = USERS["nolan.norole"]["id"]
ADMIN_RESPONDER = USERS["ada.adminresponder"]["id"]
ALICE = USERS["alice"]["id"]

SAMPLE_ALERT: dict[str, Any] = {
    "id": "test-alert-1", "source": "defender", "title": "Suspicious inbox forwarding rule", "severity": "high",
    "user": "alice@contoso.com", "detected_at": "2026-11-21T10:15:00Z",
    "description": "An inbox rule forwards invoices outside.", "category": "InitialAccess", "confidence": "high",
    "evidence": [{"kind": "inbox_rule", "id": "AQAAAJ5dZqA=", "name": "."}, {"kind": "ip", "id": "203.0.113.7"}],
}


PRIVILEGED_AUTH_ADMIN = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"


def app_holds_privileged_auth_admin(bot: RunningBot) -> None:
    """App mode (RIPOSTE_PRIVILEGED_ACTIONS=app) acts on administrators with the app's own rights, which Entra allows
    only to an app holding Privileged Authentication Administrator: give the sandbox app that role."""
    tenant(bot).application.setdefault("directoryRoles", []).append(
        {"id": "7a000000-0000-4000-8000-000000000013", "roleTemplateId": PRIVILEGED_AUTH_ADMIN,
         "displayName": "Privileged Authentication Administrator"})


def channel(bot: RunningBot) -> ChannelState:
    return bot.sandbox.channel.app[CHANNEL]


def tenant(bot: RunningBot) -> TenantState:
    return bot.sandbox.tenant.app[TENANT]


async def post_alert(bot: RunningBot, body: Any, *, raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else json.dumps(body).encode()
    async with aiohttp.ClientSession() as session, session.post(
        f"{bot.url}/api/alerts", data=data, headers={"Content-Type": "application/json"}
    ) as response:
        return response.status, await response.json()


def card_of(activity: dict[str, Any] | None) -> dict[str, Any]:
    assert activity is not None, "no such activity in the channel"
    attachments = activity.get("attachments") or []
    assert attachments, f"activity has no attachments: {activity}"
    content: dict[str, Any] = attachments[0]["content"]
    return content


def card_text(card: dict[str, Any]) -> str:
    """Every string in a card, joined: what a person could read on it."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            found.append(node)

    walk(card)
    return "\n".join(found)


def execute_buttons(node: Any) -> list[dict[str, Any]]:
    """Every Action.Execute in a card: the main buttons, per-item buttons and undo buttons on status blocks."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "Action.Execute":
            found.append(node)
        for key, value in node.items():
            if key != "fallback":
                found.extend(execute_buttons(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(execute_buttons(value))
    return found


def buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The card's main buttons by verb: the visible ones and those behind “More actions”."""
    return {action["verb"]: action for action in execute_buttons(card.get("actions", []))}


async def wait_until(predicate: Callable[[], Any], seconds: float = 30.0, what: str = "condition") -> Any:
    """The first truthy value of `predicate` (a plain or an async function), polled every 50 ms."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def audit_entries(redis_url: str, case_id: str, *, events: bool = False,
                        ids: bool = False) -> list[dict[str, str]]:
    """The case's audit entries: what was done and refused; with `events`, also what happened around it (alert
    received, card posted). With `ids`, each also carries its stream id as "id" (what an undo links to)."""
    client = redis_async.Redis.from_url(redis_url, decode_responses=True)
    try:
        raw = await client.xrange("riposte:audit") or []
    finally:
        await client.aclose()
    entries = [{**({"id": str(entry_id)} if ids else {}), **{str(key): str(value) for key, value in
                                                            (fields or {}).items()}} for entry_id, fields in raw]
    return [fields for fields in entries
            if fields.get("case_id") == case_id and (events or fields.get("phase") != "event")]


async def posted_card(bot: RunningBot, alert: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """Post an alert and return (case id, the root activity holding its card)."""
    status, body = await post_alert(bot, alert or SAMPLE_ALERT)
    assert status == 202, body
    return body["case_id"], await case_thread_root(bot, body["case_id"])


class Served(Protocol):
    """A bot that answers HTTP: in this process (RunningBot) or a `python app.py` process (BotProcess)."""

    @property
    def url(self) -> str: ...


async def metric(bot: Served, name: str) -> float:
    """The sum of the samples of `name` (any labels) on /metrics."""
    async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/metrics") as response:
        text = await response.text()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


async def jobs_done(bot: Served, seconds: float = 30.0, *, but_watch_checks: bool = False) -> None:
    """Every queued job has finished (the backlog is zero), so "nothing more happened" can be asserted.

    `but_watch_checks`: a live watch re-checking every fraction of a second always has its next check queued, so
    only the other queues are waited for (wait for the checks themselves with the watch's own check count)."""
    names = (['riposte_jobs_backlog{queue="riposte-alerts"}', 'riposte_jobs_backlog{queue="riposte-interactive"}']
             if but_watch_checks else ["riposte_jobs_backlog"])
    deadline = time.monotonic() + seconds
    while sum([await metric(bot, name) for name in names]) > 0:
        assert time.monotonic() < deadline, "the job backlog did not drain"
        await asyncio.sleep(0.05)


async def settled(bot: Served, seconds: float = 30.0) -> None:
    """Every action this app runs in the background has finished, and so has every job it queued (or that queued
    actions): "nothing happened" can be asserted now, rather than after a guessed sleep."""
    deadline = time.monotonic() + seconds
    while True:
        while await metric(bot, "riposte_actions_in_flight") > 0:  # an action queues its card update as it ends
            assert time.monotonic() < deadline, "the actions in flight did not finish"
            await asyncio.sleep(0.05)
        await jobs_done(bot, max(0.0, deadline - time.monotonic()))
        if await metric(bot, "riposte_actions_in_flight") == 0:  # no job started another meanwhile
            return


async def case_thread_root(bot: RunningBot, case_id: str, seconds: float = 30.0) -> dict[str, Any]:
    """The root activity of the case's thread, once a worker has posted it (posting follows the 202)."""

    def find() -> dict[str, Any] | None:
        for thread in channel(bot).threads():
            if thread["root"].get("attachments") and case_id in card_text(card_of(thread["root"])):
                return dict(thread["root"])
        return None

    root: dict[str, Any] = await wait_until(find, seconds, f"the card of case {case_id}")
    return root
