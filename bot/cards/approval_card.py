"""The approval card posted in the case thread: what is asked, by whom, on whom, until when; Approve / Reject."""

from __future__ import annotations

from dataclasses import dataclass

from adaptive_cards import card as ac
from adaptive_cards.types import ActionStyle, ContainerStyle, FontSize, FontWeight

from bot.cards.alert_card import secret_block
from bot.cards.elements import (
    Action,
    Card,
    Element,
    Link,
    card,
    container,
    execute,
    facts,
    notice_block,
    text,
    when,
)

STATE_LINE = {
    "pending": ("Waiting for an approver. The requester cannot approve their own request.", ContainerStyle.EMPHASIS),
    "approved": ("Approved", ContainerStyle.GOOD),
    "rejected": ("Rejected", ContainerStyle.ATTENTION),
    "expired": ("Expired: nobody approved in time, so nothing ran. Click the action again to ask anew.",
                ContainerStyle.WARNING),
}


@dataclass(frozen=True)
class ApprovalView:
    action_title: str
    target_label: str
    item_label: str
    reversible: bool
    reversal: str
    requester_name: str
    requested_at: str
    expires_at: str
    state: str
    approve_data: dict[str, str]
    reject_data: dict[str, str]
    who_may_approve: str
    decided_by: str = ""
    decided_at: str = ""
    reason: str = ""
    outcome: str = ""
    notice: str = ""
    notice_link: Link | None = None  # a button to where the notice says to go (the admin consent page)
    choice: str = ""  # what the requester chose on the card (remove_app's mode, block_user's steps)
    secret: str = ""  # a temporary password: only in the approving clicker's own copy of the card
    entra_roles: str = ""  # delegated mode: the Entra role Graph requires of the approver, whose token runs it


def approval_card(view: ApprovalView) -> Card:
    what = view.action_title + (f" “{view.item_label}”" if view.item_label else "")
    line, style = STATE_LINE.get(view.state, (view.state, ContainerStyle.DEFAULT))
    if view.state in ("approved", "rejected"):
        line = f"{line} by {view.decided_by} at {when(view.decided_at)}"
        if view.reason:
            line += f": {view.reason}"
    body: list[Element] = []
    if view.secret:
        body.append(secret_block(view.secret))
    if view.notice:
        body.append(notice_block(view.notice, ContainerStyle.ATTENTION, view.notice_link))
    body += [
        text(f"Approval needed: {what}", size=FontSize.MEDIUM, weight=FontWeight.BOLDER),
        facts([
            ("On", view.target_label),
            ("Choice", view.choice),
            ("Requested by", f"{view.requester_name} at {when(view.requested_at)}"),
            ("Reversible", "yes: " + view.reversal if view.reversible else "no: " + view.reversal),
            ("Expires", when(view.expires_at)),
            ("Who may approve", view.who_may_approve),
            ("Entra role needed", view.entra_roles),
        ]),
        container([text(line, weight=FontWeight.BOLDER)], style=style),
    ]
    if view.outcome:
        body.append(text(view.outcome))
    actions: list[Action] | None = None
    if view.state == "pending":
        body.append(ac.InputText(id="reason", label="Reason (required to reject)", placeholder="Why reject?",
                                 max_length=500))
        actions = [
            execute("Approve", "approve", view.approve_data, style=ActionStyle.POSITIVE),
            execute("Reject", "reject", view.reject_data, style=ActionStyle.DESTRUCTIVE),
        ]
    return card(body, actions)
