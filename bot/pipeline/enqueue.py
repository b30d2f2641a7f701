"""Putting work on the queues: the posting of a case's card, and updates of it (bot/pipeline/jobs.py runs them)."""

from __future__ import annotations

import time

from bot.pipeline.limiter import Priority
from bot.services import Services

POST_CASE = "post_case"
REFRESH_CARD = "refresh_card"
RESOLVE_ACTION = "resolve_action"


def version_key(case_id: str) -> str:
    return f"riposte:case:{case_id}:card-version"


def shown_key(case_id: str) -> str:
    """The card version the card in Teams shows (bot/pipeline/jobs.py)."""
    return f"riposte:case:{case_id}:card-shown"


async def post_case(services: Services, case_id: str) -> None:
    """Queue the posting of the case's card (nothing happens if it is queued already or posted)."""
    await services.queues.enqueue(services.queues.alerts, POST_CASE, key=f"post:{case_id}", case_id=case_id)


async def refresh_card(services: Services, case_id: str, priority: Priority) -> None:
    """Queue an update of the case's card to its current state. Updates coalesce: while one is queued, another
    adds nothing, and a running one sends again if the case changed while it was drawing (the version moved)."""
    await services.redis.incr(version_key(case_id))
    queue = services.queues.alerts if priority is Priority.BULK else services.queues.interactive
    await services.queues.enqueue(queue, REFRESH_CARD, key=f"card:{priority.value}:{case_id}", case_id=case_id,
                                  lane=priority.value)  # not `priority`: saq's Job has a field of that name


async def resolve_action(services: Services, case_id: str, key: str, run_id: str, in_seconds: float,
                         check: int = 0) -> None:
    """Queue, due in `in_seconds`, the check of whether run `run_id` of the action `key` still has a live process;
    if not, the job settles it by reading the tenant (bot.run.execution.recover). Each check is a job of its own (a
    running job cannot queue its own key again)."""
    await services.queues.enqueue(
        services.queues.checks, RESOLVE_ACTION, key=f"resolve:{case_id}:{key}:{run_id}:{check}",
        scheduled=int(time.time() + in_seconds) + 1, case_id=case_id, action_key=key, run_id=run_id, check=check,
    )
