"""How a Bot Connector call is retried: Teams' rules (bots/how-to/rate-limit), in one place.

Only 412, 429, 502 and 504 answers and connection failures are tried again, after an exponential backoff with
jitter, or after Retry-After when Teams sends one (it does not promise to). Any other answer (400, 403, 404...)
is final at once. botbuilder surfaces an HTTP answer as msrest's HttpOperationError (`.response` is the
requests.Response) and a connection failure as ClientRequestError wrapping the requests exception.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
from msrest.exceptions import ClientRequestError, HttpOperationError

from bot.clicks.answered import Turn
from bot.services import ChannelBlocked

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_STATUSES = frozenset({412, 429, 502, 503, 504})
# A 502/504 may come after Teams created the message: only a call that is safe to repeat (a PUT) retries them.
REFUSED_STATUSES = frozenset({412, 429})
ATTEMPTS = 5
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
# Past this, the caller hears the failure rather than wait (an alert source, a card left as it was).
TOTAL_SECONDS = 20.0
# Before a click's answer, a Bot Connector call may retry only briefly: the answer must reach Teams within ~5 s.
WHILE_ANSWERING_SECONDS = 1.5




def status_of(error: BaseException) -> int | None:
    if not isinstance(error, HttpOperationError):
        return None
    status = getattr(error.response, "status_code", None)
    return status if isinstance(status, int) else None


def _is_connection_failure(error: BaseException) -> bool:
    inner = getattr(error, "inner_exception", None) if isinstance(error, ClientRequestError) else None
    # A certificate problem is a connection error to requests, but it does not go away by itself.
    return isinstance(inner, requests.ConnectionError) and not isinstance(inner, requests.exceptions.SSLError)


# Teams' answers when the bot cannot post into a conversation at all (removed from the team, blocked, disabled by
# an admin, conversation gone): retrying cannot help. Some come outside the usual error envelope
# ({"errorCode": 209, "message": "{... \"subCode\": \"MessageWritesBlocked\" ...}"}), so the body is searched.
BLOCKED_CODES = {
    403: ("BotNotInConversationRoster", "ConversationBlockedByUser", "BotDisabledByAdmin", "MessageWritesBlocked"),
    404: ("ConversationNotFound",),
}


def blocked_code(error: BaseException) -> str | None:
    body = str(getattr(getattr(error, "response", None), "text", "") or "")
    return next((code for code in BLOCKED_CODES.get(status_of(error) or 0, ()) if code in body), None)


def retry_after(error: BaseException) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), if the answer carried one."""
    response: Any = getattr(error, "response", None)
    value = str((getattr(response, "headers", None) or {}).get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff(attempt: int) -> float:
    """Exponential, with half of it random so that replicas throttled together do not retry together."""
    ceiling = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2.0 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def send_budget(turn: Turn | None) -> float:
    """How long one Bot Connector call may keep trying: while a click waits for its answer (`turn`), what the
    answer can spare; otherwise TOTAL_SECONDS."""
    return turn.time_left(WHILE_ANSWERING_SECONDS) if turn and turn.waiting else TOTAL_SECONDS


async def call_connector(where: str, call: Callable[[], Awaitable[T]], *, repeatable: bool = True,
                         turn: Turn | None = None) -> T:
    """Run `call` (one Bot Connector request) until it succeeds, fails for good, or the attempts or time run
    out; then its error is raised. `where` names the conversation for the log and errors. `repeatable=False`
    for a POST that creates a message: it is retried only when Teams refused it (412, 429) or the connection
    failed, not after a 502/504 that may have come after the message was made. `turn`: the click waiting for
    this call before its answer, if any (a shorter budget)."""
    deadline = time.monotonic() + send_budget(turn)
    retried = RETRY_STATUSES if repeatable else REFUSED_STATUSES
    attempt = 1
    while True:
        try:
            return await call()
        except (HttpOperationError, ClientRequestError) as error:
            code = blocked_code(error)
            if code:
                message = (f"The bot cannot post to {where}: Teams answered {status_of(error)} {code} (the bot was "
                           "removed from the team, blocked or disabled there, or the conversation is gone). Add the "
                           "bot to the team again, or type 'use this channel for alerts' in a channel where it is.")
                log.error("%s", message)
                raise ChannelBlocked(message) from error
            status = status_of(error)
            if status not in retried and not _is_connection_failure(error):
                raise
            delay = retry_after(error)
            delay = backoff(attempt) if delay is None else delay
            if attempt == ATTEMPTS or time.monotonic() + delay > deadline:
                log.warning("Bot Connector call for %s failed (%s) after %d attempt(s); giving up",
                            where, status or "connection failure", attempt)
                raise
            log.warning("Bot Connector call for %s failed (%s); retrying in %.1f s", where,
                        status or "connection failure", delay)
            await asyncio.sleep(delay)
            attempt += 1
