"""The alert card: who, what, when, severity, evidence, what has been done, and the remediation buttons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from actions.spec import ActionSpec, TargetUser
from bot.alerts import Alert
from bot.cards.elements import Card, card, container, execute, facts, text, when

SEVERITY_STYLE = {"critical": "attention", "high": "attention", "medium": "warning", "low": "accent",
                  "informational": "default"}
STATE_ICON = {"running": "⏳", "done": "✅", "failed": "❌", "interrupted": "⚠️"}


@dataclass(frozen=True)
class ActionStatus:
    """What the card says about one action on this case (from the case's records)."""

    action: str
    state: str
    actor_name: str
    started_at: str
    finished_at: str = ""
    summary: str = ""
    reversal: str = ""
    request_id: str = ""


@dataclass(frozen=True)
class AlertView:
    case_id: str
    nonce: str
    alert: Alert
    target: TargetUser | None
    target_problem: str
    offered: tuple[ActionSpec, ...]
    not_applicable: Mapping[str, str]  # action name → reason it is greyed out
    button_data: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # verb → signed reference
    statuses: tuple[ActionStatus, ...] = ()
    notice: str = ""  # shown on top, e.g. a refusal, to the person who clicked
    notice_style: str = "attention"


def _target_facts(view: AlertView) -> list[tuple[str, str]]:
    target = view.target
    if target is None:
        return [("User", f"{view.alert.user} (not resolved: {view.target_problem})")]
    pairs = [
        ("User", target.label),
        ("Account", "enabled" if target.account_enabled else "disabled"),
        ("Type", "guest" if target.is_guest else ("synced from on-premises" if target.on_premises_sync else "cloud")),
    ]
    if target.admin_roles:
        pairs.append(("Admin roles", f"{', '.join(target.admin_roles)}: acting needs the admin_responder role"))
    return pairs


def _evidence(alert: Alert) -> list[dict[str, object]]:
    if not alert.evidence:
        return []
    pairs = [(item.kind.replace("_", " "), f"{item.name} ({item.id})" if item.name else item.id)
             for item in alert.evidence]
    return [text("Evidence", weight="Bolder", spacing="Medium"), facts(pairs)]


def _status_block(status: ActionStatus, title: str) -> dict[str, object]:
    icon = STATE_ICON.get(status.state, "•")
    if status.state == "running":
        headline = f"{icon} {title}: working… (started by {status.actor_name} at {when(status.started_at)})"
        return container([text(headline, weight="Bolder")], style="emphasis")
    verb = {"done": "done", "failed": "failed", "interrupted": "interrupted"}.get(status.state, status.state)
    headline = f"{icon} {title}: {verb} by {status.actor_name} at {when(status.finished_at or status.started_at)}"
    items: list[dict[str, object]] = [text(headline, weight="Bolder"), text(status.summary)]
    if status.state == "done" and status.reversal:
        items.append(text(f"To reverse: {status.reversal}", isSubtle=True))
    if status.request_id:
        items.append(text(f"Graph request id: {status.request_id}", isSubtle=True, size="Small"))
    style = {"done": "good", "failed": "attention", "interrupted": "warning"}.get(status.state)
    return container(items, style=style)


def _buttons(view: AlertView, busy: set[str]) -> list[dict[str, object]]:
    buttons: list[dict[str, object]] = []
    for spec in view.offered:
        reason = view.not_applicable.get(spec.name, "")
        if spec.name in busy:
            reason = reason or "already done on this case"
        style = "destructive" if spec.destructive else ""
        tooltip = reason or f"{spec.description}. {spec.reversal}"
        data = dict(view.button_data.get(spec.name, {}))
        buttons.append(execute(spec.title, spec.name, data, enabled=not reason, tooltip=tooltip, style=style))
    return buttons


def alert_card(view: AlertView) -> Card:
    alert = view.alert
    titles = {spec.name: spec.title for spec in view.offered}
    header = container(
        [
            text(f"{alert.severity.upper()} · {alert.title}", size="Large", weight="Bolder"),
            text(f"{alert.source} · detected {when(alert.detected_at)}" if alert.detected_at else alert.source,
                 isSubtle=True, spacing="None"),
        ],
        style=SEVERITY_STYLE.get(alert.severity, "default"),
    )
    body: list[dict[str, object]] = []
    if view.notice:
        body.append(container([text(view.notice, weight="Bolder")], style=view.notice_style))
    body.append(header)
    body.append(facts([*_target_facts(view), ("Category", alert.category), ("Confidence", alert.confidence),
                       ("Case", view.case_id)]))
    if alert.description:
        body.append(text(alert.description))
    body.extend(_evidence(alert))
    body.extend(_status_block(status, titles.get(status.action, status.action)) for status in view.statuses)
    busy = {status.action for status in view.statuses if status.state in ("running", "done")}
    return card(body, _buttons(view, busy) or None)


def message_card(message: str, style: str = "default") -> Card:
    """A one-message card, for answers that are not about a case."""
    return card([container([text(message, weight="Bolder")], style=style)])
