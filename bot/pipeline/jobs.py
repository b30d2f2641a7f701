"""The jobs workers run, and the functions that queue them. Each job is idempotent: run twice, it has the effect
of running once (a posted case records its card's activity id; a card update draws the case as it stands)."""

from __future__ import annotations

import logging
from typing import Any

from actions.errors import NotFound, RiposteError
from bot.approvals import cards as approval_cards
from bot.audit.case_notes import job_functions as notes_jobs
from bot.automation.run import maybe_automate
from bot.intake import alert_channel
from bot.intake.script import group_under_every_name
from bot.pipeline import sends
from bot.pipeline.enqueue import (
    POST_CASE,
    REFRESH_CARD,
    RESOLVE_ACTION,
    refresh_card,
    resolve_action,
    shown_key,
    version_key,
)
from bot.pipeline.limiter import Priority
from bot.run.execution import RECOVERY_MARGIN_SECONDS, card_for, recover
from bot.services import Card, ChannelBlocked, Services
from bot.state.cases import CASE_TTL_SECONDS, Case
from bot.watch.schedule import job_functions as watch_jobs

log = logging.getLogger(__name__)
CHANNEL_PROBLEM_KEY = "riposte:alert-channel-problem"  # why alerts cannot be posted now, for /healthz
MAX_REDRAWS = 5  # a card changing faster than it can be sent is sent again, at most this often per job


class NoAlertChannel(RiposteError):
    """The alert channel was unset after the alert was accepted: the job waits (retried) until one is set."""


async def _card_version(services: Services, case_id: str) -> str:
    return str(await services.redis.get(version_key(case_id)) or "0")


async def _shown(services: Services, case_id: str, version: str) -> None:
    """The card in Teams now shows `version` of the case (drawn by a post or an update job)."""
    await services.redis.set(shown_key(case_id), version, ex=CASE_TTL_SECONDS)


async def _already_shown(services: Services, case_id: str) -> bool:
    """Whether the card shows the case's current version: an update queued before the card was posted, or while
    another job was sending, then has nothing to send (in a storm, each such send would be a wasted Teams slot)."""
    current, shown = await services.redis.mget(version_key(case_id), shown_key(case_id))
    return shown is not None and str(current or "0") == str(shown)


async def _resolve_target(services: Services, case: Case) -> None:
    """Who the alert is about, read from Graph once (kept with the case, so a second run does not read again)."""
    if case.target is not None or case.target_problem:
        return
    try:
        case.target = await services.tenant.get_user(case.alert.user)
    except NotFound:
        case.target_problem = "no such user in this tenant"
    await services.cases.save(case)  # other RiposteErrors propagate: the job is retried with backoff


async def run_post_case(services: Services, case_id: str) -> None:
    case = await services.cases.get(case_id)
    if case is None:
        log.error("case %s to post is not in Redis (expired?): nothing to post", case_id)
        return
    if not case.activity_id:
        await _resolve_target(services, case)
        if case.target is not None:  # idempotent: a retried job names them again
            target = case.target
            await group_under_every_name(services.redis, case.id, case.alert.user,
                                         [target.id, target.upn, target.mail or ""])
        channel_id, service_url = await alert_channel.current(services)
        if not channel_id:
            raise NoAlertChannel(f"case {case_id} waits for an alert channel")
        drawn: list[str] = []

        async def draw() -> Card:
            # Drawn once the send slot is taken, not before: in a storm the post waits seconds for its slot while
            # alerts keep joining the case, and a card drawn before would need an update (a send) straight away.
            drawn.append(await _card_version(services, case_id))
            current = await services.cases.get(case_id) or case
            current.target, current.target_problem = case.target, case.target_problem
            return await card_for(services, current)

        try:
            reference, activity_id = await services.channel.post_thread(channel_id, draw, service_url,
                                                                        Priority.BULK)
        except ChannelBlocked as blocked:  # stays queued (retried with backoff) until the channel works again
            services.metrics.count("riposte_alert_channel_blocked_total")
            await services.redis.set(CHANNEL_PROBLEM_KEY, str(blocked))
            raise
        await services.redis.delete(CHANNEL_PROBLEM_KEY)
        # A crash here (posted, not recorded) makes the retry post a second card: both live, the newer is kept.
        fresh = await services.cases.get(case_id) or case
        fresh.target, fresh.target_problem = case.target, case.target_problem
        fresh.conversation, fresh.activity_id = reference, activity_id
        await services.cases.save(fresh)
        await _shown(services, case_id, drawn[-1])
        services.metrics.count("riposte_cases_posted_total")
        await services.audit.record_event("card_posted", case_id=case_id, activity_id=activity_id,
                                          channel_id=channel_id, result="posted",
                                          target_id=case.target.id if case.target else "",
                                          target_upn=case.target.upn if case.target else case.alert.user)
        log.info("case %s posted", case_id)
        if await _card_version(services, case_id) != drawn[-1]:  # an alert joined after this card was drawn
            await refresh_card(services, case_id, Priority.BULK)
    await maybe_automate(services, case_id)  # once per action: automation claims each action on the case


async def _send_current(services: Services, case: Case, priority: Priority) -> str:
    """Update the case's card to the case as it stands once the send slot is taken; the card version drawn.

    Drawn then, not before: a bulk update waits seconds for a slot while interactive updates go first, and a card
    drawn before that wait would put the case back as it was (older statuses, stale buttons) over the newer cards
    sent meanwhile."""
    assert case.conversation and case.activity_id
    drawn: list[str] = []

    async def draw() -> Card:
        drawn.append(await _card_version(services, case.id))
        return await card_for(services, await services.cases.get(case.id) or case)

    await services.channel.update_card(case.conversation, case.activity_id, draw, priority)
    return drawn[-1] if drawn else ""


async def run_refresh_card(services: Services, case_id: str, priority: str) -> None:
    for _ in range(MAX_REDRAWS):
        case = await services.cases.get(case_id)
        if case is None or not case.conversation or not case.activity_id:
            return  # not posted yet: the posting draws the case as it stands then
        if await _already_shown(services, case_id):
            return
        version = await _send_current(services, case, Priority(priority))
        await _shown(services, case_id, version)
        if await _card_version(services, case_id) == version:
            return
    await refresh_card(services, case_id, Priority(priority))


async def run_resolve_action(services: Services, case_id: str, key: str, run_id: str, check: int) -> None:
    """Settle a run whose process stopped renewing its lease (bot.run.execution.recover); while it still renews,
    look again once the lease could have lapsed."""
    left = await recover(services, case_id, key, run_id)
    if left:
        await resolve_action(services, case_id, key, run_id, left + RECOVERY_MARGIN_SECONDS, check + 1)


def job_functions(services: Services) -> dict[str, Any]:
    """Job name → the coroutine a worker runs for it (saq passes its context first)."""

    async def post(ctx: dict[str, Any], *, case_id: str) -> None:
        await run_post_case(services, case_id)

    async def refresh(ctx: dict[str, Any], *, case_id: str, lane: str) -> None:
        await run_refresh_card(services, case_id, lane)

    async def resolve(ctx: dict[str, Any], *, case_id: str, action_key: str, run_id: str, check: int) -> None:
        await run_resolve_action(services, case_id, action_key, run_id, check)

    return {POST_CASE: post, REFRESH_CARD: refresh, RESOLVE_ACTION: resolve, **watch_jobs(services),
            **notes_jobs(services), **sends.job_functions(services), **approval_cards.job_functions(services)}
