"""Running an action once it is allowed (bot/run/act.py decides that): intent in the audit, the call, what it
saved, the outcome, the card; and settling a run its process could not finish, from the tenant.

Whatever takes a `turn` may run before a click's answer: it then keeps to the turn's budget, and work that must
follow the answer goes to `turn.later`. Without a turn (a job, automation, approval expiry) nobody waits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from actions import ACTIONS
from actions.errors import RiposteError
from actions.graph import without_retries
from actions.relations import bundles_undone_by, reversed_by, step_undos
from actions.runner import ActionResult
from actions.spec import ActionContext, ActionSpec, Actor, Item, Outcome, ReadBack, Role, SignedIn, roles_text
from bot.audit import case_notes as notes
from bot.cards.alert_card import alert_card
from bot.cards.elements import Link
from bot.cards.views import CaseState
from bot.clicks.answered import Turn, Work
from bot.pipeline.enqueue import refresh_card, resolve_action
from bot.pipeline.limiter import Priority
from bot.run.items import chosen_item
from bot.services import Card, Services
from bot.state import per_user
from bot.state.cases import ActionRecord, Case, record_key
from bot.state.states import RunState
from bot.watch.schedule import after_action as watch_after_action
from bot.watch.schedule import watching

log = logging.getLogger(__name__)
# Recovery reads the tenant this long after a run's lease lapsed: a write already on its way to Graph when its
# process died lands first.
RECOVERY_MARGIN_SECONDS = 5
# Recording an outcome is retried through a Redis blip for about a minute (the lease is renewed meanwhile: the
# run's own process knows best how it ended); an inline action's answer cannot wait that long. After that the lease
# lapses and recovery settles the run from the tenant.
RECORD_RETRY_DELAYS: tuple[float, ...] = (0.2, 0.5, 1, 2, 4, 8, 15, 30)
INLINE_RECORD_RETRY_DELAYS: tuple[float, ...] = (0.2, 0.5)
T = TypeVar("T")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def load_state(services: Services, case: Case) -> CaseState:
    records, listings, saved, grouped, grouped_count = await services.cases.card_state(case.id)
    return CaseState(case, records, listings, saved, grouped, grouped_count, await watching(services, case.id))


async def card_for(services: Services, case: Case, notice: str = "", style: str = "attention",
                   secret: str = "", link: Link | None = None) -> Card:
    state = await load_state(services, case)
    return alert_card(services.painter.view(state, notice, style, secret, link))


async def _nothing_to_record() -> None:
    return None


def in_background(services: Services, work: Awaitable[Any]) -> None:
    """Let `work` (already running or not) go on, tracked so that shutdown lets it finish (nothing to record if
    cut)."""

    async def run() -> None:
        await work

    services.inflight.start(run(), _nothing_to_record)


def after_answer(services: Services, turn: Turn | None, work: Work) -> None:
    """`work` once the turn's answer is sent (card posts and updates the answer need not wait for: Teams gives it
    ~5 s); without a turn nobody waits for an answer, so at once, in the background."""
    if turn is not None:
        turn.later(work)
    else:
        in_background(services, work())


def refresh_after_answer(services: Services, case: Case, turn: Turn | None) -> None:
    """Everyone's copy of the case's card is redrawn through the outbox (the durable job), queued once the
    clicker's answer is out: an update reaching the clicker before the answer would be hidden behind it."""
    after_answer(services, turn, lambda: refresh_card(services, case.id, Priority.INTERACTIVE))


async def update_case_card(services: Services, case: Case, card: Card | None = None, turn: Turn | None = None) -> None:
    """Replace the thread's card with the case as it stands now (every viewer sees it): directly while `turn`'s
    clicker waits and must see it in their answer's place (an inline action's result), through the outbox
    otherwise. `card` when the caller has just drawn it (for its own answer) and nothing changed since."""
    # The outbox: durable, coalesced with other updates, retried until sent. Also when `case` does not know its
    # card yet: it may have been read in the moment between Teams taking the post and the posting job recording it
    # (a quick click); the refresh job reads the case afresh, and the posting job redraws once it sees the version
    # moved, so the update is never lost.
    if turn is None or not turn.waiting or not case.conversation or not case.activity_id:
        await refresh_card(services, case.id, Priority.INTERACTIVE)
        return
    try:  # retried only briefly; drawn once the send slot is taken, unless the caller just drew it
        await services.channel.update_card(case.conversation, case.activity_id,
                                           card or (lambda: card_for(services, case)), turn=turn)
    except Exception:
        # Before a click's answer only a short wait fits: hand it to the outbox once the answer is out (an update
        # landing before the answer would be hidden by it for the clicker, which is harmless, but not after).
        log.warning("card of case %s not updated before the answer; queued for after it", case.id)
        refresh_after_answer(services, case, turn)


@dataclass
class Run:
    """One allowed run of an action on a case (and item)."""

    case: Case
    spec: ActionSpec
    actor: Actor
    item: Item | None = None
    options: dict[str, Any] = field(default_factory=dict)
    approved_by: str = ""
    # Delegated mode (bot/signin): the person whose own Graph token runs it; in memory for this run only (a recovered
    # run reads the tenant back with the app's rights).
    signed_in: SignedIn | None = None

    @property
    def key(self) -> str:
        return record_key(self.spec.name, self.item.id if self.item else "")


async def _saved_for(services: Services, run: Run) -> dict[str, Any] | None:
    """For an undo: what the action it reverses saved (directly, or as a step of the block_user bundle)."""
    if not run.spec.needs_saved:
        return None
    item = run.item.id if run.item else ""
    for name in reversed_by(run.spec.name):
        saved = await services.cases.removed(run.case.id, record_key(name, item))
        if saved is not None:
            return saved
    return None


async def _options(services: Services, run: Run) -> dict[str, Any]:
    """The run's choices, and what the action asks the bot for (ActionSpec.excludes_protected)."""
    options = dict(run.options)
    for card_input in run.spec.inputs:  # a bundle's steps the policy switches off are left out, whoever asked
        if card_input.chooses_steps:
            chosen = options.get(card_input.option) or [choice.value for choice in card_input.choices]
            options[card_input.option] = [name for name in chosen if services.policy.enabled(str(name))]
    if run.spec.excludes_protected:
        ids = []
        for user in services.settings.protected_users:
            try:
                ids.append((await services.tenant.get_user(user)).id)
            except RiposteError as error:
                # A policy that fails to exclude a break-glass account could lock it out: refuse instead.
                raise RiposteError(f"Protected account {user} could not be resolved ({error}), so a block policy "
                                   "could not exclude it; fix RIPOSTE_PROTECTED_USERS.") from None
        options["protected_user_ids"] = ids
    return options


async def _undone_entry(services: Services, run: Run) -> str:
    """The audit entry of the outcome this run reverses, when something it reverses (directly, or as a bundle's
    step) is done on this case: its undo links there."""
    names = [*reversed_by(run.spec.name), *bundles_undone_by(run.spec.name)]
    if not names:
        return ""
    item = run.item.id if run.item else ""
    records = await services.cases.records(run.case.id)
    for name in names:
        for key in dict.fromkeys((record_key(name, item), record_key(name))):
            record = records.get(key)
            if record is not None and record.state in (RunState.DONE, RunState.REVERSED) and record.audit_id:
                return record.audit_id
    return ""


async def begin(services: Services, run: Run) -> ActionRecord:
    """The action's claim is held; take the run's lease, write the intent (or raise: then nothing runs) and show
    it running. From the lease on, a death of this process is settled by recovery (a queued, delayed check)."""
    assert run.case.target is not None
    run_id, lease = secrets.token_hex(8), services.settings.action_lease_seconds
    try:
        undo_of = await _undone_entry(services, run)
        await services.cases.lease(run.case.id, run.key, run_id, lease)
        await resolve_action(services, run.case.id, run.key, run_id, lease + RECOVERY_MARGIN_SECONDS)
        await services.runner.record_intent(run.spec, run.actor, run.case.target, run.case.id, run.item,
                                            run.options, undo_of=undo_of, signed_in=run.signed_in)
    except Exception:
        await services.cases.release_action(run.case.id, run.key)
        raise
    record = ActionRecord(
        action=run.spec.name, state=RunState.RUNNING, actor_id=run.actor.id, actor_name=run.actor.name,
        started_at=now_iso(), item=run.item.id if run.item else "", item_label=run.item.label if run.item else "",
        approved_by=run.approved_by, run_id=run_id, options=dict(run.options), actor_upn=run.actor.upn,
        actor_roles=roles_text(run.actor.roles), undo_of=undo_of,
        signed_in=run.signed_in.label if run.signed_in else "",
    )
    await services.cases.put_record(run.case.id, record)
    return record


@contextlib.asynccontextmanager
async def _leased(services: Services, run: Run, record: ActionRecord) -> AsyncIterator[None]:
    """Renew the run's lease while it runs (every third of it, so one missed renewal does not lose it)."""
    lease = services.settings.action_lease_seconds

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease / 3)
            try:
                await services.cases.lease(run.case.id, run.key, record.run_id, lease)
            except Exception as error:  # Redis away: try again; if it stays away recovery settles the run
                log.warning("lease of %s on case %s not renewed: %s", run.spec.name, run.case.id, error)

    renewing = asyncio.get_running_loop().create_task(renew())
    try:
        yield
    finally:
        renewing.cancel()


async def _patiently(delays: tuple[float, ...], work: Callable[[], Awaitable[T]]) -> T:
    """`work`, tried again after each delay while it raises (Redis restarting, failing over)."""
    for delay in delays:
        try:
            return await work()
        except Exception as error:
            log.warning("writing to Redis failed (%s); trying again in %.1f s", error, delay)
            await asyncio.sleep(delay)
    return await work()


async def execute(services: Services, run: Run, record: ActionRecord, turn: Turn | None = None) -> ActionResult:
    """Call Graph/Exchange, keep what was removed, record the outcome, update the card. Never raises: once the
    intent is written, a failure to record the outcome is logged in full (so the log has what the audit lacks),
    and the run's lease, no longer renewed, lets recovery settle it from the tenant."""
    target = run.case.target
    assert target is not None
    async with _leased(services, run, record):
        try:
            saved = await _saved_for(services, run)
            options = await _options(services, run)
            previous = await per_user.known(services, run.spec, target.id)
        except RiposteError as error:
            result = ActionResult(ok=False, error=f"{error} Nothing was changed.")
        else:
            if options != record.options:  # the break-glass ids a block policy excludes: recovery checks them
                record.options = options
                await services.cases.put_record(run.case.id, record)
            result = await services.runner.execute(
                run.spec, run.actor, target, run.case.id, item=run.item, saved=saved, options=options,
                started_at=record.started_at, previous=previous, record=False, signed_in=run.signed_in,
            )
        services.metrics.count("riposte_actions_total", action=run.spec.name,
                               result="ok" if result.ok else "failed")
        delays = INLINE_RECORD_RETRY_DELAYS if run.spec.inline else RECORD_RETRY_DELAYS
        try:
            held = await _patiently(delays, lambda: services.cases.settle(run.case.id, record.run_id, record.run_id))
            if held is not None:
                record.audit_id = await _patiently(delays, lambda: services.runner.record_outcome(
                    run.spec, run.actor, target, run.case.id, result, undo_of=record.undo_of, signed_in=run.signed_in))
                # should this process stop now, recovery finishes the record without a second audit ending
                await _patiently(delays, lambda: services.cases.mark_settled(run.case.id, record.run_id,
                                                                             _audited(record.run_id)))
                await _patiently(delays, lambda: _record_result(services, run, record, result, turn))
            else:
                log.warning("%s on case %s ended (%s: %s) after recovery had settled it from the tenant; this "
                            "ending is only logged", run.spec.name, run.case.id, "ok" if result.ok else "failed",
                            result.outcome.summary if result.outcome else result.error)
        except Exception:
            log.exception(
                "%s on case %s by %s ended (%s: %s) but the outcome could not be recorded in Redis; recovery will "
                "read the tenant once it is back", run.spec.name, run.case.id, run.actor.name,
                "ok" if result.ok else "failed", result.outcome.summary if result.outcome else result.error,
            )
    return result


async def _record_result(services: Services, run: Run, record: ActionRecord, result: ActionResult,
                         turn: Turn | None) -> None:
    """Idempotent (retried through a Redis blip)."""
    case = run.case
    record.finished_at = now_iso()
    record.request_id = result.request_id or ""
    outcome = result.outcome
    if result.ok and outcome:
        record.state, record.summary, record.reversal = RunState.DONE, outcome.summary, outcome.reversal
        await services.cases.keep_claim(case.id, run.key)
        record.steps = [f"{'✓' if step.ok else '✗'} {step.summary}" for step in outcome.steps]
        if outcome.verification:
            record.verification, record.verified = outcome.verification.message, outcome.verification.ok
        if outcome.saved:
            await services.cases.save_removed(case.id, run.key, outcome.saved)
            await _record_bundle_steps(services, run, record, outcome.saved)
        if outcome.items and run.spec.item_kind is None:
            await services.cases.save_listing(case.id, outcome.items[0].kind, list(outcome.items))
        await _reopen_counterparts(services, run)
        await per_user.remember(services, run.spec, case.target, outcome.saved)
        if run.spec.changes_target:
            await _refresh_target(services, case)
        await watch_after_action(services, case, run.spec.name, run.actor)  # bot/watch: start or re-baseline
    else:
        record.state, record.summary = RunState.FAILED, result.error
        await services.cases.release_action(case.id, run.key)
    await services.cases.put_record(case.id, record)
    await notes.action_ended(services, case.id, record)  # the case's record in its thread (bot/audit/case_notes.py)
    # For an inline action this runs before the answer, on purpose: the answer (with the password) must be the
    # clicker's last view of the card; a later update would replace it. The Bot Connector retries only briefly
    # while a click waits (bot.teams.connector).
    await update_case_card(services, case, turn=turn)


async def _reopen_counterparts(services: Services, run: Run) -> None:
    """After X ran, its reverse may run again, and after an undo, the original may run again."""
    item = run.item.id if run.item else ""
    counterparts = {run.spec.undo, *reversed_by(run.spec.name)}
    counterparts |= set(step_undos(run.spec))  # a bundle ran: each step's undo may run
    counterparts |= set(bundles_undone_by(run.spec.name))  # one of a bundle's steps was undone: it may run again
    records = await services.cases.records(run.case.id)
    for name in counterparts:
        if name and name in ACTIONS:
            for key in dict.fromkeys((record_key(name, item), record_key(name))):
                await services.cases.release_action(run.case.id, key)
                # a "done" record greys its button ("already done"): once reversed, it must be clickable again
                record = records.get(key)
                if record is not None and record.state == RunState.DONE:
                    record.state = RunState.REVERSED
                    await services.cases.put_record(run.case.id, record)


async def _record_bundle_steps(services: Services, run: Run, bundle: ActionRecord, saved: Mapping[str, Any]) -> None:
    """A bundle's steps, each as if run on its own: its saved copy serves the step's own undo, and each item a
    per-item step acted on (an inbox rule) shows as that action's own outcome, with its own undo."""
    for step in run.spec.steps:
        copy = saved.get(step.action)
        if not copy:
            continue
        await services.cases.save_removed(run.case.id, record_key(step.action), copy)
        spec = ACTIONS[step.action]
        if not spec.item_kind:
            continue
        for entry in copy.get("items", []):
            item_id = str(entry["id"])
            key = record_key(step.action, item_id)
            await services.cases.save_removed(run.case.id, key, entry.get("saved") or {})
            await services.cases.claim_action(run.case.id, key, run.actor.id)
            await services.cases.put_record(run.case.id, ActionRecord(
                action=step.action, state=RunState.DONE, actor_id=run.actor.id, actor_name=run.actor.name,
                started_at=bundle.started_at, finished_at=now_iso(), item=item_id,
                item_label=str(entry.get("label") or item_id), summary=f"Done by {run.spec.title} ({step.title}).",
                reversal=spec.reversal, request_id=bundle.request_id, actor_upn=bundle.actor_upn,
                actor_roles=bundle.actor_roles, audit_id=bundle.audit_id,
            ))


async def _refresh_target(services: Services, case: Case) -> None:
    """The user's state changed: re-read it so the card offers what applies now (e.g. Re-enable)."""
    if case.target is None:
        return
    try:
        target = await services.tenant.get_user(case.target.id)
    except RiposteError:
        log.warning("could not re-read %s after an action on case %s", case.target.id, case.id)
        return
    case.target = target
    fresh = await services.cases.get(case.id)  # saved anew since this run began (e.g. closed): keep that
    if fresh is not None:
        fresh.target = target
        await services.cases.save(fresh)


async def interrupted(services: Services, run: Run, record: ActionRecord) -> None:
    """Shutdown cut the run (its grace period is over): settle it from the tenant now, as recovery would."""
    with without_retries():  # shutdown cannot wait out a throttle: what is unread is said so
        await recover(services, run.case.id, run.key, record.run_id, own_process=True)


async def recover(services: Services, case_id: str, key: str, run_id: str, *, own_process: bool = False) -> float:
    """Settle run `run_id` of action `key` whose process stopped (killed, lost its machine or Redis) by reading
    the tenant: done → recorded done, "confirmed by read-back", its claim kept; not done → interrupted, its
    claim released so it can be run again. Nothing is run again blindly. Returns the seconds left on the run's
    lease while its process is alive (unless `own_process`: the run's own process, at shutdown), else 0. Once
    settled, a second call, from any worker, does nothing. A read-back that fails raises (RiposteError) for the
    queue to try again later, except at shutdown, which records what it could not read."""
    record = (await services.cases.records(case_id)).get(key)
    if record is None or record.state != RunState.RUNNING or record.run_id != run_id:
        return 0.0  # it ended (or another run holds the action now)
    if not own_process:
        left = await services.cases.lease_left(case_id, key, run_id)
        if left:
            return left
        # Its process settled the run but its record does not say so: it may be alive and only have lost Redis for
        # longer than its lease (it renews as soon as Redis is back). Take over only if the lease is still lapsed
        # a lease later, so that the two never both record an ending.
        if (await services.cases.settled_by(case_id, run_id) in (run_id, _audited(run_id))
                and await services.cases.first_lapse(case_id, run_id)):
            return float(services.settings.action_lease_seconds)
    case, spec = await services.cases.get(case_id), ACTIONS.get(record.action)
    if case is None or case.target is None or spec is None:
        log.error("run %s of %s on case %s cannot be recovered: the case or action is gone", run_id, key, case_id)
        return 0.0
    actor = Actor(record.actor_id, record.actor_name, upn=record.actor_upn,
                  roles=frozenset(Role(role) for role in record.actor_roles.split(",") if role))
    item = await chosen_item(services, case, spec, record.item, record.item_label)
    run = Run(case, spec, actor, item, dict(record.options), record.approved_by)
    context = ActionContext(
        tenant=services.tenant, target=case.target, case_id=case.id, exchange=services.runner.exchange,
        item=run.item, saved=await _saved_for(services, run), options=record.options, started_at=record.started_at,
    )
    try:
        found = await _read_back(spec, context)
    except RiposteError as error:
        if not own_process:
            raise
        found = ReadBack(False, f"nothing Riposte could read ({error})")
    # The run's own process may have settled and stopped before its record said so (its lease lapsed since):
    # take over from it, without a second audit ending if it wrote one.
    settler = run_id if own_process else f"recovery:{secrets.token_hex(4)}"  # two recoveries: one wins
    previous = await services.cases.settle(case.id, run_id, settler, take_from=(run_id, _audited(run_id)))
    if previous is None:
        return 0.0
    await _record_recovered(services, run, record, context, found, audited=previous == _audited(run_id))
    return 0.0


def _audited(run_id: str) -> str:
    return f"{run_id}+audited"


async def _read_back(spec: ActionSpec, context: ActionContext) -> ReadBack:
    if spec.read_back is None:  # a listing: it changes nothing
        return ReadBack(False, "no change (it only reads)")
    return await spec.read_back(context)


async def _record_recovered(services: Services, run: Run, record: ActionRecord, context: ActionContext,
                            found: ReadBack, audited: bool = False) -> None:
    case, spec = run.case, run.spec
    assert case.target is not None
    record.finished_at = now_iso()
    services.metrics.count("riposte_actions_recovered_total", action=spec.name,
                           result="done" if found.done else "interrupted")
    if found.done:
        record.state, record.reversal = RunState.DONE, spec.reversal
        record.summary = f"Confirmed by read-back after the bot was interrupted: {found.observed}."
        outcome = Outcome(summary=record.summary, reversal=spec.reversal)
        if not audited:
            record.audit_id = await services.runner.record_outcome(
                spec, run.actor, case.target, case.id, ActionResult(ok=True, outcome=outcome, state_after=found.facts),
                undo_of=record.undo_of)
        await services.cases.put_record(case.id, record)
        await services.cases.keep_claim(case.id, run.key)
        await _recover_saved(services, run, context)
        await _reopen_counterparts(services, run)
        if spec.changes_target:
            await _refresh_target(services, case)
    else:
        record.state = RunState.INTERRUPTED
        record.summary = (f"The bot stopped before Graph answered; the tenant shows {found.observed}: run it again "
                          "if needed.")
        if not audited:
            await services.runner.record_interrupted(spec, run.actor, case.target, case.id, detail=record.summary,
                                                     undo_of=record.undo_of, state_after=found.facts)
        await services.cases.put_record(case.id, record)  # before the release: a new run's record must win
        await services.cases.release_action(case.id, run.key)
    log.info("%s on case %s settled from the tenant: %s", spec.name, case.id, record.state)
    await notes.action_ended(services, case.id, record)  # the thread's case record says how it ended
    await update_case_card(services, case)


async def _recover_saved(services: Services, run: Run, context: ActionContext) -> None:
    """What an undo needs that the tenant still shows (ActionSpec.find_saved: the block policy, by its name).
    Copies of what a run removed (a deleted rule, the forwarding address) went with its process."""
    if run.spec.find_saved is None:
        return
    saved = await run.spec.find_saved(context)
    if saved is not None:
        await services.cases.save_removed(run.case.id, run.key, saved)
        await per_user.remember(services, run.spec, run.case.target, saved)


OnFinished = Callable[[ActionResult], Awaitable[None]]


async def start(services: Services, run: Run, on_finished: OnFinished | None = None,
                turn: Turn | None = None) -> ActionResult | None:
    """Begin the run. An inline action finishes before this returns, with its result (its secret is for the
    clicker's answer only, before which it runs); the others run after `turn`'s answer (at once without a turn),
    and this returns None. `on_finished` hears the result either way."""
    record = await begin(services, run)
    if run.spec.inline:
        with without_retries():  # its answer carries the result: it cannot wait out a throttle
            result = await execute(services, run, record, turn)
        if on_finished:
            await on_finished(result)
        return result

    async def work() -> None:  # the clicker's "running" answer reaches them before the outcome does
        await _execute_then(services, run, record, on_finished)

    if turn is not None:
        turn.later(work, lambda: interrupted(services, run, record))
    else:
        services.inflight.start(work(), lambda: interrupted(services, run, record))
    return None


def secret_of(result: ActionResult | None) -> str:
    """What only the clicker may see (reset_password's temporary password), if the run ended with one."""
    return (result.outcome.secret_for_clicker or "") if result and result.outcome else ""


async def _execute_then(services: Services, run: Run, record: ActionRecord, on_finished: OnFinished | None) -> None:
    result = await execute(services, run, record)
    if on_finished:
        await on_finished(result)
