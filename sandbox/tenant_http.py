"""HTTP plumbing shared by the sandbox tenant's routes: Graph-shaped errors, JSON in and out."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web

from sandbox.tenant_state import TENANT, TenantState

GRAPH_METADATA = "https://graph.microsoft.com/v1.0/$metadata"
# Graph's own content type; clients comparing it to a bare "application/json" should fail here too.
GRAPH_CONTENT_TYPE = ("application/json;odata.metadata=minimal;odata.streaming=true;"
                      "IEEE754Compatible=false;charset=utf-8")
T = TypeVar("T")
REQUEST_IDS: web.RequestKey[tuple[str, str]] = web.RequestKey("riposte_sandbox_request_ids")
# Who called (set once the bearer token is checked): None for the app's own token, else the person's grant.
CALLER: web.RequestKey[Any] = web.RequestKey("riposte_sandbox_caller")


class GraphError(Exception):
    """Raised by handlers; the middleware renders it as Graph's error body."""

    inner_error = True

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


class ExchangeError(GraphError):
    """The Exchange admin API's error body has no innerError."""

    inner_error = False


def not_found(key: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{key}' does not exist or one of its queried reference-property objects "
                      "are not present.")


def existing(store: Mapping[str, T], key: str) -> T:
    """store[key], or Graph's 404 for it."""
    found = store.get(key)
    if found is None:
        raise not_found(key)
    return found


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphError:
    return GraphError(400, code, message)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_request_ids(request: web.Request) -> tuple[str, str]:
    request_id = str(uuid.uuid4())
    return request_id, request.headers.get("client-request-id") or request_id


def error_response(request: web.Request, error: GraphError) -> web.Response:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.inner_error:
        request_id, client_id = request.get(REQUEST_IDS) or new_request_ids(request)
        body["innerError"] = {"date": now_iso().rstrip("Z"), "request-id": request_id,
                              "client-request-id": client_id}
    return graph_json({"error": body}, status=error.status, headers=error.headers)


def graph_json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=json.dumps(data).encode(),
                        headers={"Content-Type": GRAPH_CONTENT_TYPE, **(headers or {})})


def collection(context: str, items: list[dict[str, Any]], *, count: bool = False) -> web.Response:
    """Graph's collection body; with `count` (an advanced query's $count=true) also "@odata.count"."""
    counted = {"@odata.count": len(items)} if count else {}
    return graph_json({"@odata.context": f"{GRAPH_METADATA}#{context}", **counted, "value": items})


def no_content() -> web.Response:
    return web.Response(status=204)


def state_of(request: web.Request) -> TenantState:
    return request.app[TENANT]


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object without OData annotations, or Graph's 400 for a bad payload."""
    text = await request.text()
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set "
                          "and payload is of valid JSON format.", code="BadRequest")
    # The SDK sends annotations like "@odata.type"; Graph accepts them and stores nothing.
    return {key: value for key, value in body.items() if not key.startswith("@odata.")}


_STRING = r"'((?:[^']|'')*)'"
# `name eq 'x'`, or `name/any(p:p eq 'x')` on a collection property; then `or` and the next clause, or the end.
_CLAUSE = re.compile(
    rf"\s*(?:(\w+)\s+eq\s+{_STRING}|(\w+)/any\((\w+):\s*(\w+)\s+eq\s+{_STRING}\))\s*(?:or\s+(?=\S)|\Z)", re.IGNORECASE)


def _unsupported_filter() -> GraphError:
    return bad_request("Unsupported or invalid query filter clause specified.", "Request_UnsupportedQuery")


def parse_eq_filter(expression: str, allowed: set[str], collections: frozenset[str] = frozenset()
                    ) -> list[tuple[str, str]]:
    """`a eq 'x' or c/any(p:p eq 'y')` → [(a, x), (c, y)] for `a` in `allowed` and `c` in `collections`;
    anything else is Graph's unsupported-query 400."""
    clauses, position = [], 0
    while position < len(expression):
        match = _CLAUSE.match(expression, position)
        if not match:
            raise _unsupported_filter()
        name, value, collection_name, variable, compared, item = match.groups()
        if name is not None and name in allowed:
            clauses.append((name, value.replace("''", "'")))
        elif collection_name in collections and variable == compared:
            clauses.append((collection_name, item.replace("''", "'")))
        else:
            raise _unsupported_filter()
        position = match.end()
    if not clauses:
        raise _unsupported_filter()
    return clauses


def select_fields(item: dict[str, Any], request: web.Request) -> dict[str, Any]:
    """Apply $select like Graph does: only the named properties (null when unset)."""
    select = request.query.get("$select")
    if not select:
        return item
    names = [name.strip() for name in select.split(",") if name.strip()]
    extra = {k: v for k, v in item.items() if k.startswith("@odata.")}
    return {**extra, **{name: item.get(name) for name in names}}
