"""From a case and its state in Redis to what its card shows; the pure card builders do the layout.

Every button gets signed data from here, so what a click may do is decided when the card is drawn."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from adaptive_cards.types import ActionStyle, ContainerStyle

from actions import ACTIONS
from actions.relations import item_actions, reversed_by
from actions.runner import Refused
from actions.spec import ActionSpec, Actor, Item, TargetUser
from bot.access.roles import check_protected
from bot.access.signing import ButtonSigner
from bot.cards import inputs as card_inputs
from bot.cards.alert_card import AlertView, Button, ItemView, ListingView, StatusView
from bot.cards.elements import Element, Link
from bot.intake.alerts import Alert
from bot.intake.recommendations import DEFAULT_KINDS, Recommendation, ThreatKind, recommend
from bot.state.cases import CLAIM_TTL_SECONDS, ActionRecord, Case, record_key
from bot.state.states import RunState
from bot.watch.store import Watch
from bot.watch.view import watch_view

NOBODY = Actor(id="", name="")
LISTING_TITLES = {
    "inbox_rule": "Inbox rules",
    "app": "Consented apps",
    "teams_app": "Teams apps",
    "auth_method": "Authentication methods (newest first)",
    "mailbox_permission": "Mailbox FullAccess holders",
    "transport_rule": "Transport rules",
}
SHOW_TITLES = {
    "app": "Consented apps…",
    "teams_app": "Teams apps…",
    "auth_method": "MFA methods…",
    "mailbox_permission": "Mailbox access…",
    "transport_rule": "Transport rules…",
}
BUSY_STATES = (RunState.RUNNING, RunState.DONE, RunState.PENDING)
# Items shown per list and per card: Teams refuses cards over 28 KB; suspicious items are listed first anyway.
LISTED_PER_KIND = 11  # 12 until the recommendations and plain-text runs made each card larger
LISTED_TOTAL = 14  # 16 until the Recommended block and a source's own advice took their share


def show_verb(kind: str) -> str | None:
    """The verb whose item-less click lists items of `kind` (the first per-item action of that kind), unless a
    listing action of its own shows them."""
    if any(spec.lists == kind for spec in ACTIONS.values()):
        return None
    actions = item_actions(kind)
    return actions[0].name if actions else None


def not_applicable_reason(case: Case, spec: ActionSpec, protected_users: list[str]) -> str:
    if case.target is None:
        return f"the user could not be resolved: {case.target_problem}"
    try:
        check_protected(NOBODY, case.target, protected_users)
    except Refused as refusal:
        return str(refusal)
    return spec.not_applicable(case.target) or ""


def _settle_abandoned(record: ActionRecord) -> ActionRecord:
    """A record still "running" after its claim lapsed belongs to a replica that died mid-action: say so."""
    if record.state != RunState.RUNNING:
        return record
    started = datetime.fromisoformat(record.started_at)
    if datetime.now(UTC) - started < timedelta(seconds=CLAIM_TTL_SECONDS):
        return record
    summary = "The bot stopped before this finished; check the user's state before running it again."
    return record.model_copy(update={"state": RunState.INTERRUPTED, "summary": summary})


def _recommended_first(buttons: tuple[Button, ...], recommended: tuple[str, ...]) -> tuple[Button, ...]:
    """The recommended buttons first (emphasised, unless greyed or already destructive), then the bundles (Block
    user), then the rest in registry order; the card shows the first six it can (bot.cards.alert_card)."""
    by_verb = {button.verb: button for button in buttons}
    first = [by_verb[verb] for verb in recommended if verb in by_verb]
    first = [replace(b, style=b.style or ActionStyle.POSITIVE) if b.enabled else b for b in first]
    rest = [button for button in buttons if button.verb not in recommended]
    bundles = [button for button in rest if ACTIONS[button.verb].steps]
    return (*first, *bundles, *(button for button in rest if button not in bundles))


@dataclass(frozen=True)
class CaseState:
    """Everything in Redis about a case that its card shows."""

    case: Case
    records: Mapping[str, ActionRecord]
    listings: Mapping[str, list[Item]] = field(default_factory=dict)
    saved_keys: frozenset[str] = frozenset()
    grouped: tuple[Alert, ...] = ()  # the latest alerts that joined the case (grouping)
    grouped_count: int = 0
    watch: Watch | None = None  # the containment watch this case started (bot/watch)


NO_RECOMMENDATION = Recommendation((), ())


# Why an action cannot run for a reason outside the card's own facts ("" when it can): delegated mode without an
# OAuth connection (bot/signin/rules.py unavailable).
Unavailable = Callable[[ActionSpec, TargetUser], str]


class CardPainter:
    def __init__(self, signer: ButtonSigner, protected_users: list[str],
                 recommendations: tuple[ThreatKind, ...] = DEFAULT_KINDS, disabled: frozenset[str] = frozenset(),
                 unavailable: Unavailable | None = None) -> None:
        self._signer = signer
        self._protected = protected_users
        self._kinds = recommendations
        self._disabled = disabled  # actions the policy switches off: no button anywhere on a card
        self._unavailable = unavailable

    def _reason(self, case: Case, spec: ActionSpec) -> str:
        reason = not_applicable_reason(case, spec, self._protected)
        if not reason and self._unavailable is not None and case.target is not None:
            reason = self._unavailable(spec, case.target)
        return reason

    def recommendation(self, case: Case) -> Recommendation:
        """What the alert calls for first; none on a typed command's card (the command said what to do)."""
        if case.kind == "command" or case.closed:
            return NO_RECOMMENDATION
        return recommend(case.alert, self._kinds)

    def _button(self, state: CaseState, spec: ActionSpec, title: str, item: str = "", reason: str = "") -> Button:
        record = state.records.get(record_key(spec.name, item))
        if not reason and record and record.state in BUSY_STATES and not spec.read_only:
            reason = f"{record.state} ({record.actor_name})" if record.state != RunState.DONE else "already done"
        tooltip = reason or f"{spec.description}. {spec.reversal}"
        return Button(title, spec.name, self._signer.data(state.case.id, spec.name, state.case.nonce, item),
                      enabled=not reason, tooltip=tooltip, style=ActionStyle.DESTRUCTIVE if spec.destructive else None)

    def main_buttons(self, state: CaseState) -> tuple[Button, ...]:
        if state.case.closed:
            return ()
        buttons = self._offered_buttons(state)
        if state.case.kind != "command":
            return _recommended_first(buttons, self.recommendation(state.case).actions)
        # A typed command's card: nothing runs before Confirm; once something started, there is nothing to cancel.
        case = state.case
        confirms = tuple(replace(button, title=f"Confirm: {button.title}") for button in buttons)
        if any(record.state in BUSY_STATES for record in state.records.values()):
            return confirms
        cancel = Button("Cancel", "cancel", self._signer.data(case.id, "cancel", case.nonce), tooltip="do nothing")
        return (*confirms, cancel)

    def _offered_buttons(self, state: CaseState) -> tuple[Button, ...]:
        buttons: list[Button] = []
        for name in state.case.offered:
            if name in self._disabled:
                continue
            spec = ACTIONS[name]
            is_show_button = bool(spec.item_kind) and show_verb(spec.item_kind or "") == name
            # An undo offered directly (unblock): only when the copy it restores from is at hand.
            undo_ready = state.case.kind == "command" and spec.needs_saved and not spec.item_kind and any(
                record_key(original) in state.saved_keys for original in reversed_by(name))
            if not undo_ready and (spec.needs_saved or (spec.item_kind and not is_show_button) or (
                not spec.offered_on_alert and not is_show_button
            )):
                continue
            reason = self._reason(state.case, spec)
            title = SHOW_TITLES.get(spec.item_kind or "", spec.title)
            if spec.item_kind:  # a listing click: never "already done"
                buttons.append(Button(title, name, self._signer.data(state.case.id, name, state.case.nonce),
                                      enabled=not reason, tooltip=reason or f"list them, then {spec.description}"))
                continue
            buttons.append(self._button(state, spec, title, reason=reason))
        return tuple(buttons)

    def _undo(self, state: CaseState, record: ActionRecord) -> Button | None:
        spec = ACTIONS.get(record.action)
        if record.state != RunState.DONE or spec is None or not spec.undo:
            return None
        undo = ACTIONS[spec.undo]
        if undo.name in self._disabled:
            return None
        if undo.needs_saved and not any(record_key(name, record.item) in state.saved_keys
                                        for name in [record.action, *reversed_by(undo.name)]):
            return None
        title = spec.undo_title or undo.title
        return self._button(state, undo, title, record.item,
                            self._reason(state.case, undo))

    def _step_undos(self, state: CaseState, record: ActionRecord) -> tuple[Button, ...]:
        """A bundle's undos that need its saved copy (block_user's “Restore forwarding”) had no button anywhere."""
        bundle = ACTIONS.get(record.action)
        if bundle is None or not bundle.steps or record.state != RunState.DONE:
            return ()
        buttons = []
        for step in bundle.steps:
            spec = ACTIONS[step.action]
            undo = ACTIONS.get(spec.undo or "")
            if undo is None or undo.name in self._disabled:
                continue
            if undo.needs_saved and not undo.item_kind and record_key(step.action) in state.saved_keys:
                buttons.append(self._button(state, undo, spec.undo_title or undo.title, "",
                                            self._reason(state.case, undo)))
        return tuple(buttons)

    def statuses(self, state: CaseState) -> tuple[StatusView, ...]:
        views = []
        for record in sorted(state.records.values(), key=lambda record: record.started_at):
            spec = ACTIONS.get(record.action)
            title = spec.title if spec else record.action
            if record.item_label:
                title = f"{title} “{record.item_label}”"
            views.append(StatusView(
                title=title, state=record.state, actor_name=record.actor_name, started_at=record.started_at,
                finished_at=record.finished_at, summary=record.summary, reversal=record.reversal,
                request_id=record.request_id, approved_by=record.approved_by, signed_in=record.signed_in,
                steps=tuple(record.steps),
                verification=record.verification, verified=record.verified,
                undo=self._undo(state, record), step_undos=self._step_undos(state, record),
            ))
        return tuple(views)

    def listings(self, state: CaseState) -> tuple[ListingView, ...]:
        """The newest list first, within a budget of items for the whole card (Teams refuses cards over 28 KB)."""
        views = []
        budget = LISTED_TOTAL
        for kind, items in reversed(list(state.listings.items())):
            shown = items[:min(LISTED_PER_KIND, budget)]
            budget -= len(shown)
            specs = [spec for spec in item_actions(kind) if spec.name not in self._disabled]
            item_views = tuple(
                ItemView(
                    label=item.label, suspicious=item.suspicious,
                    buttons=tuple(
                        self._button(state, spec, spec.title, item.id,
                                     self._reason(state.case, spec))
                        for spec in specs
                    ),
                )
                for item in shown
            )
            # the choices the listed buttons read (remove_app: the consent or the whole app)
            inputs: tuple[Element, ...] = tuple(drawn for spec in specs for card_input in spec.inputs
                                                for drawn in card_inputs.draw(card_input)) if shown else ()
            title = LISTING_TITLES.get(kind, kind)
            if len(shown) < len(items):
                title += (f" (the first {len(shown)} of {len(items)}, suspicious first)" if shown else
                          f" ({len(items)}: list them again to see them here)")
            views.append(ListingView(title, item_views, inputs))
        return tuple(views)

    def inputs(self, state: CaseState) -> tuple[Element, ...]:
        """The choices of the card's own buttons (block_user's steps), while they can still be clicked."""
        drawn: list[Element] = []
        for name in state.case.offered:
            spec = ACTIONS.get(name)
            if spec is None or not spec.inputs or spec.item_kind or name in self._disabled:
                continue
            record = state.records.get(record_key(spec.name))
            if (record and record.state in BUSY_STATES) or self._reason(state.case, spec):
                continue
            drawn.extend(part for card_input in spec.inputs
                         for part in card_inputs.draw(card_input,
                                                      leave_out=self._disabled if card_input.chooses_steps else ()))
        return tuple(drawn)

    def view(self, state: CaseState, notice: str = "", notice_style: str = "attention", secret: str = "",
             notice_link: Link | None = None) -> AlertView:
        state = replace(state, records={key: _settle_abandoned(record) for key, record in state.records.items()})
        case = state.case
        return AlertView(
            case_id=case.id, alert=case.alert, target=case.target, target_problem=case.target_problem,
            recommended=self.recommendation(case).advice,
            buttons=self.main_buttons(state), statuses=self.statuses(state), listings=self.listings(state),
            inputs=() if case.closed else self.inputs(state), notice=notice or case.closed or case.automation,
            notice_style=ContainerStyle(notice_style if notice else "default"), notice_link=notice_link, secret=secret,
            grouped=state.grouped, grouped_count=state.grouped_count,
            watch=watch_view(state.watch, case.id, case.nonce, self._signer),
        )
