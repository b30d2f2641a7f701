"""One TLS context for every HTTP client Riposte builds.

httpx builds a fresh context per client by default, reading the whole CA bundle each time (~18 ms of CPU); a
context is safe to share, so the bundle is read once per process.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's own default context (certificate checks on, its CA bundle), built once."""
    return httpx.create_ssl_context()
