"""From a case and its records to what its card shows (the pure card builders do the layout)."""

from __future__ import annotations

from actions import ACTIONS
from actions.runner import Actor, Refused
from bot.authz import check_protected
from bot.cards.alert_card import ActionStatus, AlertView
from bot.cases import ActionRecord, Case
from bot.signing import ButtonSigner

NOBODY = Actor(id="", name="")


def not_applicable_reasons(case: Case, protected_users: list[str]) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for name in case.offered:
        spec = ACTIONS[name]
        if case.target is None:
            reasons[name] = f"the user could not be resolved: {case.target_problem}"
            continue
        try:
            check_protected(NOBODY, case.target, protected_users)
        except Refused as refusal:
            reasons[name] = str(refusal)
            continue
        reason = spec.not_applicable(case.target)
        if reason:
            reasons[name] = reason
    return reasons


def case_view(
    case: Case,
    records: dict[str, ActionRecord],
    protected_users: list[str],
    signer: ButtonSigner,
    notice: str = "",
    notice_style: str = "attention",
) -> AlertView:
    statuses = tuple(
        ActionStatus(
            action=record.action, state=record.state, actor_name=record.actor_name, started_at=record.started_at,
            finished_at=record.finished_at, summary=record.summary, reversal=record.reversal,
            request_id=record.request_id,
        )
        for record in sorted(records.values(), key=lambda record: record.started_at)
    )
    return AlertView(
        case_id=case.id, nonce=case.nonce, alert=case.alert, target=case.target, target_problem=case.target_problem,
        offered=tuple(ACTIONS[name] for name in case.offered),
        not_applicable=not_applicable_reasons(case, protected_users),
        statuses=statuses, notice=notice, notice_style=notice_style,
        button_data={name: signer.data(case.id, name, case.nonce) for name in case.offered},
    )
