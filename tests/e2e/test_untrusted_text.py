"""Attacker-written text (alert title, description, evidence names, display names) reaches the SOC channel as
plain text: in the card the sandbox channel received over HTTP, none of it is markdown Teams would turn into a
link."""

from __future__ import annotations

import json

from sandbox.card_markdown import literal_texts, markdown_links, markdown_texts
from tests.conftest import RunningBot
from tests.e2e.helpers import ALICE, SAMPLE_ALERT, card_of, channel, posted_card, tenant

EVIL = "[open the incident portal](https://evil.example)"


async def test_markdown_links_in_an_alert_reach_the_channel_as_plain_text(bot: RunningBot) -> None:
    tenant(bot).users[ALICE]["displayName"] = f"Alice {EVIL}"  # display names are the user's to choose
    alert = {**SAMPLE_ALERT, "id": "evil-links", "title": EVIL, "description": f"Click {EVIL} to triage.",
             "evidence": [{"kind": "inbox_rule", "id": "AQAAAJ5dZqA=", "name": EVIL},
                          {"kind": "app", "id": "app-1", "name": f"**{EVIL}**"}]}

    _, root = await posted_card(bot, alert)

    # The card exactly as the bot sent it over HTTP (a new thread: POST /v3/conversations with the activity).
    [posted] = [r for r in channel(bot).received
                if r["method"] == "POST" and r["path"] == "/v3/conversations" and "evil.example" in json.dumps(r)]
    card = card_of(posted["body"]["activity"])
    assert card == card_of(root)
    assert markdown_links(card) == [] and markdown_texts(card) == []
    shown = literal_texts(card)
    assert any(EVIL in text for text in shown if "HIGH" in text), "the title is shown, literally"
    assert f"Click {EVIL} to triage." in shown
    assert any(f"Alice {EVIL}" in text for text in shown)
