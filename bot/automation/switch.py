"""Automation's switch, cap and counts, in Redis: every web replica and worker reads the same switch for every
case, so `automation off` typed to one replica holds on all of them before their next case.

The switch is one of three modes: `off`; `on` (rules act); `dry-run` (rules say on the card what they would have
done and change nothing). Until someone switches it in chat, or the cap pauses it, the start-up default holds:
dry-run when RIPOSTE_AUTOMATION_DRY_RUN=true, else on when RIPOSTE_AUTOMATION=true, else off. With
RIPOSTE_AUTOMATION_DRY_RUN=true nothing is ever acted on: `on` is refused in chat and treated as a dry run.

The cap counts automated actions in a rolling hour (a sorted set of start times, trimmed and checked in one Lua
script, so replicas racing for the last slot cannot both take it)."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.cards.alert_card import message_card
from bot.intake import alert_channel
from bot.pipeline import sends
from bot.services import Services

log = logging.getLogger(__name__)
SWITCH_KEY = "riposte:automation:switch"
CAP_KEY = "riposte:automation:hour"
DAY_KEY = "riposte:automation:day:"  # + YYYY-MM-DD (UTC): counts for `automation status`
DAY_TTL_SECONDS = 3 * 24 * 3600
HOUR_SECONDS = 3600
CAP_REACHED_BY = "Riposte (cap reached)"


class Mode(StrEnum):
    OFF = "off"
    ON = "on"
    DRY_RUN = "dry-run"


MODE_WORDS = {Mode.OFF: "off", Mode.ON: "on",
              Mode.DRY_RUN: "in dry run (it says what it would do, and acts on nothing)"}

# KEYS[1] the switch. ARGV: the start-up default mode, the new mode, since, by, by_id, and the mode the switch
# must be in for the change to happen ("" = any). Returns the mode before: changed only if it differs from new.
_SWITCH_SCRIPT = """
local before = redis.call('HGET', KEYS[1], 'mode') or ARGV[1]
if ARGV[6] ~= '' and before ~= ARGV[6] then return before end
if before ~= ARGV[2] then
  redis.call('HSET', KEYS[1], 'mode', ARGV[2], 'since', ARGV[3], 'by', ARGV[4], 'by_id', ARGV[5])
end
return before
"""

# KEYS[1] the cap's sorted set. ARGV: now (ms), window (ms), cap, a unique member. 1 = counted, 0 = cap reached.
_CAP_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


@dataclass(frozen=True)
class SwitchState:
    mode: Mode
    since: str = ""  # empty: the start-up default, nobody switched it
    by: str = ""
    by_id: str = ""

    @property
    def default(self) -> bool:
        return not self.since


def default_mode(services: Services) -> Mode:
    settings = services.settings
    if settings.automation_dry_run:
        return Mode.DRY_RUN
    return Mode.ON if settings.automation_enabled else Mode.OFF


async def current(services: Services) -> SwitchState:
    raw = await services.redis.hgetall(SWITCH_KEY)  # type: ignore[misc]
    fields = {str(key): str(value) for key, value in (raw or {}).items()}
    if not fields.get("mode"):
        return SwitchState(default_mode(services))
    return SwitchState(Mode(fields["mode"]), fields.get("since", ""), fields.get("by", ""), fields.get("by_id", ""))


def effective(services: Services, state: SwitchState) -> Mode:
    """What automation does now: never act under RIPOSTE_AUTOMATION_DRY_RUN=true, nor without the alert token
    outside local mode (a forged alert could trigger actions; `automation on` is refused then, but the token may
    have been removed after it was switched on)."""
    if state.mode is Mode.ON and services.settings.automation_dry_run:
        return Mode.DRY_RUN
    if state.mode is Mode.ON and services.settings.automation_token_problem():
        return Mode.OFF
    return state.mode


async def switch(services: Services, mode: Mode, by: str, by_id: str, *, only_from: Mode | None = None) -> Mode:
    """Set the switch (for every replica at once); return the mode it was in. Nothing changes when it already was
    `mode`, or (with `only_from`) when it was not in that mode."""
    script = services.redis.register_script(_SWITCH_SCRIPT)
    since = datetime.now(UTC).isoformat(timespec="seconds")
    before = await script(keys=[SWITCH_KEY], args=[default_mode(services).value, mode.value, since, by, by_id,
                                                   only_from.value if only_from else ""])
    return Mode(str(before))


async def take_slot(services: Services) -> bool:
    """Count one automated action against the hourly cap; False (nothing counted) when the cap is reached."""
    script = services.redis.register_script(_CAP_SCRIPT)
    now_ms = int(time.time() * 1000)
    taken = await script(keys=[CAP_KEY], args=[now_ms, HOUR_SECONDS * 1000,
                                               services.settings.automation_max_per_hour,
                                               f"{now_ms}-{secrets.token_hex(4)}"])
    return int(taken) == 1


async def used_this_hour(services: Services) -> int:
    now_ms = int(time.time() * 1000)
    return int(await services.redis.zcount(CAP_KEY, now_ms - HOUR_SECONDS * 1000, "+inf"))


async def slot_frees_at(services: Services) -> datetime | None:
    """When the oldest automated action of the last hour leaves the window, if the cap is full now."""
    now_ms = int(time.time() * 1000)
    if await used_this_hour(services) < services.settings.automation_max_per_hour:
        return None
    oldest = await services.redis.zrangebyscore(CAP_KEY, now_ms - HOUR_SECONDS * 1000, "+inf", start=0, num=1,
                                                withscores=True)
    if not oldest:
        return None
    return datetime.fromtimestamp(float(oldest[0][1]) / 1000 + HOUR_SECONDS, UTC)


def _day_key() -> str:
    return DAY_KEY + datetime.now(UTC).date().isoformat()


async def count(services: Services, what: str, by: int = 1) -> None:
    """Today's counts (UTC): acted (actions started), dry_run (cases), held (cases that waited: cap reached)."""
    key = _day_key()
    await services.redis.hincrby(key, what, by)  # type: ignore[misc]
    await services.redis.expire(key, DAY_TTL_SECONDS)


async def counts_today(services: Services) -> dict[str, int]:
    raw = await services.redis.hgetall(_day_key())  # type: ignore[misc]
    return {str(key): int(value) for key, value in (raw or {}).items()}


async def announce(services: Services, text: str, style: str = "attention") -> None:
    """Say it once in the alert channel (a new thread), through the outbox: queued until Teams takes it. A failure
    to queue it is logged, never raised: the switch has already changed and the audit has it."""
    try:
        channel_id, _ = await alert_channel.current(services)
        if not channel_id:
            log.warning("no alert channel to announce in: %s", text)
            return
        await sends.announce(services, f"announce:{secrets.token_hex(8)}", message_card(text, style))
    except Exception:
        log.exception("could not announce in the alert channel: %s", text)
