"""Metrics (prometheus-client, one registry per app) and JSON logs (a correlation id per request and job, no
secret in any line) over a full run: an alert, a reset password requested by a responder and approved."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from bot.logs import CorrelationFilter, build_formatter, incoming_correlation_id
from sandbox.tenant import SANDBOX_GRAPH_TOKEN
from tests.conftest import BotFactory, RunningBot
from tests.e2e.card_clicks import CaseThread
from tests.e2e.helpers import SAMPLE_ALERT
from tests.e2e.test_reset_password import password_in

GRAPH_SECRET = "graph-client-secret-in-settings"
SIGNING_KEY = "button-signing-key-in-settings"


async def scrape(bot: RunningBot) -> dict[str, Any]:
    """name → family, checking the content type and that prometheus_client's own parser reads every line."""
    async with aiohttp.ClientSession() as session, session.get(f"{bot.url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = await response.text()
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(families: dict[str, Any], name: str, suffix: str, **labels: str) -> float:
    family = families[name]
    return float(sum(s.value for s in family.samples
               if s.name == name + suffix and all(s.labels.get(k) == v for k, v in labels.items())))


async def send_alert(bot: RunningBot, alert_id: str, headers: dict[str, str] | None = None
                     ) -> tuple[CIMultiDict[str], str]:
    """The answer's headers and the case id."""
    async with aiohttp.ClientSession() as session, session.post(
        f"{bot.url}/api/alerts", json={**SAMPLE_ALERT, "id": alert_id}, headers=headers or {}
    ) as response:
        assert response.status == 202, await response.text()
        return CIMultiDict(response.headers), str((await response.json())["case_id"])


async def test_metrics_parse_and_have_histograms_after_requests(make_bot: BotFactory) -> None:
    first, second = await make_bot(), await make_bot()  # two apps in one process: separate registries
    _, case_id = await send_alert(first, "metrics-1")
    thread = await CaseThread.open_existing(first, case_id)
    await thread.click("revoke_sessions")
    await thread.wait_for("Revoke sessions: done by")
    families = await scrape(first)
    assert sample(families, "riposte_alerts", "_total", status="accepted") == 1
    assert sample(families, "riposte_intake_duration_seconds", "_count", status="accepted") == 1
    assert sample(families, "riposte_http_request_duration_seconds", "_count", route="/api/alerts",
                  method="POST", status="202") == 1
    assert sample(families, "riposte_http_request_duration_seconds", "_count", route="/api/messages") >= 1
    assert sample(families, "riposte_http_request_duration_seconds", "_bucket", route="/api/messages", le="+Inf") >= 1
    assert sample(families, "riposte_graph_request_duration_seconds", "_count",
                  operation="revoke sign-in sessions", status="200") == 1
    assert sample(families, "riposte_actions", "_total", action="revoke_sessions", result="ok") == 1
    assert families["riposte_jobs_backlog"].type == "gauge"
    others = await scrape(second)
    assert "riposte_alerts" not in others or sample(others, "riposte_alerts", "_total") == 0
    assert sample(others, "riposte_intake_duration_seconds", "_count") == 0


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every log record of the process as JSON lines, at DEBUG, through Riposte's formatter with NO secrets
    registered for masking: what this test finds unmasked is what the code itself never logs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build_formatter("json"))
    handler.addFilter(CorrelationFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


async def test_logs_of_a_full_run_are_json_correlated_and_hold_no_secret(
    make_bot: BotFactory, json_log: io.StringIO
) -> None:
    bot = await make_bot(graph_client_secret=SecretStr(GRAPH_SECRET), signing_key=SecretStr(SIGNING_KEY))
    headers, _ = await send_alert(bot, "logs-1", {"X-Correlation-Id": "alert-from-siem-42"})
    assert headers["X-Correlation-Id"] == "alert-from-siem-42"
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers, _ = await send_alert(bot, "logs-2", {"traceparent": f"00-{trace}-00f067aa0ba902b7-01"})
    assert headers["X-Correlation-Id"] == trace

    thread = await CaseThread.open(bot)
    await thread.click("reset_password")
    password = password_in(await thread.approve())
    await thread.wait_for("Reset password: done by")

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert len(lines) > 10
    assert all({"time", "level", "logger", "message", "correlation_id"} <= set(line) for line in lines)
    kept = [line for line in lines if line["message"].startswith("alert defender/logs-1 accepted")]
    assert kept and kept[0]["correlation_id"] == "alert-from-siem-42"
    assert any(line["message"].startswith("alert defender/logs-2 accepted") and line["correlation_id"] == trace
               for line in lines)
    assert any(str(line["correlation_id"]).startswith("job:") for line in lines), "job lines carry the job's id"
    text = json_log.getvalue()
    for secret in (GRAPH_SECRET, SIGNING_KEY, SANDBOX_GRAPH_TOKEN, password):
        assert secret not in text


def test_masking_and_incoming_ids() -> None:
    formatter = build_formatter("text", ["s3cr3t-value"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "secret %s and Authorization: Bearer %s", (
        "s3cr3t-value", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4eHh4eHgifQ.c2lnbmF0dXJl"), None)
    CorrelationFilter().filter(record)
    line = formatter.format(record)
    assert "s3cr3t-value" not in line and "eyJ" not in line and "Bearer ***" in line
    assert incoming_correlation_id({"X-Correlation-Id": "bad id\nwith newline"}) != "bad id\nwith newline"
    assert len(incoming_correlation_id({})) == 16
    assert incoming_correlation_id({"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"}) != "0" * 32
