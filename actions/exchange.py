"""Exchange Online admin REST (`POST /adminapi/beta/{tenant}/InvokeCommand`): the Exchange port over httpx.

The same app identity as Graph, with a token for Exchange (`https://outlook.office365.com/.default`); the app
needs the Exchange.ManageAsApp application permission and the Exchange Administrator role.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

import httpx
from azure.core.credentials_async import AsyncTokenCredential

from actions.errors import BadRequest, NotFound, PermissionMissing, ServiceError, ServiceUnavailable, Throttled

log = logging.getLogger(__name__)

EXCHANGE_ENDPOINT = "https://outlook.office365.com"
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"
EXCHANGE_PERMISSION = "Exchange.ManageAsApp"
MAX_RETRIES = 3  # after a 429
MAX_RETRY_AFTER = 30.0  # seconds; a longer Retry-After is capped rather than stalling a click
DEFAULT_RETRY_AFTER = 1.0


def _retry_after(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait: Retry-After as Exchange sends it (seconds, fractional too), else exponential backoff."""
    value = response.headers.get("Retry-After", "")
    if re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        return min(MAX_RETRY_AFTER, float(value))
    backoff: float = DEFAULT_RETRY_AFTER * 2.0**attempt
    return min(MAX_RETRY_AFTER, backoff)


def _error_detail(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", str(body)[:300]
    return str(error.get("code") or ""), str(error.get("message") or "")


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
        scope: str = EXCHANGE_SCOPE,
        http: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._credential = credential
        self._url = f"{endpoint.rstrip('/')}/adminapi/beta/{tenant_id}/InvokeCommand"
        self._scope = scope
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._owns_http = http is None

    async def invoke(self, cmdlet: str, parameters: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        subject = str(parameters.get("Identity", "the organization"))
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(parameters)}}
        attempt = 0
        while True:
            token = await self._credential.get_token(self._scope)
            headers = {"Authorization": f"Bearer {token.token}", "Content-Type": "application/json"}
            try:
                response = await self._http.post(self._url, json=body, headers=headers)
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
            return _values(response), response.headers.get("request-id")

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()


def _values(response: httpx.Response) -> list[dict[str, Any]]:
    if response.status_code == 204 or not response.content:
        return []
    try:
        body = response.json()
    except ValueError:
        return []
    values = body.get("value") if isinstance(body, dict) else None
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
