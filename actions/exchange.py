"""Exchange Online admin REST (`POST /adminapi/beta/{tenant}/InvokeCommand`): the Exchange port over httpx.

The same app identity as Graph, with a token for Exchange (`{endpoint}/.default`: a national cloud's endpoint,
e.g. https://outlook.office365.us, is its own token audience); the app needs the Exchange.ManageAsApp
application permission and the Exchange Administrator role. This endpoint is what the ExchangeOnlineManagement
module itself calls; it is not documented, so the request follows what open-source tools that call it app-only
send (CIPP's New-ExoRequest): an X-AnchorMailbox routing header, a page-size preference, and @odata.nextLink
paging by POSTing the same body again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from azure.core.credentials_async import AsyncTokenCredential

from actions.errors import BadRequest, NotFound, PermissionMissing, ServiceError, ServiceUnavailable, Throttled
from actions.spec import CmdletResult
from actions.tls import tls_context

log = logging.getLogger(__name__)
T = TypeVar("T", list[Any], dict[str, Any])

EXCHANGE_ENDPOINT = "https://outlook.office365.com"
EXCHANGE_PERMISSION = "Exchange.ManageAsApp"
MAX_RETRIES = 3  # after a 429
MAX_RETRY_AFTER = 30.0  # seconds; a longer Retry-After is capped rather than stalling a click
DEFAULT_RETRY_AFTER = 1.0
PAGE_SIZE = 1000
MAX_PAGES = 50  # a listing longer than 50,000 objects is not something a card can show anyway
# The well-known system mailbox Exchange routes app-only admin calls to (the anchor the EXO module uses).
ANCHOR_MAILBOX = "APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{tenant}"
# Cmdlets that act inside one mailbox are routed to it: the EXO module anchors them on the mailbox's UPN.
MAILBOX_ANCHORED = frozenset({"get-mailboxpermission", "add-mailboxpermission", "remove-mailboxpermission"})


def _retry_after(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait: Retry-After as Exchange sends it (seconds, fractional too), else exponential backoff."""
    value = response.headers.get("Retry-After", "")
    if re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return min(MAX_RETRY_AFTER, float(value))
    backoff: float = DEFAULT_RETRY_AFTER * 2.0**attempt
    return min(MAX_RETRY_AFTER, backoff)


def _of_type(value: Any, kind: type[T]) -> T:
    """`value` when it is a `kind`, else an empty one (error bodies are not guaranteed to have any shape)."""
    return value if isinstance(value, kind) else kind()


def _error_detail(response: httpx.Response) -> tuple[str, str]:
    """The error code and the most specific message: the cmdlet's own words sit in `details` or in
    `innererror.internalException`, with a generic `message` around them."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", str(body)[:300]
    details = _of_type(error.get("details"), list)
    inner_exception = _of_type(_of_type(error.get("innererror"), dict).get("internalException"), dict)
    messages = [
        *(d.get("message") for d in details if isinstance(d, dict)),
        inner_exception.get("message"),
        error.get("message"),
    ]
    return str(error.get("code") or ""), next((str(m) for m in messages if m), "")


def translate(response: httpx.Response, cmdlet: str, subject: str) -> ServiceError:
    """An Exchange error as our error vocabulary, said the way Graph's are."""
    status = response.status_code
    request_id = response.headers.get("request-id")
    code, detail = _error_detail(response)
    what = f"Exchange refused to run {cmdlet} for {subject}"
    if status == 403:
        return PermissionMissing(
            f"{what}: the app needs the {EXCHANGE_PERMISSION} permission and the Exchange Administrator role. "
            f"Exchange said: {detail}",
            request_id=request_id, code=code,
        )
    if status == 401:
        return PermissionMissing(
            f"{what}: Exchange rejected the app's token (401); check that the app registration has the "
            f"{EXCHANGE_PERMISSION} permission admin-consented. Exchange said: {detail}",
            request_id=request_id, code=code,
        )
    if status == 404:
        return NotFound(f"{what}: no such object in this tenant ({detail})", request_id=request_id, code=code)
    if status == 429:
        return Throttled(
            f"{what}: Exchange kept throttling (429) after the retries; try again in a minute.",
            request_id=request_id, code=code,
        )
    if status == 400:
        return BadRequest(f"{what}: the request was rejected ({code}: {detail})", request_id=request_id, code=code)
    if status >= 500:
        return ServiceUnavailable(
            f"{what}: Exchange is unavailable ({status}: {detail})", request_id=request_id, code=code
        )
    return ServiceError(f"{what}: {status} {code}: {detail}", request_id=request_id, code=code)


class ExchangeAdmin:
    """Runs Exchange Online cmdlets as the app; one `invoke` is one cmdlet (retried only when throttled)."""

    def __init__(
        self,
        credential: AsyncTokenCredential,
        tenant_id: str,
        *,
        endpoint: str = EXCHANGE_ENDPOINT,
        http: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._credential = credential
        root = endpoint.rstrip("/")
        self._url = f"{root}/adminapi/beta/{tenant_id}/InvokeCommand"
        self._anchor = ANCHOR_MAILBOX.format(tenant=tenant_id)
        self._scope = f"{root}/.default"
        self._http = http or httpx.AsyncClient(timeout=timeout, verify=tls_context())
        self._owns_http = http is None

    async def invoke(self, cmdlet: str, parameters: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """Run one cmdlet; its output objects (every page) and the request id of the last call."""
        result = await self.run(cmdlet, parameters)
        return result.output, result.request_id

    async def run(self, cmdlet: str, parameters: Mapping[str, Any]) -> CmdletResult:
        """Run one cmdlet: its output objects (every page), the last call's request id, and Exchange's warnings."""
        subject = str(parameters.get("Identity", "the organization"))
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(parameters)}}
        anchor = self._anchor
        if cmdlet.lower() in MAILBOX_ANCHORED and "@" in subject:
            anchor = f"UPN:{subject}"
        values: list[dict[str, Any]] = []
        warnings: list[str] = []
        url: str | None = self._url
        request_id: str | None = None
        pages = 0
        while url and pages < MAX_PAGES:
            page, url, request_id, page_warnings = await self._post(url, body, cmdlet, subject, anchor)
            values.extend(page)
            warnings.extend(w for w in page_warnings if w not in warnings)
            pages += 1
        if warnings:
            log.info("Exchange warned while running %s for %s: %s", cmdlet, subject, warnings)
        return CmdletResult(values, request_id, tuple(warnings))

    async def _post(self, url: str, body: Mapping[str, Any], cmdlet: str, subject: str,
                    anchor: str) -> tuple[list[dict[str, Any]], str | None, str | None, list[str]]:
        """One page: its objects, the next page's URL, the request id and the warnings (retrying only when
        throttled)."""
        attempt = 0
        while True:
            token = await self._credential.get_token(self._scope)
            headers = {"Authorization": f"Bearer {token.token}", "Content-Type": "application/json",
                       "X-AnchorMailbox": anchor, "Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
            try:
                response = await self._http.post(url, json=body, headers=headers)
            except httpx.HTTPError as error:
                raise ServiceUnavailable(
                    f"Exchange could not be reached to run {cmdlet} for {subject}: {type(error).__name__}"
                ) from None
            if response.status_code == 429 and attempt < MAX_RETRIES:
                delay = _retry_after(response, attempt)
                attempt += 1
                log.info("Exchange throttled %s; retry %d in %.2fs", cmdlet, attempt, delay)
                await asyncio.sleep(delay)
                continue
            if response.status_code >= 400:
                raise translate(response, cmdlet, subject)
            page, next_link, warnings = _page(response)
            return page, next_link, response.headers.get("request-id"), warnings

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()


def _page(response: httpx.Response) -> tuple[list[dict[str, Any]], str | None, list[str]]:
    """A response's output objects, its @odata.nextLink (if any) and its @adminapi.warnings."""
    if response.status_code == 204 or not response.content:
        return [], None, []
    try:
        body = response.json()
    except ValueError:
        return [], None, []
    if not isinstance(body, dict):
        return [], None, []
    values = body.get("value")
    next_link = body.get("@odata.nextLink")
    page = [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
    raw_warnings = body.get("@adminapi.warnings")
    warnings = [str(w) for w in raw_warnings if w] if isinstance(raw_warnings, list) else []
    return page, str(next_link) if next_link else None, warnings
