"""Tamper-proof button data: an HMAC over case, verb, nonce and item, with a key every replica shares.

A click is trusted only if the signature matches what this deployment would have put on that button; the
target, evidence and allowed actions are then read from Redis, never from the request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from redis.asyncio import Redis

KEY_NAME = "riposte:signing-key"


async def load_signing_key(redis: Redis, configured: str) -> bytes:
    """The configured key, or one generated once and shared through Redis by every replica."""
    if configured:
        return configured.encode()
    await redis.set(KEY_NAME, secrets.token_hex(32), nx=True)
    stored = await redis.get(KEY_NAME)
    return str(stored).encode()


class ButtonSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _signature(self, case_id: str, verb: str, nonce: str, item: str) -> str:
        message = "\x1f".join((case_id, verb, nonce, item)).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def data(self, case_id: str, verb: str, nonce: str, item: str = "") -> dict[str, str]:
        """What a button carries: an opaque reference, never the target or anyone's identity."""
        data = {"case": case_id, "nonce": nonce, "sig": self._signature(case_id, verb, nonce, item)}
        if item:
            data["item"] = item
        return data

    def verify(self, verb: str, data: dict[str, Any]) -> bool:
        expected = self._signature(
            str(data.get("case", "")), verb, str(data.get("nonce", "")), str(data.get("item", ""))
        )
        return hmac.compare_digest(expected, str(data.get("sig", "")))
