"""`enabled = false` per action in the policy file: read and checked at start-up, and a switched-off action has no
button anywhere on a card (main buttons, "More actions", undo buttons, per-item buttons, the bundle's steps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions import ACTIONS
from actions.spec import Item
from bot.access.enabled_actions import permissions
from bot.access.policy import PolicyError, default_policy, load_policy
from bot.access.signing import ButtonSigner
from bot.cards.alert_card import alert_card
from bot.cards.views import CardPainter, CaseState
from bot.state.cases import ActionRecord, record_key
from tests.bot.test_cards import DONE, case
from tests.bot.test_policy import policy_file
from tests.e2e.helpers import card_text, execute_buttons

EXCHANGE_OFF = '''
[actions.remove_forwarding]
enabled = false
[actions.restore_forwarding]
enabled = false
'''


def test_enabled_false_switches_an_action_off_and_says_where(tmp_path: Path) -> None:
    policy = load_policy(policy_file(tmp_path, EXCHANGE_OFF + '[actions.revoke_sessions]\nenabled = true\n'))
    assert policy.disabled == {"remove_forwarding", "restore_forwarding"}
    assert not policy.enabled("remove_forwarding") and policy.enabled("revoke_sessions")
    assert policy.why_disabled("revoke_sessions") is None
    assert policy.why_disabled("remove_forwarding") == (
        "Remove forwarding is switched off in this deployment (`enabled = false` under [actions.remove_forwarding] "
        "in the policy file): ask whoever runs Riposte.")
    assert default_policy().disabled == frozenset() and not default_policy().enabled("no_such_action")


@pytest.mark.parametrize(("toml", "problem"), [
    ('[actions.remove_forwarding]\nenabled = "no"\n', r"\[actions.remove_forwarding\] enabled must be true or false"),
    ('[actions.remove_forwarding]\nenable = false\n', r"may set only role, approval and enabled"),
    ('[actions.revoke_sessions]\nenabled = false\n\n[[automation.rules]]\nname = "travel"\n'
     'actions = ["revoke_sessions", "block_signin"]\n',
     r"\[\[automation.rules\]\] 'travel' runs revoke_sessions, which \[actions.revoke_sessions\] switches off"),
])
def test_a_bad_enabled_or_a_rule_running_a_switched_off_action_is_refused(
    tmp_path: Path, toml: str, problem: str
) -> None:
    with pytest.raises(PolicyError, match=problem):
        load_policy(policy_file(tmp_path, toml))


def test_a_switched_off_action_has_no_button_anywhere_on_the_card() -> None:
    off = frozenset({"enable_account", "remove_forwarding", "disable_inbox_rule", "remove_app"})
    painter = CardPainter(ButtonSigner(b"test-key"), [], disabled=off)
    rules = [Item("inbox_rule", "AQAAAJ5dZqA=", ".", "forwards to invoices@evil.example")]
    # The account disabled (its undo would be Re-enable account), the inbox rules listed.
    card = alert_card(painter.view(CaseState(case(), {DONE.key: DONE}, {"inbox_rule": rules})))
    verbs = {button["verb"] for button in execute_buttons(card)}
    assert not verbs & off, verbs & off
    assert {"revoke_sessions", "block_user", "delete_inbox_rule", "list_inbox_rules"} <= verbs
    assert "Consented apps…" not in card_text(card)  # its listing runs through remove_app
    # Block user's steps: the switched-off ones are not offered (and bot/run/execution.py leaves them out anyway).
    toggles = {node["id"] for node in _inputs(card)}
    assert toggles == {"step_disable_account", "step_revoke_sessions"}
    # The same card with everything on offers them all.
    everything = alert_card(CardPainter(ButtonSigner(b"test-key"), []).view(
        CaseState(case(), {DONE.key: DONE}, {"inbox_rule": rules})))
    assert off <= {button["verb"] for button in execute_buttons(everything)}


def test_a_bundle_step_undo_is_not_offered_when_the_undo_is_switched_off() -> None:
    bundle = ActionRecord(action="block_user", state="done", actor_id="r", actor_name="Rita Responder",
                          started_at="2026-11-21T10:20:00+00:00", finished_at="2026-11-21T10:20:05+00:00")
    state = CaseState(case(), {bundle.key: bundle}, saved_keys=frozenset({record_key("remove_forwarding")}))
    on = CardPainter(ButtonSigner(b"k"), []).view(state)
    off = CardPainter(ButtonSigner(b"k"), [], disabled=frozenset({"restore_forwarding"})).view(state)
    assert [b.verb for s in on.statuses for b in s.step_undos] == ["restore_forwarding"]
    assert [b.verb for s in off.statuses for b in s.step_undos] == []


def test_what_doctor_asks_for_leaves_out_switched_off_actions_and_bundle_steps(tmp_path: Path) -> None:
    needed = permissions(load_policy(policy_file(tmp_path, EXCHANGE_OFF)))
    assert "remove_forwarding" not in needed and "restore_forwarding" not in needed
    assert "Exchange" not in needed["block_user"]  # the bundle's forwarding step is off too
    assert needed["block_user"] == "; ".join(ACTIONS[step].permission for step in (
        "disable_account", "revoke_sessions", "disable_inbox_rule"))
    assert permissions(default_policy())["block_user"].count("Exchange.ManageAsApp") == 1


def _inputs(node: object) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith("Input."):
            found.append(node)
        for value in node.values():
            found += _inputs(value)
    elif isinstance(node, list):
        for value in node:
            found += _inputs(value)
    return found
