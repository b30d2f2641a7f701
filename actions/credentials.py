"""Credentials for Microsoft Graph: msal's client-credentials flow behind azure-core's async credential shape.

msal is synchronous (requests) and its constructor already does tenant discovery over HTTP, so every msal call
runs in a worker thread: on the event loop it would stall every other click, and against an authority served
from the same loop (tests) it would deadlock.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import msal
from azure.core.credentials import AccessToken


class CredentialError(RuntimeError):
    """Graph refused our own credentials: says why without echoing any secret."""


class MsalClientCredential:
    """An `AsyncTokenCredential` for the app's own identity (client secret or certificate)."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        authority_host: str,
        client_secret: str = "",
        certificate_path: str = "",
    ) -> None:
        self._tenant_id = tenant_id
        self._client_id = client_id
        self._authority = f"{authority_host.rstrip('/')}/{tenant_id}"
        self._client_secret = client_secret
        self._certificate_path = certificate_path
        # Non-Microsoft hosts (sandbox, private clouds) are not in msal's discovery list.
        self._instance_discovery = "login.microsoftonline" in authority_host
        self._app: Any = None  # msal.ConfidentialClientApplication, built on first use
        self._lock = asyncio.Lock()

    def _client_credential(self) -> Any:
        if self._certificate_path:
            pem = Path(self._certificate_path).read_text(encoding="utf-8")
            return {"private_key": pem, "public_certificate": pem}
        return self._client_secret

    def _build_app(self) -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            self._client_id,
            client_credential=self._client_credential(),
            authority=self._authority,
            instance_discovery=self._instance_discovery,
        )

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        async with self._lock:
            app = self._app or await asyncio.to_thread(self._build_app)
            self._app = app
        result: dict[str, Any] = await asyncio.to_thread(app.acquire_token_for_client, scopes=list(scopes))
        token = result.get("access_token")
        if not token:
            # error_description names the AADSTS code; it never contains the secret.
            raise CredentialError(
                f"Sign-in as app {self._client_id} failed: {result.get('error')}: "
                f"{result.get('error_description', 'no description')}"
            )
        expires_on = int(time.time()) + int(result.get("expires_in", 3599))
        return AccessToken(str(token), expires_on)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> MsalClientCredential:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        await self.close()


class StaticTokenCredential:
    """A fixed bearer token: for the local sandbox tenant, which has no real sign-in."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticTokenCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        return None
