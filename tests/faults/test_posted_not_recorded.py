"""The bot process killed (SIGKILL) after Teams accepted a case's new thread but before the bot recorded the new
message's id: the sandbox channel keeps the card and holds its answer, and the bot dies meanwhile. Another process
takes the posting job over and, with nothing recorded, posts again: the alert is not lost, the case ends with a
live card, and there is exactly one duplicate, whose buttons work on the case but which Riposte, never having
heard its id, cannot update. Production code path: `python app.py` subprocesses, msal against the sandbox's
authority, real Redis."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.helpers import RESPONDER, SAMPLE_ALERT, buttons, card_of, card_text, wait_until
from tests.e2e.processes import World
from tests.faults.test_crashes import (
    FAST_TAKEOVER,
    NEW_THREAD,
    case_threads,
    drained,
    killed,
    post_attempts,
    send_alert,
)

HOLD_SECONDS = 10.0  # the channel's answer to the first post waits this long; the bot is killed well within it


def revoke_requests(world: World) -> int:
    return sum(1 for r in world.tenant_state.requests
               if r.method == "POST" and r.path.endswith("/revokeSignInSessions"))


async def click(world: World, thread: dict[str, Any], verb: str) -> tuple[int, Any]:
    data = buttons(card_of(world.channel_state.find_activity(thread["root"]["id"])))[verb]["data"]
    return await world.channel_state.send_invoke(RESPONDER, thread["id"], thread["root"]["id"], verb, data)


def root_text(world: World, thread: dict[str, Any]) -> str:
    """What everyone in the channel sees on the thread's root card (not a clicker's own answer)."""
    return card_text(card_of(world.channel_state.find_activity(thread["root"]["id"])))


@pytest.mark.timeout(120)
async def test_killed_after_teams_accepted_the_post_before_it_was_recorded_leaves_one_live_duplicate(
    world: World,
) -> None:
    world.channel_state.add_fault("POST", NEW_THREAD, status=0, hold=HOLD_SECONDS)  # stored, answer held
    first = await world.start_bot(**FAST_TAKEOVER)
    accepted = await send_alert(first, SAMPLE_ALERT)
    case_id = accepted["case_id"]
    await wait_until(lambda: case_threads(world, case_id), what="Teams to have stored the first card")
    assert post_attempts(world) == 1
    await killed(first)  # the card is in the channel; the bot never heard its id

    second = await world.start_bot(**FAST_TAKEOVER)
    world.channel_state.bot_base_url = second.url  # clicks go to the live process
    threads = await wait_until(lambda: len(case_threads(world, case_id)) == 2 and case_threads(world, case_id),
                               seconds=60, what="the posting job, taken over, to post the case again")
    await drained(second)
    assert len(case_threads(world, case_id)) == 2, "more than one duplicate"
    assert post_attempts(world) == 2
    orphan, kept = threads  # in the order Teams created them
    assert "Alice Target" in root_text(world, orphan) and "Alice Target" in root_text(world, kept)

    # The resend of the alert names the same case and posts nothing more.
    again = await send_alert(second, SAMPLE_ALERT)
    assert again == {"case_id": case_id, "status": "duplicate"}
    await drained(second)
    assert len(case_threads(world, case_id)) == 2

    # The duplicate's buttons are live: a click on it is checked and run against the case, and its answer shows
    # the clicker the case as it stands; the outcome goes to the case's card (the second), which Riposte updates.
    before = root_text(world, orphan)
    status, answer = await click(world, orphan, "revoke_sessions")
    assert status == 200 and "Revoke sessions" in card_text(answer["value"])
    await wait_until(lambda: "Revoke sessions: done by Rita Responder" in root_text(world, kept),
                     what="the case's card to show the outcome")
    # Either card's button acts on the same case: its claims hold, so the action does not run twice.
    status, answer = await click(world, kept, "revoke_sessions")
    assert status == 200 and "already" in card_text(answer["value"])
    await drained(second)
    assert revoke_requests(world) == 1, "the action ran twice"
    # What Riposte cannot do: update the duplicate, whose id it never heard. Everyone else sees it as first posted.
    assert root_text(world, orphan) == before
    assert len(case_threads(world, case_id)) == 2
