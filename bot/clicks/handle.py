"""The click flow: verify the button, identify and authorize the clicker, then list, ask for approval, or run.

Handlers stay thin: they turn an activity into a `Click` and hand it here. Nothing from the card is trusted
beyond the signed reference: the target, the items and the allowed actions come from Redis."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from actions import ACTIONS
from actions.audit import entry
from actions.errors import RiposteError
from actions.items import list_items
from actions.relations import reversed_by
from actions.runner import Refused
from actions.spec import ActionContext, ActionSpec, Actor, SignedIn
from bot.access.permission import permit_verb
from bot.access.roles import RoleCheckFailed
from bot.approvals import handle as approval_flow
from bot.audit.view import page_click
from bot.cards.alert_card import message_card
from bot.cards.audit_card import PAGE_VERB
from bot.cards.elements import when
from bot.cards.views import show_verb
from bot.clicks.answered import Turn
from bot.clicks.options import read_options
from bot.logs import correlation_id
from bot.pipeline import sends
from bot.run.act import Approval, Ending, act, refused
from bot.run.execution import Run, card_for, in_background, now_iso, refresh_after_answer, secret_of
from bot.run.items import chosen_item
from bot.services import Card, Services
from bot.signin.handle import person_for
from bot.signin.tokens import ClickSignIn, SignInAnswer
from bot.state.cases import Case, record_key
from bot.state.states import RunState
from bot.watch.flow import release_click
from bot.watch.view import RELEASE_VERB

log = logging.getLogger(__name__)
STATE_STORE_DOWN = "The state store (Redis) is unreachable, so nothing was changed. Try again in a minute."
APPROVAL_VERBS = ("approve", "reject")
# A listing slower than this is answered "still listing" and lands on the card later (Teams waits ~5 s).
LIST_ANSWER_SECONDS = 3.0


@dataclass(frozen=True)
class Click:
    """A button click, as the authenticated activity tells it."""

    object_id: str  # from.aadObjectId
    name: str
    verb: str
    data: dict[str, Any]  # the button's signed reference plus the card's input values
    tenant_id: str  # channelData.tenant.id
    signin: ClickSignIn | None = None  # delegated mode: what the invoke brings to sign the clicker in (bot/signin)

    @property
    def item(self) -> str:
        return str(self.data.get("item", ""))


async def handle_click(services: Services, click: Click, turn: Turn) -> Card:
    """Return the card to answer the invoke with (answer now); what must follow the answer goes to `turn.later`
    (work later): the action itself, and everyone's card updated through the outbox.

    Fails closed: if Redis cannot be reached, nothing runs."""
    try:
        refusal = await _verify(services, click)
        if refusal:
            return refusal
        if click.verb == PAGE_VERB:
            return await page_click(services, click.object_id, click.name, click.item, turn)
        if click.verb == "cancel":
            return await _cancel(services, click, turn)
        if click.verb == RELEASE_VERB:  # bot/watch: stop watching the case's user
            return await release_click(services, click.data, click.object_id, click.name, turn)
        if click.verb in APPROVAL_VERBS:
            return await approval_flow.decide(services, click.verb, click.item, click.object_id, click.name,
                                              str(click.data.get("reason", "")), turn, click.signin)
        return await _action_click(services, click, turn)
    except SignInAnswer:  # not a failure: the clicker signs in, then Teams sends the click again
        raise
    except RedisError:
        log.exception("state store unreachable while handling a click on %r", click.verb)
        return message_card(STATE_STORE_DOWN, "attention")
    except RoleCheckFailed as error:
        return message_card(str(error), "attention")
    except RiposteError as error:  # e.g. Graph refused a safety check (the last Global Administrator)
        log.warning("click on %r by %s stopped: %s", click.verb, click.object_id, error)
        return message_card(f"Not done: {error}", "attention")
    except Exception:
        # Teams shows a bare failure for an invoke the bot cannot answer: answer with where to look instead.
        error_id = correlation_id.get() or secrets.token_hex(4)  # the id on every log line of this request
        log.exception("click on %r failed (error id %s)", click.verb, error_id)
        return message_card(f"Something went wrong handling this click (error id {error_id}, in the bot's log). "
                            "Check the card and the audit before trying again.", "attention")


async def _refuse_tampered(services: Services, click: Click, why: str) -> None:
    case_id = str(click.data.get("case", ""))[:64]
    log.warning("refused a click (%s) on case %r, verb %r, by %s", why, case_id, click.verb, click.object_id)
    # before any role look-up: the clicker's roles are not known here, and not worth a Graph call for a forgery
    await services.audit.record(entry("refused", click.verb[:64], Actor(click.object_id, click.name),
                                      case_id=case_id, result="refused", detail=why))


async def _verify(services: Services, click: Click) -> Card | None:
    """The click is from our tenant and the button is one this deployment drew, unaltered."""
    expected_tenant = services.settings.tenant_id
    if expected_tenant and click.tenant_id != expected_tenant:
        await _refuse_tampered(services, click, f"card from another tenant ({click.tenant_id!r})")
        return message_card("This card comes from another tenant than the one Riposte serves. Nothing ran.",
                            "attention")
    if not services.signer.verify(click.verb, click.data):
        await _refuse_tampered(services, click, "button data failed its signature check")
        return message_card("This button's data was altered or is not from this deployment. Nothing ran.",
                            "attention")
    return None


def _offered(case: Case, spec: ActionSpec) -> bool:
    if spec.name in case.offered:
        return True
    # undo actions are offered through the action they reverse
    return any(name in case.offered for name in reversed_by(spec.name))


async def _action_click(services: Services, click: Click, turn: Turn) -> Card:
    case = await services.cases.get(str(click.data.get("case", "")))
    if case is None:
        return message_card("This card's case is unknown here (expired, or from another deployment). Nothing ran.",
                            "attention")
    if case.closed:
        return await card_for(services, case)
    spec = ACTIONS.get(click.verb)
    if spec is None or not _offered(case, spec) or not hmac.compare_digest(
        str(click.data.get("nonce", "")), case.nonce
    ):
        await _refuse_tampered(services, click, "action not offered on this card, or a stale nonce")
        return await card_for(services, case, "This button is not valid for this card. Nothing ran.")
    actor = await services.roles.actor(click.object_id, click.name, turn)
    if case.target is None:
        return await card_for(services, case, f"Nothing ran: the user could not be resolved ({case.target_problem}).")
    if spec.item_kind and not click.item and show_verb(spec.item_kind) == spec.name:  # list them first
        reason = await refused(services, Run(case, spec, actor))
        if reason:
            return await card_for(services, case, f"⛔ Not done: {reason}")
        return await _list(services, case, spec, actor, turn)
    item = await chosen_item(services, case, spec, click.item)
    if spec.item_kind and item is None:
        return await card_for(services, case, "That item is no longer listed on this card; list them again.")
    run = Run(case, spec, actor, item, read_options(spec, click.data))
    target = case.target

    async def sign_in() -> SignedIn | None:  # delegated mode: the clicker's own token, when it runs at once
        return await person_for(services, click.signin, spec, target, actor.id, actor.name)

    acted = await act(services, run, Approval.ASK, turn, sign_in=sign_in)
    if acted.ending is Ending.REFUSED:
        return await card_for(services, case, f"⛔ Not done: {acted.refusal}", link=acted.link)
    if acted.ending is Ending.BUSY:
        return await card_for(services, case, await _already(services, case, run), "warning")
    if acted.ending is Ending.NEEDS_APPROVAL:
        return await approval_flow.request(services, run, turn)
    if acted.ending is not Ending.STARTED:
        return await card_for(services, case, "The audit trail could not be written, so nothing ran. Try again.")
    if spec.read_only:
        return await card_for(services, case, f"{spec.title}: listing…", "emphasis")
    return await card_for(services, case, secret=secret_of(acted.result))


async def _cancel(services: Services, click: Click, turn: Turn) -> Card:
    case = await services.cases.get(str(click.data.get("case", "")))
    if case is None or case.kind != "command" or not hmac.compare_digest(str(click.data.get("nonce", "")),
                                                                           case.nonce):
        return message_card("Nothing to cancel here.", "default")
    try:
        actor = await permit_verb(services, "cancel", click.object_id, click.name, turn,
                                  owner=case.alert.requested_by)
    except Refused as refusal:
        return await card_for(services, case, f"⛔ {refusal}")
    # Take every action's claim: a Confirm racing this cancel (on any replica) either got there first or cannot run.
    for name in case.offered:
        if not await services.cases.claim_action(case.id, record_key(name), actor.id):
            return await card_for(services, case, "Too late to cancel: it already started.", "warning")
    case.closed = f"Cancelled by {actor.name} at {when(now_iso())}; nothing was done."
    await services.cases.save(case)
    await services.audit.record(entry("cancelled", ",".join(case.offered), actor, case_id=case.id,
                                      target=case.target, result="cancelled"))
    card = await card_for(services, case)
    refresh_after_answer(services, case, turn)  # everyone's copy of the card says it was cancelled
    return card


async def _list(services: Services, case: Case, spec: ActionSpec, actor: Actor, turn: Turn) -> Card:
    """List the items inline when Graph is quick; when it is not, answer within Teams' limit and let the listing
    land on the card (or its failure in the thread) when it comes."""
    assert case.target is not None and spec.item_kind
    kind = spec.item_kind
    context = ActionContext(tenant=services.tenant, target=case.target, case_id=case.id,
                            exchange=services.runner.exchange)
    answered_late = asyncio.Event()

    async def say_late(problem: str) -> None:
        await turn.answered()  # the "still listing" answer must reach the clicker first
        if case.conversation:  # through the outbox: queued until Teams takes it
            await sends.reply_in_case(services, f"listing:{case.id}:{kind}:{secrets.token_hex(8)}", case.id,
                                      message_card(f"Could not list them: {problem}"))

    async def fill() -> str:
        try:
            items = await list_items(kind, context)
        except RiposteError as error:
            if answered_late.is_set():
                await say_late(str(error))
            return str(error)
        except Exception:
            if not answered_late.is_set():
                raise
            error_id = correlation_id.get() or secrets.token_hex(4)  # the id on every log line of this request
            log.exception("listing %s on case %s failed (error id %s)", kind, case.id, error_id)
            await say_late(f"something went wrong (error id {error_id}, in the bot's log)")
            return "failed"
        await services.cases.save_listing(case.id, kind, items)
        log.info("%s listed %d %s item(s) on case %s", actor.name, len(items), kind, case.id)
        if answered_late.is_set():  # else the answer below draws the card
            refresh_after_answer(services, case, turn)
        return ""

    listing = asyncio.ensure_future(fill())
    done, _ = await asyncio.wait({listing}, timeout=turn.time_left(LIST_ANSWER_SECONDS))
    if listing not in done:
        answered_late.set()
        in_background(services, listing)
        return await card_for(services, case, f"{spec.title}: still listing (Graph is slow); the card shows them "
                                              "when they arrive.", "emphasis")
    error = listing.result()
    if error:
        return await card_for(services, case, f"Could not list them: {error}")
    card = await card_for(services, case)
    refresh_after_answer(services, case, turn)  # everyone's card shows it too
    return card


async def _already(services: Services, case: Case, run: Run) -> str:
    record = (await services.cases.records(case.id)).get(run.key)
    title = run.spec.title
    if record is None or record.state == RunState.RUNNING:
        who = f" by {record.actor_name} at {when(record.started_at)}" if record else ""
        if record and record.run_id and not await services.cases.lease_left(case.id, run.key, record.run_id):
            return (f"{title} (started{who}) was cut off: the bot running it stopped. Riposte is reading the "
                    "tenant to settle it, within a minute; this click changed nothing.")
        return f"{title} is already running (started{who}); this click changed nothing."
    if record.state == RunState.PENDING:
        return f"{title} is waiting for approval (requested by {record.actor_name}); this click changed nothing."
    return f"{title} was already done by {record.actor_name} at {when(record.finished_at or now_iso())}."
