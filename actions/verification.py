"""Reading back what an action changed: the runner's `verify`, and helpers the actions' own read-backs share.

Each action declares its read-back in its own file (ActionSpec.read_back). A read-back takes only the context
(target, item, options, saved copy), never a run's outcome, so crash recovery can use it to ask whether an
interrupted action happened.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from actions.errors import RiposteError
from actions.spec import ActionContext, ActionSpec, Outcome, ReadBack, Verification

log = logging.getLogger(__name__)

# Graph and Exchange are eventually consistent: a read right after a write can show the old state. Read again
# after these pauses before warning (not for inline actions, whose answer Teams waits ~5 s for). The default of
# RIPOSTE_READ_BACK_RETRY_SECONDS (bot/config.py), which tests shorten.
RETRY_DELAYS: tuple[float, ...] = (0.5, 1.5)
# Timestamps written by Graph (sessions revoked, password changed) against our clock: allow this much skew.
CLOCK_SKEW = timedelta(seconds=60)


def _parse(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def stamped_since(value: Any, started_at: str) -> bool:
    """Whether Graph's timestamp `value` is from this run (not before `started_at`, give or take clock skew);
    with no start time known (recovery without one), any timestamp counts."""
    moment = _parse(str(value)) if value else None
    if moment is None:
        return False
    start = _parse(started_at) if started_at else None
    return start is None or moment >= start - CLOCK_SKEW


async def _read(spec: ActionSpec, ctx: ActionContext, outcome: Outcome) -> Verification:
    if spec.verify is not None:
        return await spec.verify(ctx, outcome)
    assert spec.read_back is not None
    found: ReadBack = await spec.read_back(ctx)
    return Verification(ok=found.done, observed=found.observed, state=found.facts)


async def state_before(spec: ActionSpec, ctx: ActionContext) -> str:
    """The state the action is about to change, read with its own read-back, for the audit's before → after;
    empty for an action that changes nothing. Never raises: it must not stop the action."""
    if spec.read_back is None:
        return ""
    try:
        return (await spec.read_back(ctx)).facts
    except RiposteError as error:
        return f"unknown (the read failed: {error})"
    except Exception:
        log.exception("reading the state before %s on case %s failed unexpectedly", spec.name, ctx.case_id)
        return "unknown (the read failed unexpectedly)"


async def verify(spec: ActionSpec, ctx: ActionContext, outcome: Outcome,
                 retry_delays: Sequence[float] = RETRY_DELAYS) -> Verification | None:
    """Read back what `spec` just changed, again after each of `retry_delays` while it does not show; None for an
    action that changes nothing. Never raises: a failed read-back is a Verification that says so."""
    if spec.verify is None and spec.read_back is None:
        return None
    delays = () if spec.inline else retry_delays
    try:
        verification = await _read(spec, ctx, outcome)
        for delay in delays:
            if verification.ok:
                break
            await asyncio.sleep(delay)
            verification = await _read(spec, ctx, outcome)
    except RiposteError as error:
        return Verification(ok=False, observed=str(error), checked=False)
    except Exception:
        error_id = secrets.token_hex(4)
        log.exception("read-back of %s on case %s failed unexpectedly (error id %s)", spec.name, ctx.case_id,
                      error_id)
        return Verification(ok=False, observed=f"unexpected error, id {error_id} in the bot's log", checked=False)
    return verification
