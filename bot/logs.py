"""Logging: the standard library's, as JSON lines (python-json-logger) or text, with a correlation id on every line
logged while a request or a job is handled, and known secrets masked in whatever is written.

LOG_FORMAT=json|text picks the format (default: json outside local mode, text in local mode). A request's id is
the caller's `X-Correlation-Id` when it is a sane token, else the trace id of a W3C `traceparent`, else a new one;
the answer carries it back in `X-Correlation-Id`. A job's id is its queue key.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

from aiohttp import web
from pythonjsonlogger.json import JsonFormatter

from bot.config import Settings

CORRELATION_HEADER = "X-Correlation-Id"
correlation_id: ContextVar[str] = ContextVar("riposte_correlation_id", default="")

_SANE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
# Bearer tokens and JWTs, whoever logs them (a library's debug output, an exception text).
_TOKENS = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
MASK = "***"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s]: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:16]


def incoming_correlation_id(headers: Any) -> str:
    """The caller's id (X-Correlation-Id, else a traceparent's trace id) when it is sane; else a new one."""
    given = str(headers.get(CORRELATION_HEADER, "")).strip()
    if _SANE_ID.fullmatch(given):
        return given
    trace = _TRACEPARENT.fullmatch(str(headers.get("traceparent", "")).strip().lower())
    if trace and trace.group(1) != "0" * 32:
        return trace.group(1)
    return new_correlation_id()


@contextmanager
def correlated(value: str) -> Iterator[str]:
    """Log lines inside carry `value` as their correlation id (a job, a background task)."""
    token = correlation_id.set(value)
    try:
        yield value
    finally:
        correlation_id.reset(token)


@web.middleware
async def correlation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every log line of this request carries its correlation id; tasks it starts inherit it."""
    with correlated(incoming_correlation_id(request.headers)) as value:
        response = await handler(request)
    if not response.prepared and CORRELATION_HEADER not in response.headers:
        response.headers[CORRELATION_HEADER] = value
    return response


async def echo_correlation_id(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the answer names the id, also when a handler sends its answer itself (the middleware
    adds it to the others)."""
    value = correlation_id.get()
    if value and CORRELATION_HEADER not in response.headers:
        response.headers[CORRELATION_HEADER] = value


class CorrelationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "correlation_id", ""):
            record.correlation_id = correlation_id.get() or "-"
        return True


class _Masking:
    """Mixin for a Formatter: masks each known secret value, bearer tokens and JWTs in the finished line."""

    secrets: tuple[str, ...] = ()

    def mask(self, line: str) -> str:
        for secret in self.secrets:
            line = line.replace(secret, MASK)
        return _TOKENS.sub(lambda match: (match.group(1) or "") + MASK, line)


class MaskingTextFormatter(_Masking, logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return self.mask(super().format(record))


class MaskingJsonFormatter(_Masking, JsonFormatter):  # type: ignore[misc]
    def format(self, record: logging.LogRecord) -> str:
        return self.mask(str(super().format(record)))


def secret_values(settings: Settings) -> tuple[str, ...]:
    """The settings' secrets worth masking (long enough that masking them cannot garble ordinary words)."""
    values = (settings.graph_client_secret, settings.microsoft_app_password, settings.alert_token,
              settings.signing_key, settings.audit_key)
    return tuple(sorted({v.get_secret_value() for v in values if len(v.get_secret_value()) >= 6}, key=len,
                        reverse=True))


def log_format(settings: Settings) -> str:
    chosen = settings.log_format.strip().lower()
    if chosen in ("json", "text"):
        return chosen
    return "text" if settings.local_mode else "json"


def build_formatter(kind: str, secrets: Iterable[str] = ()) -> logging.Formatter:
    formatter: _Masking
    if kind == "json":
        formatter = MaskingJsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger",
                                                                     "asctime": "time"},
                                         timestamp=False)
    else:
        formatter = MaskingTextFormatter(TEXT_FORMAT)
    formatter.secrets = tuple(secrets)
    assert isinstance(formatter, logging.Formatter)
    return formatter


def configure_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Root logging for a process: one handler on `stream` (standard error), the settings' format and level."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(build_formatter(log_format(settings), secret_values(settings)))
    handler.addFilter(CorrelationFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    return handler
