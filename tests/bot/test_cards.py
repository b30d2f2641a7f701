"""Card builders are pure: the JSON they produce is compared with a stored expectation, checked against the
Adaptive Card 1.5 schema (what Teams renders; tests/card_schema.py) and kept under Teams' 28 KB card limit.

Regenerate the expectations after an intended change: UPDATE_CARD_SNAPSHOTS=1 pytest tests/bot/test_cards.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from actions import ACTIONS
from actions.spec import Item, TargetUser
from bot.access.signing import ButtonSigner
from bot.cards.alert_card import alert_card, grouped_alert_card, message_card
from bot.cards.approval_card import ApprovalView, approval_card
from bot.cards.audit_card import audit_card
from bot.cards.views import CardPainter, CaseState
from bot.intake.alerts import Alert, Evidence
from bot.state.cases import ActionRecord, Case
from sandbox.card_markdown import literal_texts, markdown_texts
from tests.card_schema import schema_errors
from tests.e2e.helpers import card_text, execute_buttons

EXPECTED = Path(__file__).with_name("expected")
TEAMS_CARD_LIMIT = 28 * 1024
ALICE = TargetUser(id="1a000000-0000-4000-8000-000000000004", upn="alice@contoso.com", display_name="Alice Target",
                   account_enabled=True, mail="alice@contoso.com")
ALERT = Alert(id="a1", source="defender", title="Suspicious inbox forwarding rule", severity="high",
              user="alice@contoso.com", detected_at="2026-11-21T10:15:00Z", description="Forwards invoices out.",
              category="InitialAccess", confidence="high",
              evidence=(Evidence("inbox_rule", "AQAAAJ5dZqA=", "."), Evidence("ip", "203.0.113.7")))
PAINTER = CardPainter(ButtonSigner(b"test-key"), ["breakglass@contoso.onmicrosoft.com"])


def case(**changes: Any) -> Case:
    fields: dict[str, Any] = {"id": "20261121-0000abcd", "alert": ALERT, "nonce": "nonce",
                              "created_at": "2026-11-21T10:16:00+00:00", "target": ALICE, "offered": tuple(ACTIONS)}
    return Case(**{**fields, **changes})


DONE = ActionRecord(action="disable_account", state="done", actor_id="r", actor_name="Rita Responder",
                    started_at="2026-11-21T10:20:00+00:00", finished_at="2026-11-21T10:20:01+00:00",
                    summary="Disabled Alice Target (alice@contoso.com).", reversal="Re-enable with the button.",
                    request_id="req-1")
RULES = [Item("inbox_rule", "AQAAAJ5dZqA=", ".", "forwards to invoices@evil.example"),
         Item("inbox_rule", "AQAAAJ5dZqC=", "Newsletters")]

CARDS: dict[str, Any] = {
    "alert_new": lambda: alert_card(PAINTER.view(CaseState(case(), {}))),
    "alert_disabled_with_rules": lambda: alert_card(PAINTER.view(CaseState(
        case(target=TargetUser(**{**ALICE.__dict__, "account_enabled": False})),
        {DONE.key: DONE}, {"inbox_rule": RULES}))),
    "alert_refused_notice": lambda: alert_card(PAINTER.view(CaseState(case(), {}), "⛔ Not done: needs a role")),
    "alert_unresolved_user": lambda: alert_card(PAINTER.view(CaseState(
        case(target=None, target_problem="no such user in this tenant"), {}))),
    "confirm_command": lambda: alert_card(PAINTER.view(CaseState(case(kind="command", offered=("revoke_sessions",)),
                                                                 {}))),
    "approval_pending": lambda: approval_card(ApprovalView(
        "Delete rule", "Alice Target (alice@contoso.com)", ".", True, "Restore rule", "Rita Responder",
        "2026-11-21T10:20:00+00:00", "2026-11-21T10:50:00+00:00", "pending", {"case": "c"}, {"case": "c"},
        "approvers")),
    "audit": lambda: audit_card("alice@contoso.com", [{"at": "2026-11-21T10:20:00+00:00", "phase": "intent",
                                                       "action": "disable_account", "actor_name": "Rita",
                                                       "actor_roles": "responder", "seq": "7"}],
                                "Audit chain holds: 7 entries checked (seq 1–7).", True,
                                older={"case": "audit", "nonce": "n", "sig": "s", "item": "{}"}),
}


@pytest.mark.parametrize("name", sorted(CARDS))
def test_card_matches_expectation_and_schema(name: str) -> None:
    card = json.loads(json.dumps(CARDS[name]()))
    path = EXPECTED / f"{name}.json"
    if os.environ.get("UPDATE_CARD_SNAPSHOTS"):
        path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert card == json.loads(path.read_text(encoding="utf-8")), f"{name} changed; see the module docstring"
    assert schema_errors(card) == []
    assert len(json.dumps(card).encode()) < TEAMS_CARD_LIMIT


def test_buttons_carry_only_a_signed_reference() -> None:
    card = CARDS["alert_disabled_with_rules"]()
    actions = execute_buttons(card)
    assert actions
    for action in actions:
        assert set(action["data"]) <= {"case", "nonce", "sig", "item"}, action
        assert "alice@contoso.com" not in json.dumps(action["data"])


def test_an_action_abandoned_by_a_dead_replica_shows_as_interrupted_and_can_run_again() -> None:
    running = ActionRecord(action="revoke_sessions", state="running", actor_id="r", actor_name="Rita Responder",
                           started_at="2026-01-01T00:00:00+00:00")
    view = PAINTER.view(CaseState(case(), {running.key: running}))
    assert [status.state for status in view.statuses] == ["interrupted"]
    revoke = next(button for button in view.buttons if button.verb == "revoke_sessions")
    assert revoke.enabled


def test_a_long_listing_stays_under_the_teams_card_limit() -> None:
    many = [Item("inbox_rule", f"rule-{index}", f"Rule number {index} " + "x" * 60, "forwards outside" * (index % 2))
            for index in range(200)]
    card = json.loads(json.dumps(alert_card(PAINTER.view(CaseState(case(), {}, {"inbox_rule": many})))))
    assert len(json.dumps(card).encode()) < TEAMS_CARD_LIMIT
    assert "Inbox rules (the first 11 of 200, suspicious first)" in json.dumps(card)
    assert schema_errors(card) == []


def test_every_list_open_at_once_still_fits_a_teams_card() -> None:
    kinds = ["inbox_rule", "app", "teams_app", "auth_method", "mailbox_permission", "transport_rule"]
    listings = {kind: [Item(kind, f"{kind}-{i}", f"Item {i} " + "x" * 40, "a reason") for i in range(12)]
                for kind in kinds}
    # with the alert source's own advice at its longest (cut on the card) and a Recommended block
    advised = Alert(**{**ALERT.__dict__, "recommended_actions": "Check the rule. " * 250})
    card = json.loads(json.dumps(alert_card(PAINTER.view(CaseState(case(alert=advised), {}, listings)))))
    assert "Recommended" in card_text(card) and "Check the rule." in card_text(card)
    assert len(json.dumps(card).encode()) < TEAMS_CARD_LIMIT
    text = json.dumps(card)
    assert "Transport rules (the first 12 of 12" not in text and "Item 0" in text
    assert "list them again to see them here" in text, "lists beyond the budget say how to see them"


# -- attacker-written text stays text ----------------------------------------------------------------------

EVIL = "[open the incident portal](https://evil.example)"
HOSTILE_ALERT = Alert(id="evil-1", source="defender", title=EVIL, severity="high", user="alice@contoso.com",
                      detected_at="2026-11-21T10:15:00Z", description=f"See {EVIL} **now**", category=EVIL,
                      confidence="high", evidence=(Evidence("inbox_rule", "r1", EVIL), Evidence("app", "a1", EVIL)))
HOSTILE_TARGET = TargetUser(**{**ALICE.__dict__, "display_name": EVIL})
HOSTILE_CARDS: dict[str, Any] = {
    "alert": lambda: alert_card(PAINTER.view(CaseState(
        case(alert=HOSTILE_ALERT, target=HOSTILE_TARGET),
        {DONE.key: DONE}, {"inbox_rule": [Item("inbox_rule", "r1", EVIL, f"forwards to {EVIL}")],
                           "app": [Item("app", "a1", EVIL)]}))),
    "grouped": lambda: grouped_alert_card(HOSTILE_ALERT),
    "approval": lambda: approval_card(ApprovalView(
        "Delete rule", HOSTILE_TARGET.label, EVIL, True, "Restore rule", EVIL, "2026-11-21T10:20:00+00:00",
        "2026-11-21T10:50:00+00:00", "rejected", {}, {}, "approvers", decided_by=EVIL, reason=EVIL)),
    "audit": lambda: audit_card(EVIL, [{"at": "2026-11-21T10:20:00+00:00", "phase": "intent", "action": "x",
                                        "actor_name": EVIL, "target_upn": EVIL, "detail": EVIL,
                                        "state_before": EVIL, "state_after": EVIL}], EVIL, False),
    "message": lambda: message_card(EVIL),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_CARDS))
def test_no_card_text_is_read_as_markdown_so_no_attacker_link_goes_live(name: str) -> None:
    card = HOSTILE_CARDS[name]()
    assert markdown_texts(card) == []  # no TextBlock text and no Fact: nothing on the card is markdown
    assert any(EVIL in shown for shown in literal_texts(card)), "the hostile text is shown, as it is"
    assert schema_errors(json.loads(json.dumps(card))) == []


@pytest.mark.parametrize("name", sorted(CARDS))
def test_every_stored_card_shows_its_text_literally(name: str) -> None:
    assert markdown_texts(CARDS[name]()) == []


def test_a_temporary_password_with_markdown_characters_is_shown_character_for_character() -> None:
    password = "Ab**cd__ef*g_h[i](j)`k"
    card = alert_card(PAINTER.view(CaseState(case(), {}), secret=password))
    assert password in literal_texts(card)
    assert not any(password in shown for shown in markdown_texts(card))
