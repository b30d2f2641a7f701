"""Microsoft Graph: client construction and translation of Graph errors into our error vocabulary."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.kiota_client_factory import DEFAULT_CONNECTION_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, KiotaClientFactory
from kiota_http.middleware import BaseMiddleware, RetryHandler
from kiota_http.middleware.options import HeadersInspectionHandlerOption, RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph_core import GraphClientFactory

from actions.errors import BadRequest, NotFound, PermissionMissing, ServiceError, ServiceUnavailable, Throttled
from actions.spec import Pages, SignedIn, any_of
from actions.tls import tls_context

log = logging.getLogger(__name__)
T = TypeVar("T")


class FractionalRetryHandler(RetryHandler):  # type: ignore[misc]
    """Honours `Retry-After: 2.128` (Graph's documented example), which kiota's int() parse drops."""

    def _parse_retry_after(self, retry_after: str) -> float | None:
        if re.fullmatch(r"\s*\d+(\.\d+)?\s*", retry_after):
            return max(0.0, float(retry_after))
        parsed: float | None = super()._parse_retry_after(retry_after)
        return parsed


# Told of each Graph call: its operation (what call_graph was asked to do), HTTP status ("error" when there was no
# answer) and seconds, retries included. The bot's metrics listen; actions/ knows nothing of them.
CallObserver = Callable[[str, str, float], None]
_operation: ContextVar[str] = ContextVar("riposte_graph_operation", default="other")


class TimingHandler(BaseMiddleware):  # type: ignore[misc]
    """Outermost middleware: times one call as the caller sees it (retries and backoff included)."""

    def __init__(self, observe: CallObserver) -> None:
        super().__init__()
        self._observe = observe

    async def send(self, request: httpx.Request, transport: httpx.AsyncBaseTransport) -> httpx.Response:
        started = time.perf_counter()
        status = "error"
        try:
            response: httpx.Response = await super().send(request, transport)
            status = str(response.status_code)
            return response
        finally:
            try:
                self._observe(_operation.get(), status, time.perf_counter() - started)
            except Exception:  # metrics must never fail a call
                log.exception("the Graph call observer failed")


# Delegated mode: the person whose own token a run uses (set around the run by acting_as), and the token of the one
# Graph call being sent (set by call_graph for a delegable operation). Context variables: per task, so one run's
# token never reaches another's call, and gone when the run ends.
_person: ContextVar[SignedIn | None] = ContextVar("riposte_graph_person", default=None)
_call_person: ContextVar[SignedIn | None] = ContextVar("riposte_graph_call_person", default=None)


@contextmanager
def acting_as(person: SignedIn | None) -> Iterator[None]:
    """Within this block, the delegable Graph calls (the writes Graph guards by directory role) carry `person`'s own
    token; every other call, reads included, keeps the app's. None: the app's rights throughout."""
    token = _person.set(person)
    try:
        yield
    finally:
        _person.reset(token)


class PerCallCredential:
    """The app's credential, except for a call acting_as marked: that one is sent with the person's token."""

    def __init__(self, app: AsyncTokenCredential) -> None:
        self._app = app

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        person = _call_person.get()
        if person is not None:
            return AccessToken(person.token, int(time.time()) + 300)  # the token service knows its real expiry
        token: AccessToken = await self._app.get_token(*scopes, **kwargs)
        return token

    async def close(self) -> None:
        await self._app.close()

    async def __aenter__(self) -> PerCallCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.close()


def build_http_client(base_url: str, observe: CallObserver | None = None) -> httpx.AsyncClient:
    middleware = [
        FractionalRetryHandler() if isinstance(handler, RetryHandler) else handler
        for handler in KiotaClientFactory.get_default_middleware(None)
    ]
    if observe is not None:
        middleware.insert(0, TimingHandler(observe))
    # KiotaClientFactory.get_default_client()'s settings, with the shared TLS context
    client = httpx.AsyncClient(timeout=httpx.Timeout(DEFAULT_REQUEST_TIMEOUT, connect=DEFAULT_CONNECTION_TIMEOUT),
                               http2=True, verify=tls_context(), base_url=base_url)
    http: httpx.AsyncClient = GraphClientFactory.create_with_custom_middleware(middleware, client=client)
    return http


def build_graph_client(endpoint: str, credential: AsyncTokenCredential,
                       observe: CallObserver | None = None) -> GraphServiceClient:
    """A GraphServiceClient for `endpoint` (global, a national cloud, or a local sandbox); `observe` is told the
    operation, status and duration of each call."""
    base_url = f"{endpoint.rstrip('/')}/v1.0"
    host = httpx.URL(base_url).host
    auth = AzureIdentityAuthenticationProvider(
        PerCallCredential(credential), scopes=[f"{endpoint.rstrip('/')}/.default"], allowed_hosts=[host]
    )
    adapter = GraphRequestAdapter(auth, client=build_http_client(base_url, observe))
    adapter.base_url = base_url
    return GraphServiceClient(request_adapter=adapter)


@dataclass(frozen=True)
class Operation:
    """What a Graph call does and what it needs, so a refusal can say which permission is missing."""

    description: str  # "revoke sign-in sessions"
    permission: str  # least-privileged application permission
    note: str = ""  # extra prerequisite (a directory role, a licence)
    delegable: bool = False  # a write Graph guards by directory role: a person's token runs it in delegated mode


# Set while a call must answer at once (an action whose result goes in the click's answer): no waiting out a
# throttle, since Teams drops an answer later than ~5 s; a 429 then fails clearly with nothing changed.
_no_retries: ContextVar[bool] = ContextVar("riposte_graph_no_retries", default=False)


@contextmanager
def without_retries() -> Iterator[None]:
    token = _no_retries.set(True)
    try:
        yield
    finally:
        _no_retries.reset(token)


def new_request_config() -> tuple[RequestConfiguration[Any], HeadersInspectionHandlerOption]:
    inspection = HeadersInspectionHandlerOption(inspect_response_headers=True)
    options: list[Any] = [inspection]
    if _no_retries.get():
        options.append(RetryHandlerOption(max_retries=0))
    return RequestConfiguration(options=options), inspection


def request_id_of(inspection: HeadersInspectionHandlerOption) -> str | None:
    values = inspection.response_headers.get("request-id")
    return next(iter(values), None) if values else None


def translate(error: APIError, operation: Operation, subject: str, person: SignedIn | None = None) -> ServiceError:
    """Turn a kiota APIError (ODataError) into a message that says what was refused and why; `person`: the call
    carried their own token, so a refusal is about their Entra role (or the consent), not the app's."""
    status = int(error.response_status_code or 0)
    headers = error.response_headers or {}
    request_ids = headers.get("request-id") if hasattr(headers, "get") else None
    request_id = next(iter(request_ids), None) if request_ids else None
    odata = getattr(error, "error", None)
    code = str(getattr(odata, "code", "") or "")
    detail = str(getattr(odata, "message", "") or error.message or "")
    what = f"Graph refused to {operation.description} for {subject}"
    if person is not None and status in (401, 403):
        return _refused_person(person, what, status, detail, request_id, code)
    if status == 403:
        need = f"the app needs the {operation.permission} application permission (admin-consented)"
        if operation.note:
            need += f" and {operation.note}"
        return PermissionMissing(f"{what}: {need}. Graph said: {detail}", request_id=request_id, code=code)
    if status == 404:
        return NotFound(f"{what}: no such object in this tenant ({detail})", request_id=request_id, code=code)
    if status == 429:
        return Throttled(
            f"{what}: Graph is throttling requests (429); nothing was changed. Try again in a minute.",
            request_id=request_id,
            code=code,
        )
    if status == 400:
        return BadRequest(f"{what}: the request was rejected ({code}: {detail})", request_id=request_id, code=code)
    if status >= 500 or status == 0:
        return ServiceUnavailable(
            f"{what}: Graph is unavailable ({status or 'no answer'}: {detail})", request_id=request_id, code=code
        )
    return ServiceError(f"{what}: {status} {code}: {detail}", request_id=request_id, code=code)


def _refused_person(person: SignedIn, what: str, status: int, detail: str, request_id: str | None,
                    code: str) -> ServiceError:
    if status == 401:
        return PermissionMissing(f"{what}: {person.label}'s sign-in was not accepted (expired or revoked); click "
                                 f"again to sign in. Nothing was changed. Graph said: {detail}",
                                 request_id=request_id, code=code)
    roles = any_of(person.roles_needed) or "a directory role that allows it"
    consent = f" ({person.consent_url})" if person.consent_url else ""
    return PermissionMissing(
        f"{what} with {person.label}'s own rights: you need {roles} in Entra to do this. If you hold it, a Global "
        f"Administrator may not have consented to Riposte's delegated permission {person.scope or 'for it'} yet"
        f"{consent}. Graph said: {detail}", request_id=request_id, code=code)


async def call_graph(
    operation: Operation,
    subject: str,
    call: Callable[[RequestConfiguration[Any]], Awaitable[T]],
) -> tuple[T, str | None]:
    """Run one Graph call; return its result and Graph's request id, or raise a ServiceError."""
    config, inspection = new_request_config()
    named = _operation.set(operation.description)
    person = _person.get() if operation.delegable else None
    carried = _call_person.set(person)
    try:
        result = await call(config)
    except APIError as error:
        raise translate(error, operation, subject, person) from None
    except httpx.HTTPError as error:
        raise ServiceUnavailable(
            f"Graph could not be reached to {operation.description} for {subject}: {type(error).__name__}"
        ) from None
    finally:
        _call_person.reset(carried)
        _operation.reset(named)
    return result, request_id_of(inspection)



async def call_method(operation: Operation, subject: str, method: Any, *args: Any) -> tuple[Any, str | None]:
    """One request-builder call (`builder.post`, `builder.delete`, ...) through call_graph: its result and
    Graph's request id, or a translated ServiceError."""

    async def send(config: RequestConfiguration[Any]) -> Any:
        return await method(*args, request_configuration=config)

    return await call_graph(operation, subject, send)


async def get_json(operation: Operation, subject: str, builder: Any, query_parameters: Any = None,
                   headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """GET through `builder` (same auth, retry and error translation) but parse the JSON ourselves.

    Every read goes this way: msgraph-sdk's model deserialisation costs ~20 ms of CPU for one User, and the first
    inbox-rule listing imported ~1200 model modules (2.5 s); the Tenant port speaks Graph's JSON anyway."""

    async def fetch(config: RequestConfiguration[Any]) -> dict[str, Any]:
        if query_parameters is not None:
            config.query_parameters = query_parameters
        for name, value in (headers or {}).items():
            config.headers.add(name, value)
        info = builder.to_get_request_information(config)
        raw = await builder.request_adapter.send_primitive_async(info, "bytes", {"XXX": ODataError})
        parsed: dict[str, Any] = json.loads(raw) if raw else {}
        parsed.pop("@odata.context", None)  # says which URL answered; nothing to keep with a case
        return parsed

    result, _ = await call_graph(operation, subject, fetch)
    return result


async def read_pages(operation: Operation, subject: str, builder: Any, query_parameters: Any = None,
                     headers: Mapping[str, str] | None = None, max_pages: int | None = None) -> Pages:
    """Every item of a collection as JSON, following @odata.nextLink (which carries the query on, but not the
    headers: those go with every page) until there is none, a link repeats, or `max_pages` were read."""
    items: list[dict[str, Any]] = []
    followed: set[str] = set()
    page = await get_json(operation, subject, builder, query_parameters, headers)
    read = 1
    while True:
        items.extend(page.get("value") or [])
        next_link = page.get("@odata.nextLink")
        if not next_link:
            return Pages(items)
        if next_link in followed:  # following it again would loop for ever
            log.warning("Graph sent the same next-page link twice while asked to %s for %s; stopped after %d "
                        "page(s)", operation.description, subject, read)
            return Pages(items, complete=False)
        if max_pages is not None and read >= max_pages:
            log.warning("stopped after %d pages while asked to %s for %s; the rest is read next time",
                        read, operation.description, subject)
            return Pages(items, complete=False)
        followed.add(next_link)
        page = await get_json(operation, subject, builder.with_url(next_link), headers=headers)
        read += 1


async def get_json_pages(operation: Operation, subject: str, builder: Any, query_parameters: Any = None,
                         headers: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every item of a collection; a part of it is never returned as the whole (a repeated link fails)."""
    pages = await read_pages(operation, subject, builder, query_parameters, headers)
    if not pages.complete:
        raise ServiceUnavailable(f"Graph could not {operation.description} for {subject}: it sent the same "
                                 "next-page link twice, so the list is incomplete. Try again later.")
    return pages.items
