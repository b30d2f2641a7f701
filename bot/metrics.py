"""Process-local metrics in Prometheus text format (each replica is scraped on its own), through prometheus-client.

Every `Metrics` has its own registry: tests run several apps in one process, and the global default registry would
mix their numbers (and refuse a second metric of the same name). Counters are created on first use from the name
and label names the call site gives (`metrics.count("riposte_alerts_total", status="accepted")`); a name keeps
the label names of its first use. Histograms and gauges are declared here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import prometheus_client
from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger(__name__)

# Prometheus' classic text format; prometheus-client's CONTENT_TYPE_LATEST says version=1.0.0 since 0.22.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# `<name>_created` series double the output and tell a scraper nothing it needs here.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

# Seconds: a click is answered in milliseconds; Graph and intake take tens to hundreds; Teams' limit is ~5 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
GAUGES = {
    "riposte_actions_in_flight": ((), "actions running in this process now"),
    "riposte_teams_limiter_waits": ((), "times a send waited for Teams' rate limits in this process"),
    "riposte_jobs_backlog": (("queue",), "jobs waiting in each queue (shared by all workers)"),
    "riposte_checks_scheduled": ((), "checks due later: watch checks, action recovery checks (shared)"),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._counters: dict[str, tuple[Counter, tuple[str, ...]]] = {}
        self.http_seconds = Histogram(
            "riposte_http_request_duration_seconds",
            "time to answer an HTTP request, by route (/api/messages: how long a click or message waits for its "
            "answer; /api/alerts: intake)", ("route", "method", "status"), registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self.intake_seconds = Histogram(
            "riposte_intake_duration_seconds", "time to keep an alert durably (parse, group, store, queue)",
            ("status",), registry=self.registry, buckets=LATENCY_BUCKETS,
        )
        self.graph_seconds = Histogram(
            "riposte_graph_request_duration_seconds",
            "time of one Microsoft Graph call (retries included), by operation and HTTP status",
            ("operation", "status"), registry=self.registry, buckets=LATENCY_BUCKETS,
        )
        self._gauges = {name: Gauge(name, doc, labels, registry=self.registry)
                        for name, (labels, doc) in GAUGES.items()}

    def count(self, name: str, **labels: str) -> None:
        """Add one to counter `name` (ending in _total) with these labels."""
        names = tuple(sorted(labels))
        known = self._counters.get(name)
        if known is None:
            counter = Counter(name.removesuffix("_total"), f"{name} (see README, Metrics)", names,
                              registry=self.registry)
            known = self._counters[name] = (counter, names)
        counter, label_names = known
        if names != label_names:
            log.error("metric %s counted with labels %s, first used with %s: not counted", name, names, label_names)
            return
        (counter.labels(**labels) if labels else counter).inc()

    def graph_call(self, operation: str, status: str, seconds: float) -> None:
        self.graph_seconds.labels(operation=operation, status=status).observe(seconds)

    def render(self, gauges: dict[str, float], backlog: dict[str, float] | None = None) -> bytes:
        """The text exposition, with the gauges set to these values first."""
        for name, value in gauges.items():
            self._gauges[name].set(value)
        for queue, count in (backlog or {}).items():
            self._gauges["riposte_jobs_backlog"].labels(queue=queue).set(count)
        return generate_latest(self.registry)

    def middleware(self) -> Middleware:
        """An aiohttp middleware timing every request by route (its pattern, never the raw path)."""

        @web.middleware
        async def timed(request: web.Request, handler: Handler) -> web.StreamResponse:
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as error:
                status = error.status
                raise
            finally:
                resource = request.match_info.route.resource
                route = resource.canonical if resource is not None else "unmatched"
                self.http_seconds.labels(route=route, method=request.method, status=str(status)).observe(
                    time.perf_counter() - started)

        return timed
