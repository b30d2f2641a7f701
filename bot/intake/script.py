"""Keeping an alert in one Redis round trip: one atomic script checks that alerts have a channel, decides whether
the alert is new, joins a recent case about the same user (grouping) or repeats one already kept, and queues the
job that follows (post the new case's card, or update the grouped card), the way saq's own enqueue would.

Atomic, so that replicas racing on the same alert (a sender's retry) or on the same user (a storm) agree: a source
id already seen names its case; otherwise an alert about a user whose case opened within the grouping window joins
that case; otherwise the new case is stored and becomes the user's open case. The alert and its job go in together:
no crash can keep one without the other (a repeat still queues its case's job again, as before)."""

from __future__ import annotations

import weakref

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from bot.intake.alert_channel import ALERT_CHANNEL_KEY
from bot.pipeline.enqueue import POST_CASE, REFRESH_CARD, version_key
from bot.pipeline.job_template import CASE_ID, ENQUEUE_LUA, job_template
from bot.pipeline.limiter import Priority
from bot.pipeline.queues import Queues
from bot.state.cases import CASE_TTL_SECONDS, GROUPED_SUFFIX, Case, case_key

NO_CHANNEL = "no_channel"

# KEYS: the alert's claim, the user's open-case pointer, the new case, the alert channel chosen in chat.
# ARGV: 1 new case id, 2 its JSON, 3 case TTL, 4 grouping window in seconds (0 = off), 5 the alert's JSON, 6 the case
# key prefix, 7 the grouped-alerts list suffix, 8 '1' when RIPOSTE_ALERT_CHANNEL is set, 9 the card-version key,
# 10-14 the post_case job, 15-19 the refresh_card job (bot/pipeline/job_template.py).
_SCRIPT = ENQUEUE_LUA + """
if ARGV[8] ~= '1' and redis.call('EXISTS', KEYS[4]) == 0 then return {'', 'no_channel'} end
local case_id, status = redis.call('GET', KEYS[1]), 'duplicate'
if not case_id and tonumber(ARGV[4]) > 0 then
  local open = redis.call('GET', KEYS[2])
  if open and redis.call('EXISTS', ARGV[6] .. open) == 1 then
    redis.call('SET', KEYS[1], open, 'EX', ARGV[3])
    local grouped = ARGV[6] .. open .. ARGV[7]
    redis.call('RPUSH', grouped, ARGV[5])
    redis.call('EXPIRE', grouped, ARGV[3])
    case_id, status = open, 'grouped'
  end
end
if not case_id then
  redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
  if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[4]) end
  case_id, status = ARGV[1], 'accepted'
end
if status == 'grouped' then
  redis.call('INCR', (string.gsub(ARGV[9], '@CASE@', case_id)))
  enqueue_job(case_id, ARGV[15], ARGV[16], ARGV[17], ARGV[18], ARGV[19])
else  -- a repeat queues its case's posting again: its first attempt may have died (nothing if queued or posted)
  enqueue_job(case_id, ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14])
end
return {case_id, status}
"""
_scripts: weakref.WeakKeyDictionary[Redis, AsyncScript] = weakref.WeakKeyDictionary()

# KEYS: the open-case pointer the alert set (its user as the sender wrote it), then the user's other names.
# ARGV: 1 the case id. Each other name points at the case for what is left of the window, unless it already points
# somewhere (a case opened under that name meanwhile is left as it is).
_ALIAS_SCRIPT = """
local ttl = redis.call('TTL', KEYS[1])
if ttl <= 0 or redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'EX', ttl, 'NX') end
return 1
"""
_alias_scripts: weakref.WeakKeyDictionary[Redis, AsyncScript] = weakref.WeakKeyDictionary()


def open_case_key(user: str) -> str:
    return f"riposte:open-case:{user.lower()}"


async def group_under_every_name(redis: Redis, case_id: str, alert_user: str, names: list[str]) -> None:
    """Once the case's user is resolved: alerts naming them another way (the object id where this alert gave the
    UPN, the mail address) join the case too within the grouping window, instead of opening a second thread."""
    others = list(dict.fromkeys(open_case_key(name) for name in names if name and name.lower() != alert_user.lower()))
    if not others:
        return
    script = _alias_scripts.get(redis)
    if script is None:
        script = _alias_scripts[redis] = redis.register_script(_ALIAS_SCRIPT)
    await script(keys=[open_case_key(alert_user), *others], args=[case_id])


async def keep_alert(redis: Redis, queues: Queues, case: Case, group_seconds: int, channel_configured: bool
                     ) -> tuple[str, str]:
    """Keep the alert of the new `case` durably and queue what follows: (case id, "accepted" | "grouped" |
    "duplicate"), or ("", NO_CHANNEL) when no alert channel is set or chosen (then nothing is kept)."""
    script = _scripts.get(redis)
    if script is None:
        script = _scripts[redis] = redis.register_script(_SCRIPT)
    alert = case.alert
    options = queues.job_options()
    post = job_template(queues.alerts, POST_CASE, f"post:{CASE_ID}", options, case_id=CASE_ID)
    refresh = job_template(queues.alerts, REFRESH_CARD, f"card:{Priority.BULK.value}:{CASE_ID}", options,
                           case_id=CASE_ID, lane=Priority.BULK.value)
    keys = [f"riposte:alert:{alert.source}:{alert.id}", open_case_key(alert.user), case_key(case.id),
            ALERT_CHANNEL_KEY]
    args: list[str | int] = [case.id, case.model_dump_json(), CASE_TTL_SECONDS, group_seconds,
                             alert.model_dump_json(), case_key(""), GROUPED_SUFFIX, "1" if channel_configured else "0",
                             version_key(CASE_ID), *post.args(), *refresh.args()]
    case_id, status = await script(keys=keys, args=args)
    return str(case_id), str(status)
