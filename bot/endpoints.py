"""HTTP endpoints besides the Bot Framework one: alert intake, health and metrics."""

from __future__ import annotations

import hmac
import json
import logging
import time

from aiohttp import web
from redis.exceptions import RedisError

from bot.audit.health import persistence
from bot.config import is_loopback
from bot.intake.alerts import AlertInvalid, parse_alert
from bot.intake.handle import ChannelNotConfigured, accept_alert
from bot.metrics import CONTENT_TYPE, Metrics
from bot.pipeline.jobs import CHANNEL_PROBLEM_KEY
from bot.services import Services

log = logging.getLogger(__name__)
MAX_ALERT_BYTES = 256 * 1024

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)


def _error(status: int, message: str, fields: dict[str, str] | None = None) -> web.Response:
    body: dict[str, object] = {"error": message}
    if fields is not None:
        body["fields"] = fields
    return web.json_response(body, status=status)


def _alert_caller_allowed(request: web.Request, token: str) -> bool:
    if not token:
        return is_loopback(request.remote or "")
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


async def _read_limited(request: web.Request) -> bytes | None:
    """The body, or None when it is over the limit (checked while reading, not trusting Content-Length)."""
    if request.content_length is not None and request.content_length > MAX_ALERT_BYTES:
        return None
    body = await request.content.read(MAX_ALERT_BYTES + 1)
    return None if len(body) > MAX_ALERT_BYTES else body


async def post_alert(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    metrics = request.app[METRICS]
    if not _alert_caller_allowed(request, services.settings.alert_token.get_secret_value()):
        metrics.count("riposte_alerts_total", status="unauthorized")
        return _error(401, "missing or wrong bearer token (RIPOSTE_ALERT_TOKEN); without a token only loopback "
                           "callers may post alerts")
    raw = await _read_limited(request)
    if raw is None:
        return _error(413, f"alert body is larger than {MAX_ALERT_BYTES // 1024} KB")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return _error(400, f"body is not valid JSON: {error}", {"body": "must be a JSON object"})
    try:
        alert = parse_alert(body)
    except AlertInvalid as invalid:
        metrics.count("riposte_alerts_total", status="invalid")
        return _error(400, f"invalid alert: {invalid}", invalid.fields)
    started = time.perf_counter()
    try:
        accepted = await accept_alert(services, alert)
    except RedisError as error:
        log.warning("state store unreachable during alert intake of %s/%s: %s", alert.source, alert.id, error)
        metrics.count("riposte_alerts_total", status="unavailable")
        metrics.intake_seconds.labels(status="unavailable").observe(time.perf_counter() - started)
        return _error(503, "the state store (Redis) is unreachable; nothing was accepted, send the alert again")
    except ChannelNotConfigured as error:
        metrics.count("riposte_alerts_total", status="no_channel")
        return _error(409, str(error))
    metrics.count("riposte_alerts_total", status=accepted.status)
    metrics.intake_seconds.labels(status=accepted.status).observe(time.perf_counter() - started)
    return web.json_response({"case_id": accepted.case_id, "status": accepted.status}, status=202)


async def healthz(request: web.Request) -> web.Response:
    """200 when Redis answers (the contract); the body also says whether alerts can reach their channel."""
    try:
        problem = await request.app[SERVICES].redis.get(CHANNEL_PROBLEM_KEY)
    except (RedisError, OSError):
        return web.json_response({"status": "unhealthy", "redis": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "redis": "ok", "alert_channel": str(problem or "ok"),
                              "persistence": await persistence(request.app[SERVICES].redis)})


async def metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    gauges = {"riposte_actions_in_flight": float(len(services.inflight)),
              "riposte_teams_limiter_waits": float(services.limiter.waits)}
    backlog: dict[str, float] = {}
    try:
        backlog = {queue: float(count) for queue, count in (await services.queues.backlog()).items()}
        gauges["riposte_checks_scheduled"] = float(await services.queues.scheduled_checks())
    except RedisError:
        log.warning("could not read the job backlog for /metrics: Redis is unreachable")
    body = request.app[METRICS].render(gauges, backlog)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
