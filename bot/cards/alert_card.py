"""The case card: who, what, when, severity, evidence, what has been done (with undo), listed items with their
own buttons, and the remediation buttons. Pure: a view in, a card dict out."""

from __future__ import annotations

from dataclasses import dataclass, field

from adaptive_cards import card as ac
from adaptive_cards.types import ActionStyle, Colors, ContainerStyle, FontSize, FontType, FontWeight, Spacing

from actions.spec import TargetUser
from bot.cards.elements import (
    Action,
    Card,
    Element,
    Link,
    action_set,
    card,
    container,
    execute,
    facts,
    notice_block,
    paragraph,
    run,
    show_card,
    text,
    when,
)
from bot.cards.watch_block import WatchView, watch_block
from bot.intake.alerts import Alert

SEVERITY_STYLE = {"critical": ContainerStyle.ATTENTION, "high": ContainerStyle.ATTENTION,
                  "medium": ContainerStyle.WARNING, "low": ContainerStyle.ACCENT,
                  "informational": ContainerStyle.DEFAULT}
STATE_ICON = {"running": "⏳", "done": "✅", "failed": "❌", "interrupted": "⚠️", "pending": "🕒",
              "rejected": "🚫", "expired": "⌛", "reversed": "↩️"}
STATE_WORD = {"done": "done", "failed": "failed", "interrupted": "interrupted", "pending": "waiting for approval",
              "rejected": "rejected", "expired": "approval expired", "reversed": "done (reversed since)"}
# Teams shows at most this many actions of an `actions` array or an ActionSet; the rest go to an overflow menu
# some clients do not show. A greyed-out action still takes a slot.
VISIBLE_ACTIONS = 6
SOURCE_ADVICE_CHARS = 600  # the alert source's own advice, cut to keep the card under 28 KB
STATE_STYLE = {"done": ContainerStyle.GOOD, "failed": ContainerStyle.ATTENTION, "interrupted": ContainerStyle.WARNING,
               "pending": ContainerStyle.EMPHASIS, "rejected": ContainerStyle.ATTENTION,
               "expired": ContainerStyle.WARNING}


@dataclass(frozen=True)
class Button:
    title: str
    verb: str
    data: dict[str, str]
    enabled: bool = True
    tooltip: str = ""
    style: ActionStyle | None = None

    def render(self) -> ac.ActionExecute:
        return execute(self.title, self.verb, self.data, enabled=self.enabled, tooltip=self.tooltip,
                       style=self.style)


@dataclass(frozen=True)
class StatusView:
    """What the card says about one action (on one item) on this case."""

    title: str
    state: str
    actor_name: str
    started_at: str
    finished_at: str = ""
    summary: str = ""
    reversal: str = ""
    request_id: str = ""
    approved_by: str = ""
    steps: tuple[str, ...] = ()
    undo: Button | None = None
    step_undos: tuple[Button, ...] = ()  # a bundle's per-step undos (block_user: “Restore forwarding”)
    verification: str = ""  # what the read-back after the run showed
    verified: bool = True
    signed_in: str = ""  # delegated mode: whose own Entra rights ran it


@dataclass(frozen=True)
class ItemView:
    label: str
    suspicious: str
    buttons: tuple[Button, ...]


@dataclass(frozen=True)
class ListingView:
    title: str
    items: tuple[ItemView, ...]
    inputs: tuple[Element, ...] = ()  # choices that apply to this list's buttons (remove_app's mode)
    empty: str = "none found"


@dataclass(frozen=True)
class AlertView:
    case_id: str
    alert: Alert
    target: TargetUser | None
    target_problem: str
    buttons: tuple[Button, ...]
    statuses: tuple[StatusView, ...] = ()
    listings: tuple[ListingView, ...] = ()
    inputs: tuple[Element, ...] = ()  # e.g. block_user's step checkboxes
    notice: str = ""  # shown on top, e.g. a refusal, to the person who clicked
    notice_style: ContainerStyle = ContainerStyle.ATTENTION
    notice_link: Link | None = None  # a button to where the notice says to go (the admin consent page)
    secret: str = ""  # a temporary password: only ever in the clicker's own copy of the card
    extra: tuple[Element, ...] = field(default_factory=tuple)
    grouped: tuple[Alert, ...] = ()  # the latest alerts that joined this case
    grouped_count: int = 0
    recommended: tuple[str, ...] = ()  # plain-language advice, one line per kind of threat the alert matches
    watch: WatchView | None = None  # containment at a glance, while (and after) the user is watched


def _target_facts(view: AlertView) -> list[tuple[str, str]]:
    target = view.target
    if target is None:
        return [("User", f"{view.alert.user} (not resolved: {view.target_problem})")]
    synced = "synced from on-premises (directory sync may re-enable a disabled account: Block sign-in holds)"
    kind = "guest" if target.is_guest else (synced if target.on_premises_sync else "cloud")
    pairs = [
        ("User", target.label),
        ("Account", "enabled" if target.account_enabled else "disabled"),
        ("Type", kind + ("" if target.has_mailbox else ", no mailbox")),
    ]
    if target.is_admin:
        pairs.append(("Admin roles", f"{target.privilege}: acting needs the admin_responder role"))
    return pairs


# Teams refuses cards over ~28 KB: a long alert is cut here (the whole alert is kept with the case, and `status`
# and `audit` show it), so that with every listing open the card still fits.
MAX_TITLE = 200
MAX_DESCRIPTION = 600
MAX_EVIDENCE_TEXT = 120
MAX_EVIDENCE = 8
GROUPED_SHOWN = 3


def shorten(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def _evidence(alert: Alert) -> list[Element]:
    if not alert.evidence:
        return []
    pairs = [(item.kind.replace("_", " "),
              shorten(f"{item.name} ({item.id})" if item.name else item.id, MAX_EVIDENCE_TEXT))
             for item in alert.evidence[:MAX_EVIDENCE]]
    more = len(alert.evidence) - MAX_EVIDENCE
    if more > 0:
        pairs.append(("", f"and {more} more (type `status {alert.user}` to see them all)"))
    return [text("Evidence", weight=FontWeight.BOLDER, spacing=Spacing.MEDIUM), facts(pairs)]


def _grouped(view: AlertView) -> list[Element]:
    """Later alerts about the same user joined this case (one thread per user in a storm): count and latest few."""
    if not view.grouped_count:
        return []
    lines: list[Element] = [text(f"{view.grouped_count} more alert(s) about this user joined this case",
                                 weight=FontWeight.BOLDER, spacing=Spacing.MEDIUM)]
    for alert in view.grouped[-GROUPED_SHOWN:][::-1]:
        seen = f" · detected {when(alert.detected_at)}" if alert.detected_at else ""
        lines.append(text(shorten(f"{alert.severity.upper()} · {alert.title} ({alert.source}{seen})", MAX_TITLE),
                          spacing=Spacing.NONE))
    return [container(lines, style=ContainerStyle.WARNING)]


def _status_block(status: StatusView) -> ac.Container:
    icon = STATE_ICON.get(status.state, "•")
    if status.state == "running":
        headline = f"{icon} {status.title}: working… (started by {status.actor_name} at {when(status.started_at)})"
        return container([text(headline, weight=FontWeight.BOLDER)], style=ContainerStyle.EMPHASIS)
    moment = when(status.finished_at or status.started_at)
    word = STATE_WORD.get(status.state, status.state)
    headline = f"{icon} {status.title}: {word} by {status.actor_name} at {moment}"
    if status.state == "pending":
        headline = f"{icon} {status.title}: requested by {status.actor_name} at {moment}, waiting for approval"
    items: list[Element] = [text(headline, weight=FontWeight.BOLDER)]
    if status.approved_by:
        items.append(text(f"Approved by {status.approved_by}.", subtle=True))
    if status.signed_in:
        items.append(text(f"Run with {status.signed_in}'s own Entra rights (signed in).", subtle=True))
    if status.summary:
        items.append(text(status.summary))
    items.extend(text(f"• {line}", spacing=Spacing.NONE) for line in status.steps)
    if status.verification:
        icon = "" if status.verified else "⚠️ "
        items.append(text(f"{icon}{status.verification}",
                          weight=FontWeight.DEFAULT if status.verified else FontWeight.BOLDER,
                          color=Colors.GOOD if status.verified else Colors.WARNING))
    if status.state == "done" and status.reversal:
        items.append(text(f"To reverse: {status.reversal}", subtle=True))
    if status.request_id:
        items.append(text(f"Request id: {status.request_id}", subtle=True, size=FontSize.SMALL))
    undos = ([status.undo] if status.undo else []) + list(status.step_undos)
    if undos:
        items.append(action_set([button.render() for button in undos]))
    # Accepted but not in place (or not readable): a warning, never the green of success.
    style = (ContainerStyle.WARNING if status.state == "done" and not status.verified
             else STATE_STYLE.get(status.state))
    return container(items, style=style)


def _listing_block(listing: ListingView) -> list[Element]:
    blocks: list[Element] = [text(listing.title, weight=FontWeight.BOLDER, spacing=Spacing.MEDIUM)]
    if not listing.items:
        blocks.append(text(listing.empty, subtle=True))
    for item in listing.items:
        # The reason in the same paragraph, a run of its own: a block per line would not fit 16 items in 28 KB.
        label = (paragraph([run(item.label, weight=FontWeight.BOLDER),
                            run(f" — Suspicious: {item.suspicious}", color=Colors.ATTENTION)])
                 if item.suspicious else text(item.label))
        lines: list[Element] = [label]
        if item.buttons:
            lines.append(action_set([button.render() for button in item.buttons]))
        blocks.append(container(lines, style=ContainerStyle.WARNING if item.suspicious else None))
    blocks.extend(listing.inputs)
    return blocks


def split_actions(buttons: tuple[Button, ...]) -> tuple[list[Button], list[Button]]:
    """(visible, more): all of them when they fit and none is greyed; else the first five that are clickable,
    with every other button (greyed ones included) behind “More actions”, which takes the sixth slot."""
    if len(buttons) <= VISIBLE_ACTIONS and all(button.enabled for button in buttons):
        return list(buttons), []
    shown = [index for index, button in enumerate(buttons) if button.enabled][:VISIBLE_ACTIONS - 1]
    return [buttons[i] for i in shown], [button for i, button in enumerate(buttons) if i not in shown]


def action_sets(buttons: list[Button]) -> list[Element]:
    """ActionSets of at most six buttons each."""
    return [action_set([button.render() for button in buttons[i:i + VISIBLE_ACTIONS]])
            for i in range(0, len(buttons), VISIBLE_ACTIONS)]


def card_actions(buttons: tuple[Button, ...]) -> list[Action]:
    visible, more = split_actions(buttons)
    actions: list[Action] = [button.render() for button in visible]
    if more:
        actions.append(show_card("More actions", action_sets(more)))
    return actions


def _advice_blocks(view: AlertView) -> list[Element]:
    blocks: list[Element] = []
    if view.recommended:
        blocks.append(container([text("Recommended", weight=FontWeight.BOLDER),
                                 *(text(line, spacing=Spacing.NONE) for line in view.recommended)],
                                style=ContainerStyle.ACCENT))
    source_advice = view.alert.recommended_actions.strip()
    if source_advice:
        if len(source_advice) > SOURCE_ADVICE_CHARS:
            source_advice = source_advice[:SOURCE_ADVICE_CHARS].rstrip() + "…"
        blocks.append(container([text(f"What {view.alert.source} recommends", weight=FontWeight.BOLDER),
                                 text(source_advice, spacing=Spacing.NONE)]))
    return blocks


def secret_block(secret: str) -> ac.Container:
    """A temporary password, for the clicker's own copy of a card only."""
    return container([
        text("Temporary password (shown once, only to you; it is not stored anywhere):", weight=FontWeight.BOLDER),
        text(secret, font_type=FontType.MONOSPACE, size=FontSize.LARGE),
        text("Give it to the user over a trusted channel; they must change it at next sign-in.", subtle=True),
    ], style=ContainerStyle.WARNING)


def alert_card(view: AlertView) -> Card:
    alert = view.alert
    header = container(
        [
            text(shorten(f"{alert.severity.upper()} · {alert.title}", MAX_TITLE), size=FontSize.LARGE,
                 weight=FontWeight.BOLDER),
            text(f"{alert.source} · detected {when(alert.detected_at)}" if alert.detected_at else alert.source,
                 subtle=True, spacing=Spacing.NONE),
        ],
        style=SEVERITY_STYLE.get(alert.severity, ContainerStyle.DEFAULT),
    )
    body: list[Element] = []
    if view.notice:
        body.append(notice_block(view.notice, view.notice_style, view.notice_link))
    if view.secret:
        body.append(secret_block(view.secret))
    body.append(header)
    body.extend(_advice_blocks(view))
    body.append(facts([*_target_facts(view), ("Category", alert.category), ("Confidence", alert.confidence),
                       ("Case", view.case_id)]))
    if view.watch is not None:
        body.append(watch_block(view.watch))
    if alert.description:
        body.append(text(shorten(alert.description, MAX_DESCRIPTION)))
    body.extend(_evidence(alert))
    body.extend(_grouped(view))
    body.extend(_status_block(status) for status in view.statuses)
    for listing in view.listings:
        body.extend(_listing_block(listing))
    body.extend(view.inputs)
    body.extend(view.extra)
    return card(body, card_actions(view.buttons) or None)


def grouped_alert_card(alert: Alert) -> Card:
    """A further alert about the same user, posted in the open case's thread."""
    when_seen = f" · detected {when(alert.detected_at)}" if alert.detected_at else ""
    body: list[Element] = [
        container([text(f"Another alert: {alert.severity.upper()} · {alert.title}", weight=FontWeight.BOLDER),
                   text(f"{alert.source}{when_seen}", subtle=True, spacing=Spacing.NONE)],
                  style=SEVERITY_STYLE.get(alert.severity, ContainerStyle.DEFAULT)),
        facts([("Category", alert.category), ("Confidence", alert.confidence), ("Source alert", alert.id)]),
    ]
    if alert.description:
        body.append(text(shorten(alert.description, MAX_DESCRIPTION)))
    body.extend(_evidence(alert))
    body.append(text("Act on the user with the buttons on the card at the top of this thread.", subtle=True))
    return card(body)


def message_card(message: str, style: ContainerStyle | str = ContainerStyle.DEFAULT) -> Card:
    """A one-message card, for answers that are not about a case. `style` may be given as its name
    ("attention"): ContainerStyle checks it here."""
    return card([container([text(message, weight=FontWeight.BOLDER)], style=ContainerStyle(style))])
