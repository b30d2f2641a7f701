"""What a case card recommends first, by the kind of threat the alert shows, and how its buttons are laid out:
recommended first and emphasised, then Block user, at most six visible, greyed ones never among them, every
button reachable (the rest behind “More actions”); the mapping overridable in the policy TOML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actions.spec import TargetUser
from bot.access.policy import PolicyError, load_policy
from bot.access.signing import ButtonSigner
from bot.cards.alert_card import VISIBLE_ACTIONS, alert_card
from bot.cards.views import CardPainter, CaseState
from bot.intake.alerts import Alert, Evidence, parse_alert
from bot.intake.recommendations import DEFAULT_KINDS, recommend
from tests.bot.test_cards import ALICE, case
from tests.e2e.helpers import card_text, execute_buttons

PAINTER = CardPainter(ButtonSigner(b"test-key"), ["breakglass@contoso.onmicrosoft.com"])


def alert(title: str, category: str = "", evidence: tuple[Evidence, ...] = ()) -> Alert:
    return Alert(id="a1", source="defender", title=title, severity="high", user="alice@contoso.com",
                 category=category, evidence=evidence)


KINDS = {
    "forwarding rule": (alert("Suspicious inbox forwarding rule"),
                        ("list_inbox_rules", "remove_forwarding", "revoke_sessions")),
    "hiding rule (by evidence)": (alert("Unusual mailbox activity", evidence=(Evidence("inbox_rule", "r1"),)),
                                  ("list_inbox_rules", "remove_forwarding", "revoke_sessions")),
    "impossible travel": (alert("Impossible travel activity"),
                          ("revoke_sessions", "reset_password", "confirm_compromised")),
    "password spray": (alert("Password spray"), ("revoke_sessions", "reset_password", "confirm_compromised")),
    "risky sign-in (by category)": (alert("Anomalous token", category="CredentialAccess"),
                                    ("revoke_sessions", "reset_password", "confirm_compromised")),
    "consent phishing": (alert("Suspicious OAuth app consent"), ("remove_app", "revoke_sessions")),
    "OAuth app (by evidence)": (alert("Unusual activity", evidence=(Evidence("app", "x"),)),
                                ("remove_app", "revoke_sessions")),
    "attacker-added MFA method": (alert("New MFA method registered after a risky sign-in"),
                                 ("remove_auth_method", "revoke_sessions", "reset_password", "confirm_compromised")),
    "mailbox permission": (alert("Mailbox permission FullAccess added"), ("remove_mailbox_access",)),
}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_kind_of_threat_recommends_its_actions(name: str) -> None:
    threat, expected = KINDS[name]
    found = recommend(threat)
    assert found.actions == expected and found.advice
    card = alert_card(PAINTER.view(CaseState(case(alert=threat), {})))
    assert "Recommended" in card_text(card)
    visible = [action.get("verb") for action in card["actions"]]
    assert visible[:len(expected)] == list(expected), "recommended buttons come first"
    assert visible[len(expected)] == "block_user", "then Block user"
    for action in card["actions"][:len(expected)]:
        assert action["style"] in ("positive", "destructive")  # emphasised


def test_an_alert_matching_no_kind_has_no_recommendation_and_block_user_first() -> None:
    plain = alert("Unusual volume of file deletion", category="Impact")
    assert recommend(plain).actions == () and recommend(plain).advice == ()
    state = CaseState(case(alert=plain), {})
    card = alert_card(PAINTER.view(state))
    assert "Recommended" not in card_text(card)
    assert card["actions"][0]["verb"] == "block_user"
    reachable = [button["verb"] for button in execute_buttons(card["actions"])]
    assert sorted(reachable) == sorted(button.verb for button in PAINTER.main_buttons(state))
    assert {"revoke_sessions", "remove_app", "remove_transport_rule"} <= set(reachable)


def test_at_most_six_visible_and_greyed_ones_never_among_them() -> None:
    # Alice disabled: "Disable account" is greyed (already disabled); a guest greys the mailbox actions too.
    guest = TargetUser(**{**ALICE.__dict__, "account_enabled": False, "user_type": "Guest"})
    card = alert_card(PAINTER.view(CaseState(case(target=guest), {})))
    visible = card["actions"]
    assert len(visible) <= VISIBLE_ACTIONS
    assert all(action.get("isEnabled", True) for action in visible if action["type"] == "Action.Execute")
    assert visible[-1]["type"] == "Action.ShowCard" and visible[-1]["title"] == "More actions"
    inner = visible[-1]["card"]["body"]
    assert all(block["type"] == "ActionSet" and len(block["actions"]) <= VISIBLE_ACTIONS for block in inner)
    greyed = [button["verb"] for button in execute_buttons(inner) if button.get("isEnabled") is False]
    assert "disable_account" in greyed and "list_inbox_rules" in greyed


def test_graph_recommended_actions_are_shown() -> None:
    body: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.security.alert", "id": "g1", "title": "Password spray",
        "severity": "high", "detectionSource": "azureAdIdentityProtection", "category": "CredentialAccess",
        "recommendedActions": "1. Reset the user's password. 2. Review sign-ins.",
        "evidence": [{"@odata.type": "#microsoft.graph.security.userEvidence",
                      "userAccount": {"userPrincipalName": "alice@contoso.com"}}],
    }
    parsed = parse_alert(body)
    assert parsed.recommended_actions == "1. Reset the user's password. 2. Review sign-ins."
    text = card_text(alert_card(PAINTER.view(CaseState(case(alert=parsed), {}))))
    assert "What azureAdIdentityProtection recommends" in text and "2. Review sign-ins." in text
    native = parse_alert({"id": "n1", "title": "x", "severity": "low", "user": "alice@contoso.com"})
    assert native.recommended_actions == ""  # the native format works without it


def test_the_policy_toml_overrides_and_adds_kinds(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        '[recommendations.risky_sign_in]\nactions = ["revoke_sessions", "block_signin"]\n'
        '[recommendations.mailbox_permission]\nactions = []\n'
        '[recommendations.teams_app]\nadvice = "A sideloaded Teams app: remove it."\n'
        'actions = ["remove_teams_app"]\nkeywords = ["teams app"]\n', encoding="utf-8")
    kinds = load_policy(str(path)).recommendations
    assert recommend(alert("Impossible travel"), kinds).actions == ("revoke_sessions", "block_signin")
    assert recommend(alert("Mailbox permission FullAccess added"), kinds).actions == ()
    assert recommend(alert("Sideloaded Teams app installed"), kinds).advice == ("A sideloaded Teams app: remove it.",)
    painter = CardPainter(ButtonSigner(b"k"), [], kinds)
    card = alert_card(painter.view(CaseState(case(alert=alert("Impossible travel")), {})))
    assert [action.get("verb") for action in card["actions"][:3]] == ["revoke_sessions", "block_signin", "block_user"]
    assert load_policy("").recommendations == DEFAULT_KINDS


@pytest.mark.parametrize("toml, problem", [
    ('[recommendations.risky_sign_in]\nactions = ["nuke_tenant"]\n', "unknown action"),
    ('[recommendations.new_kind]\nactions = ["revoke_sessions"]\n', "needs advice, actions"),
    ('[recommendations.risky_sign_in]\ncolour = "red"\n', "may set only"),
])
def test_a_bad_recommendations_table_is_refused(tmp_path: Path, toml: str, problem: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(PolicyError, match=problem):
        load_policy(str(path))
