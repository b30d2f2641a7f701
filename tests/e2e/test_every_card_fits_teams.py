"""Every card Riposte sends fits what Teams shows: at most six actions per `actions` array or ActionSet (from the
seventh on they go to an overflow some clients do not show), at most 28 KB, and valid against the Adaptive Cards
1.5 schema (tests/card_schema.py). Checked on every card the sandbox channel received during a full flow (posts,
updates, approval requests, case notes) and every card a click was answered with."""

from __future__ import annotations

import json
from typing import Any

from tests.card_schema import schema_errors
from tests.conftest import RunningBot
from tests.e2e.card_clicks import RULE_FORWARDS, CaseThread
from tests.e2e.helpers import channel

VISIBLE = 6
TEAMS_CARD_LIMIT = 28 * 1024


def cards_in(node: Any) -> list[dict[str, Any]]:
    """The top-level Adaptive Cards anywhere in a connector request body (attachments, a new conversation's
    activity) or an invoke answer."""
    if isinstance(node, dict):
        if node.get("type") == "AdaptiveCard":
            return [node]
        return [card for value in node.values() for card in cards_in(value)]
    if isinstance(node, list):
        return [card for value in node for card in cards_in(value)]
    return []


def overfull(node: Any, where: str = "card") -> list[str]:
    """Every `actions` list (a card's, an ActionSet's, a ShowCard's inner card's) holding more than six."""
    found: list[str] = []
    if isinstance(node, dict):
        actions = node.get("actions")
        if isinstance(actions, list) and len(actions) > VISIBLE:
            found.append(f"{where}: {len(actions)} actions ({[a.get('title') for a in actions]})")
        for key, value in node.items():
            if key != "fallback":
                found.extend(overfull(value, f"{where}.{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(overfull(value, f"{where}[{index}]"))
    return found


async def test_every_card_of_a_full_flow_shows_at_most_six_actions_per_set(bot: RunningBot) -> None:
    thread = await CaseThread.open(bot)
    answers = [await thread.click("list_inbox_rules")]
    await thread.wait_for("Show inbox rules: done by")
    await thread.run("disable_inbox_rule", RULE_FORWARDS, done="Disable rule “.”: done by")
    answers.append(await thread.click("remove_app"))  # the consented apps listing, with its mode choice
    await thread.run("reset_password", done="Reset password: done by", approval=True)  # an approval card
    await thread.run("block_user", done="Block user: done by")  # status blocks with their undo buttons
    await thread.run("enable_account", done="Re-enable account: done by")

    received = channel(bot).received
    cards = cards_in([request["body"] for request in received]) + cards_in(answers)
    assert len(cards) >= 10, f"only {len(cards)} cards seen"
    problems = [problem for index, card in enumerate(cards) for problem in overfull(card, f"card {index}")]
    assert not problems, problems
    sizes = [len(json.dumps(card).encode()) for card in cards]
    assert max(sizes) < TEAMS_CARD_LIMIT
    assert any(action.get("title") == "More actions" for card in cards for action in card.get("actions", []))
    invalid = {index: errors for index, card in enumerate(cards) if (errors := schema_errors(card))}
    assert not invalid, invalid
