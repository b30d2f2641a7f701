"""What Redis persistence the audit trail has, from INFO persistence, for /healthz.

The trail is only as durable as Redis: without AOF, everything since the last RDB snapshot is lost in a crash."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.state.store import is_stand_in


async def persistence(redis: Redis) -> dict[str, Any]:
    """aof_enabled, the last RDB save and its status; {"error": …} when Redis will not say (never raises)."""
    if is_stand_in(redis):
        return {"warning": "the in-process stand-in keeps nothing: everything is lost when this process exits"}
    try:
        info = await redis.info("persistence")
    except (RedisError, OSError) as error:
        return {"error": f"INFO persistence failed: {type(error).__name__}"}
    except Exception as error:  # e.g. the in-process stand-in, which may not implement it
        return {"error": f"INFO persistence not available: {type(error).__name__}"}
    last_save = info.get("rdb_last_save_time")
    report: dict[str, Any] = {
        "aof_enabled": bool(int(info.get("aof_enabled", 0) or 0)),
        "aof_last_write_status": info.get("aof_last_write_status"),
        "rdb_last_save": (datetime.fromtimestamp(int(last_save), UTC).isoformat(timespec="seconds")
                          if last_save else None),
        "rdb_changes_since_last_save": info.get("rdb_changes_since_last_save"),
        "rdb_last_bgsave_status": info.get("rdb_last_bgsave_status"),
    }
    if not report["aof_enabled"]:
        report["warning"] = "AOF is off: audit entries since the last RDB save are lost if Redis crashes"
    return report
