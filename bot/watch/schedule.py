"""Watching a contained user: start on the first containment action, re-check on a schedule every replica shares,
report each change once, stop on release or when the window ends.

The schedule is saq scheduled jobs on the alerts queue. Check n is keyed `watch:{user}:{watch id}:{n}`, so
however many replicas and workers run, one job exists per check; the check first queues check n+1 (a re-run
queues nothing new) and then claims n in Redis (a re-delivered job, or a stale one from an earlier watch, does
nothing). saq's own key cannot be the bare `watch:{user}`: a job's key stays taken until it finishes, so a check
could not queue its successor under the same key.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from actions import ACTIONS
from actions.audit import actor_fields
from actions.errors import RiposteError, Throttled
from actions.graph import without_retries
from actions.items import list_items
from actions.spec import ActionContext, ActionSpec, Actor, Aspect, TargetUser
from bot.audit import case_notes as notes
from bot.cards.elements import Action, execute, when
from bot.cards.watch_block import change_reply
from bot.pipeline.enqueue import refresh_card
from bot.pipeline.limiter import Priority
from bot.pipeline.sends import send_once
from bot.services import Services
from bot.state import per_user
from bot.state.cases import Case, record_key
from bot.state.states import RunState, WatchState
from bot.watch.rate import GraphBudget, budgeted_exchange, budgeted_tenant, limits_storage
from bot.watch.snapshot import FACETS, Change, Snapshot, compare, merge, missing_parts, take
from bot.watch.store import Watch, WatchStore
from bot.watch.view import watch_view

log = logging.getLogger(__name__)
WATCH_CHECK = "watch_check"
WATCH_REPLY = "watch_reply"
SCHEDULER_STEP_SECONDS = 1.0  # saq's scheduling resolution
JITTER = 0.1  # ± this share of the interval, so checks of users contained together spread out
# Facets whose changes are items with their own buttons: the kind of listing the card shows them in.
ITEM_KINDS = {"rules": "inbox_rule", "methods": "auth_method", "grants": "app", "full_access": "mailbox_permission"}


def contained_by(facet: str) -> tuple[ActionSpec, ...]:
    """The containment actions (ActionSpec.contains) whose work a change of `facet` undid: the reply @mentions
    whoever ran them, and their done records may run again."""
    return tuple(spec for spec in ACTIONS.values() if spec.contains and facet in spec.watches)


def offers(facet: str) -> tuple[ActionSpec, ...]:
    """What a reply about a change of `facet` offers to act again: its containment actions other than bundles
    (their steps are offered themselves), the stronger (destructive) first, then the alternatives that directory
    sync cannot undo."""
    own = sorted((spec for spec in contained_by(facet) if not spec.steps), key=lambda spec: not spec.destructive)
    alternatives = [ACTIONS[spec.on_synced.alternative] for spec in own if spec.on_synced]
    return tuple(dict.fromkeys([*own, *alternatives]))


def _is_person(actor_id: str) -> bool:
    """An Entra object id (a person who clicked), not automation's name for itself: only a person is mentioned."""
    try:
        uuid.UUID(actor_id)
    except ValueError:
        return False
    return True


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def watching(services: Services, case_id: str) -> Watch | None:
    """The watch this case started, for its card (None when it started none)."""
    return await WatchStore(services.redis).get_for_case(case_id)


async def _enqueue_check(services: Services, watch: Watch, seq: int, at: float, tag: str = "") -> None:
    key = f"watch:{watch.user_id}:{watch.started_at}:{tag or seq}"
    # saq keeps scheduled times in whole seconds and moves due jobs once a second: a check due within the second
    # is queued now, and every check carries its exact time and waits out the rest itself (under a second), so a
    # check runs when it is due, not up to a second either side (which also makes sub-second intervals exact).
    scheduled = int(at) if at - time.time() >= SCHEDULER_STEP_SECONDS else 0
    # `watch_id`, not `started`: saq's Job has a field of that name
    await services.queues.enqueue(services.queues.checks, WATCH_CHECK, key=key, scheduled=scheduled,
                                  user_id=watch.user_id, watch_id=watch.started_at, seq=seq, due=at)


async def after_action(services: Services, case: Case, action: str, actor: Actor) -> None:
    """Hook for a successful action: a containment action starts watching the user (unless watched already);
    any action on a watched user re-baselines what it changed, so Riposte's own changes are never "undone"."""
    try:
        await _after_action(services, case, action, actor)
    except Exception:
        log.exception("watching %s after %s on case %s could not be set up", case.target, action, case.id)


async def _after_action(services: Services, case: Case, action: str, actor: Actor) -> None:
    target, spec = case.target, ACTIONS.get(action)
    if target is None or spec is None or not (spec.contains or spec.watches):
        return
    store = WatchStore(services.redis)
    watch = await store.get(target.id)
    if watch is not None and watch.state == WatchState.WATCHING:
        if spec.watches:  # what it changed on purpose is the new baseline
            generation = await store.rebase(target.id, frozenset(spec.watches))
            await _enqueue_check(services, watch, -1, 0, tag=f"rebase-{generation}")
        return
    if not spec.contains or services.settings.watch_hours <= 0:
        return
    started = time.time()
    watch = Watch(user_id=target.id, upn=target.upn, display_name=target.display_name, case_id=case.id,
                  actor_id=actor.id, actor_name=actor.name, started_at=now_iso(),
                  until=started + services.settings.watch_hours * 3600,
                  has_mailbox=target.has_mailbox and not target.is_guest)
    await store.start(watch)
    await _enqueue_check(services, watch, 0, 0)  # now: the first check takes the baseline
    await services.audit.record_event("watch_started", case_id=case.id, target_id=target.id, target_upn=target.upn,
                                      **actor_fields(actor), after=action, hours=services.settings.watch_hours,
                                      result="watching")
    await refresh_card(services, case.id, Priority.BULK)


async def release(services: Services, case_id: str, actor: Actor) -> str:
    """Stop watching the user this case contained (audited); what happened, in words. For the card's Release button
    and a typed `release <user>` command (the command table is someone else's: call this from it)."""
    store = WatchStore(services.redis)
    watch = await store.get_for_case(case_id)
    if watch is None or watch.state != WatchState.WATCHING:
        return "This case's user is not being watched."
    if not await store.stop(watch.user_id, WatchState.RELEASED, f"released by {actor.name} at {when(now_iso())}"):
        return "This case's user is not being watched."
    await services.audit.record_event("release", case_id=case_id, target_id=watch.user_id, target_upn=watch.upn,
                                      **actor_fields(actor), result="released")
    await notes.released(services, case_id, actor.name, f"{watch.display_name} ({watch.upn})")
    await refresh_card(services, case_id, Priority.INTERACTIVE)
    return f"Released: Riposte no longer watches {watch.display_name}."


class Watcher:
    """The job functions, with this process's share of the shared Graph budget."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.store = WatchStore(services.redis)
        self.budget = GraphBudget(limits_storage(services.settings.redis_url), services.redis,
                                  services.settings.watch_max_rps)

    async def run_check(self, user_id: str, started: str, seq: int) -> None:
        watch = await self.store.get(user_id)
        if watch is None or watch.state != WatchState.WATCHING or watch.started_at != started:
            return  # released, ended, or a job of an earlier watch of this user
        if seq >= 0:
            if watch.seq != seq:
                return  # this check already ran (a re-delivered job)
            if time.time() >= watch.until:
                await self._end(watch)
                return
            interval = self.services.settings.watch_interval_seconds
            await _enqueue_check(self.services, watch, seq + 1,
                                 time.time() + interval * (1 + random.uniform(-JITTER, JITTER)))
            if not await self.store.claim(user_id, seq):
                return
        await self._check(watch)

    async def _end(self, watch: Watch) -> None:
        if await self.store.stop(watch.user_id, WatchState.ENDED, f"the watch window ended at {when(now_iso())}"):
            await self.services.audit.record_event("watch_ended", case_id=watch.case_id, target_id=watch.user_id,
                                                   target_upn=watch.upn)
            await refresh_card(self.services, watch.case_id, Priority.BULK)

    def _context(self, watch: Watch) -> ActionContext:
        target = TargetUser(id=watch.user_id, upn=watch.upn, display_name=watch.display_name, account_enabled=False,
                            mail=watch.upn, has_mailbox=watch.has_mailbox)
        return ActionContext(tenant=budgeted_tenant(self.services.tenant, self.budget), target=target,
                             case_id=watch.case_id,
                             exchange=budgeted_exchange(self.services.runner.exchange, self.budget))

    async def _check(self, watch: Watch) -> None:
        rebase = await self.store.pending_rebase(watch.user_id)
        if watch.baseline is None:
            rebase = frozenset(FACETS)
        # To the microsecond: it names the check's reply (sent once per name), and two checks (a scheduled one and
        # one re-basing after an action) can both find a change within the same second.
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        try:
            block = await per_user.watched(self.services, Aspect.BLOCK, watch.user_id)
            with without_retries():  # every request goes through the budget; a 429 pauses all watchers instead
                now = await take(self._context(watch), block, watch.baseline, watch.has_mailbox)
        except Throttled:
            pause = await self.budget.throttled()
            await self.store.failed(watch.user_id, at, f"Graph is throttling (429): watching pauses {pause:.0f} s")
            await self._refresh_if_shown_differently(watch)
            return
        except RiposteError as error:
            await self.store.failed(watch.user_id, at, str(error))
            await self._refresh_if_shown_differently(watch)
            return
        await self.budget.recovered()
        changes = compare(watch.baseline, now, rebase) if watch.baseline is not None else []
        # A facet found changed is baselined as it is now: reported once, not again after the next Riposte action.
        settled = rebase | frozenset(change.facet for change in changes)
        if not await self.store.checked(watch.user_id, watch.generation, at, merge(watch.baseline, now, settled),
                                        missing_parts(now), rebase):
            log.info("watch check of %s read before a Riposte action re-based it: dropped, the re-basing check "
                     "reads afresh", watch.user_id)
            return
        reported = [change for change in changes
                    if await self.store.first_report(watch.user_id, watch.generation, change, at)]
        if reported:
            await self._reported(watch, reported, now)
            await self.services.queues.enqueue(  # the interactive queue: a responder's containment was undone
                self.services.queues.interactive, WATCH_REPLY,
                key=f"watch-reply:{watch.user_id}:{watch.generation}:{at}",
                user_id=watch.user_id, generation=watch.generation, found_at=at)
        await self._refresh_if_shown_differently(watch)

    async def _refresh_if_shown_differently(self, before: Watch) -> None:
        """Update the card only when the check changed what it shows: most checks find nothing new within the
        same minute, and each update is a Bot Connector send out of the channel's budget."""
        after = await self.store.get(before.user_id)
        signer = self.services.signer
        if watch_view(before, before.case_id, "", signer) != watch_view(after, before.case_id, "", signer):
            await refresh_card(self.services, before.case_id, Priority.BULK)

    async def _reported(self, watch: Watch, changes: list[Change], now: Snapshot) -> None:
        """Audit each change and make the buttons to act again clickable (an undone action may run again)."""
        case = await self.services.cases.get(watch.case_id)
        if case is None:
            return
        records = await self.services.cases.records(case.id)
        for change in changes:
            await self.services.audit.record_event("watch_change", case_id=case.id, target_id=watch.user_id,
                                                   target_upn=watch.upn, change=change.text, hint=change.hint)
            for spec in contained_by(change.facet):
                per_item = bool(spec.item_kind) and spec.item_kind == ITEM_KINDS.get(change.facet)
                key = record_key(spec.name, change.item if per_item else "")
                record = records.get(key)
                if record is not None and record.state == RunState.DONE and not spec.steps:
                    await self.services.cases.release_action(case.id, key)
                    record.state = RunState.REVERSED
                    await self.services.cases.put_record(case.id, record)
        for kind in dict.fromkeys(ITEM_KINDS[c.facet] for c in changes if c.facet in ITEM_KINDS):
            try:  # list them on the card: the new one (a re-created rule, a new MFA method …) gets its buttons
                with without_retries():
                    items = await list_items(kind, self._context(watch))
                await self.services.cases.save_listing(case.id, kind, items)
            except RiposteError as error:
                log.warning("could not list %s's %s after a change: %s", watch.upn, kind, error)

    async def run_reply(self, user_id: str, generation: int, at: str) -> None:
        """One reply in the case's thread for the changes one check found: @mentions the responder who contained
        the user, with the buttons to act again."""
        watch = await self.store.get(user_id)
        case = await self.services.cases.get(watch.case_id) if watch else None
        if watch is None or case is None or not case.conversation:
            return
        changes = [change for gen, found_at, change in watch.changes if gen == generation and found_at == at]
        if not changes:
            return
        records = await self.services.cases.records(case.id)
        actor_id, actor_name = watch.actor_id, watch.actor_name
        containing = {spec.name for change in changes for spec in contained_by(change.facet)}
        done = [record for record in records.values() if record.action in containing]
        if done:
            latest = max(done, key=lambda record: record.finished_at or record.started_at)
            actor_id, actor_name = latest.actor_id, latest.actor_name
        synced = any(change.hint for change in changes if change.facet == Aspect.ACCOUNT)
        buttons = self._buttons(case, changes, synced, watch)
        advice = ("Directory sync re-enables a disabled synced account: Block sign-in (a Conditional Access policy) "
                  "holds against it; disable the account in Active Directory too." if synced else "")
        card = change_reply(actor_id if _is_person(actor_id) else "", actor_name, f"{watch.display_name} ({watch.upn})",
                            [f"{change.text} at {when(at)}" + (f" — {change.hint}" if change.hint else "")
                             for change in changes], advice, buttons)
        conversation = case.conversation
        # Once: the reply's id is recorded, so the job run again (saq delivers at least once) sends nothing.
        await send_once(self.services, f"watch-reply:{user_id}:{generation}:{at}",
                        lambda: self.services.channel.reply(conversation, card, Priority.INTERACTIVE))

    def _buttons(self, case: Case, changes: list[Change], synced: bool, watch: Watch) -> list[Action]:
        buttons: list[Action] = []
        seen: set[tuple[str, str]] = set()
        baseline = watch.baseline or {}
        # a block policy still in force: the action that makes one would only be refused as "already blocked"
        holding = {Aspect.BLOCK} if (baseline.get(Aspect.BLOCK) or {}).get("enabled") and not any(
            c.facet == Aspect.BLOCK for c in changes) else set()
        for change in changes:
            for spec in offers(change.facet):
                verb = spec.name
                if verb not in case.offered or not self.services.policy.enabled(verb):
                    continue
                # sync would undo it again: its alternative is offered instead
                if (spec.on_synced and synced) or spec.watches & holding:
                    continue
                item = change.item if change.facet in ITEM_KINDS else ""
                if (verb, item) in seen:
                    continue
                seen.add((verb, item))
                title = ACTIONS[verb].title + (f" “{change.item_label or change.item}”" if item else "")
                buttons.append(execute(title, verb, self.services.signer.data(case.id, verb, case.nonce, item)))
        return buttons[:6]


def job_functions(services: Services) -> dict[str, Any]:
    """The watcher's job functions (bot/pipeline/jobs.py adds them to the workers')."""
    watcher = Watcher(services)

    async def check(ctx: dict[str, Any], *, user_id: str, watch_id: str, seq: int, due: float = 0.0) -> None:
        early = due - time.time()  # jobs queued before checks carried their time have none
        if early > 0:
            await asyncio.sleep(min(early, SCHEDULER_STEP_SECONDS))
        await watcher.run_check(user_id, watch_id, seq)

    async def reply(ctx: dict[str, Any], *, user_id: str, generation: int, found_at: str) -> None:
        await watcher.run_reply(user_id, generation, found_at)

    return {WATCH_CHECK: check, WATCH_REPLY: reply}
