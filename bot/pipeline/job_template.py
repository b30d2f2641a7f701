"""A saq job stored from inside another Redis script (the intake's, bot/intake/script.py), exactly as saq's own
enqueue stores it, so that the alert and the job that posts its card go to Redis in one round trip.

saq 0.26 (pinned) keeps a job as: its JSON at `saq:job:<queue>:<key>`, the id in the queue's `incomplete` sorted set
(score = when it is due, 0 = now) and, when due now, in the `queued` list workers take from; a job already
incomplete, or whose key has an abort marker, is not queued again. `ENQUEUE_LUA` is that step, written after saq's
own enqueue script; tests/bot/test_job_template.py checks that saq reads, de-duplicates and runs what it stores.
The case id is known only inside the script (a repeat or a grouped alert names an existing case), so the templates
carry `CASE_ID` where it goes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from saq.job import Job, Status
from saq.queue.redis import RedisQueue
from saq.utils import now

CASE_ID = "@CASE@"  # replaced by the case id inside the script (not a Lua pattern character, never in a case id)
_QUEUED_AT = 987_654_321_987_654  # stands for the time the job was queued, replaced per alert

# Lua: queue one job from a template. Arguments: case id, incomplete zset, queued list, job id, abort id, payload
# (each template but the case id). Returns 1 when queued, 0 when that job was queued already.
ENQUEUE_LUA = """
local function enqueue_job(case_id, incomplete, queued, job_id, abort_id, payload)
  local function fill(template) return (string.gsub(template, '@CASE@', case_id)) end
  job_id, abort_id = fill(job_id), fill(abort_id)
  if redis.call('ZSCORE', incomplete, job_id) or redis.call('EXISTS', abort_id) == 1 then return 0 end
  redis.call('SET', job_id, fill(payload))
  redis.call('ZADD', incomplete, 0, job_id)
  redis.call('RPUSH', queued, job_id)
  return 1
end
"""


@dataclass(frozen=True)
class JobTemplate:
    incomplete: str
    queued: str
    job_id: str
    abort_id: str
    payload: str

    def args(self) -> list[str]:
        """The script arguments for this job (after the case id), queued now."""
        return [self.incomplete, self.queued, self.job_id, self.abort_id,
                self.payload.replace(str(_QUEUED_AT), str(now()), 1)]


def job_template(queue: RedisQueue, function: str, key: str, options: dict[str, Any], **kwargs: str) -> JobTemplate:
    """The job `function(**kwargs)` under `key` as saq's enqueue would store it now (CASE_ID in key and kwargs)."""
    return _template(queue, function, key, tuple(sorted(options.items())), tuple(sorted(kwargs.items())))


@functools.lru_cache(maxsize=32)
def _template(queue: RedisQueue, function: str, key: str, options: tuple[tuple[str, Any], ...],
              kwargs: tuple[tuple[str, str], ...]) -> JobTemplate:
    # As saq's Queue.enqueue builds it (function, options, kwargs, queue, queued time, status); built once.
    job = Job(function=function, key=key, kwargs=dict(kwargs), queue=queue, **dict(options))
    job.queued = _QUEUED_AT
    job.status = Status.QUEUED
    payload = queue.serialize(job)
    return JobTemplate(queue.namespace("incomplete"), queue.namespace("queued"), job.id, job.abort_id,
                       payload.decode() if isinstance(payload, bytes) else payload)
