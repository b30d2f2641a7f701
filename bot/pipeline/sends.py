"""Replies and announcements as durable jobs on the interactive queue: a message that cannot be sent now (Teams
throttling, answering 5xx, refusing the channel, the process dying) stays queued and is retried until it goes.

Each message has a dedupe key; the job records the message's activity id under it once Teams answered, and a run
that finds it recorded sends nothing. So saq's at-least-once delivery gives one visible message, except when a
process dies after Teams accepted the message and before the id was recorded: the retry then sends it a second
time (the same window as a case's card, README "What a crash can and cannot do").
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from actions.errors import RiposteError
from bot.intake import alert_channel
from bot.pipeline.limiter import Priority
from bot.services import Card, Services
from bot.state.cases import CASE_TTL_SECONDS

log = logging.getLogger(__name__)
REPLY = "reply"
ANSWER = "answer_message"


class NotSendableYet(RiposteError):
    """The case's card is not in a thread yet, or no alert channel is set: the job is retried until it is."""


def sent_key(dedupe: str) -> str:
    return f"riposte:sent:{dedupe}"


async def send_once(services: Services, dedupe: str, send: Callable[[], Awaitable[str]]) -> str:
    """`send()` (returning the new message's id) unless a message was recorded under `dedupe`; then record it.
    The message's id, sent now or before."""
    recorded = await services.redis.get(sent_key(dedupe))
    if recorded is not None:
        return str(recorded)
    activity_id = await send()
    await services.redis.set(sent_key(dedupe), activity_id, ex=CASE_TTL_SECONDS)
    return activity_id


async def reply_in_case(services: Services, dedupe: str, case_id: str, card: Card) -> None:
    """Queue `card` as a reply in the case's thread (sent once the case's card is posted). The card is kept in
    Redis with the job: never put a secret in it."""
    await services.queues.enqueue(services.queues.interactive, REPLY, key=f"reply:{dedupe}", dedupe=dedupe,
                                  case_id=case_id, card=card)


async def announce(services: Services, dedupe: str, card: Card) -> None:
    """Queue `card` as a new thread in the alert channel (as it is when the job runs)."""
    await services.queues.enqueue(services.queues.interactive, REPLY, key=f"reply:{dedupe}", dedupe=dedupe,
                                  case_id="", card=card)


async def answer_message(services: Services, dedupe: str, reference: dict[str, Any], *, card: Card | None = None,
                         text: str = "", case_id: str = "") -> None:
    """Queue the answer to a message someone sent the bot (a typed command): `card`, then `text`, into the
    message's conversation (in a channel, its thread). With `case_id`, the card is that case's card (a command's
    confirm card): where it lands is recorded on the case, so that clicks update it."""
    await services.queues.enqueue(services.queues.interactive, ANSWER, key=f"reply:{dedupe}", dedupe=dedupe,
                                  reference=reference, card=card, text=text, case_id=case_id)


async def run_answer(services: Services, dedupe: str, reference: dict[str, Any], card: Card | None, text: str,
                     case_id: str) -> None:
    if card is not None:
        activity_id = await send_once(services, f"{dedupe}:card",
                                      lambda: services.channel.reply(reference, card, Priority.INTERACTIVE))
        case = await services.cases.get(case_id) if case_id else None
        if case is not None and case.activity_id != activity_id:
            case.conversation, case.activity_id = reference, activity_id
            await services.cases.save(case)
    if text:  # after the card, in one job: the two arrive in order
        await send_once(services, f"{dedupe}:text",
                        lambda: services.channel.reply(reference, text, Priority.INTERACTIVE))


async def run_reply(services: Services, dedupe: str, case_id: str, card: Card) -> None:
    if not case_id:
        channel_id, service_url = await alert_channel.current(services)
        if not channel_id:
            raise NotSendableYet(f"message {dedupe} waits for an alert channel")

        async def post() -> str:
            return (await services.channel.post_thread(channel_id, card, service_url, Priority.INTERACTIVE))[1]

        await send_once(services, dedupe, post)
        return
    case = await services.cases.get(case_id)
    if case is None:
        log.error("reply %s: case %s is not in Redis (expired?): nothing to reply to", dedupe, case_id)
        return
    conversation = case.conversation
    if not conversation:
        raise NotSendableYet(f"reply {dedupe} waits for the card of case {case_id} to be posted")
    await send_once(services, dedupe, lambda: services.channel.reply(conversation, card, Priority.INTERACTIVE))


def job_functions(services: Services) -> dict[str, Any]:
    async def reply(ctx: dict[str, Any], *, dedupe: str, case_id: str, card: Card) -> None:
        await run_reply(services, dedupe, case_id, card)

    async def answer(ctx: dict[str, Any], *, dedupe: str, reference: dict[str, Any], card: Card | None, text: str,
                     case_id: str) -> None:
        await run_answer(services, dedupe, reference, card, text, case_id)

    return {REPLY: reply, ANSWER: answer}
