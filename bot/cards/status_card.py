"""`status <user>` for a user who already has a case: the case's containment (as its card shows it, without the
Release button, which acts on the case card), what was done, and a link to the case's thread. Pure."""

from __future__ import annotations

import dataclasses

from adaptive_cards.types import FontSize, FontWeight, Spacing

from bot.cards.elements import Card, Element, card, container, open_url, text, when
from bot.cards.watch_block import WatchView, watch_block


def user_status_card(user_label: str, case_id: str, opened_at: str, alert_title: str, watch: WatchView | None,
                     done: list[str], thread_link: str) -> Card:
    """`done`: one line per action on the case; `thread_link`: "" while the case card is not posted."""
    body: list[Element] = [
        text(f"Status of {user_label}: case {case_id}", weight=FontWeight.BOLDER, size=FontSize.MEDIUM),
        text(f"Opened {when(opened_at)} by “{alert_title}”.", subtle=True, spacing=Spacing.NONE),
    ]
    if watch is not None:
        body.append(watch_block(dataclasses.replace(watch, release=None)))
    else:
        body.append(container([text("Containment: no containment action on this case yet",
                                    weight=FontWeight.BOLDER)]))
    if done:
        body.append(text("Done on this case:", weight=FontWeight.BOLDER))
        body.extend(text(line, spacing=Spacing.NONE) for line in done)
    body.append(text("The case card, with its buttons, is in the case's thread" + ("." if thread_link else
                     " (not posted yet)."), subtle=True))
    return card(body, [open_url("Open the case's thread", thread_link)] if thread_link else None)
