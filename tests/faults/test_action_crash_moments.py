"""The other two moments an action's process can die (test_action_crashes.py has the one during the Graph call):
after the audit intent, before the state-changing call went out; and after Graph answered, before the outcome was
recorded. Another process settles each by reading the tenant, with one audit ending and no second write.
Production code path: `python app.py` subprocesses, msal against the sandbox's authority, real Redis."""

from __future__ import annotations

import pytest

from tests.e2e.card_clicks import BREAKGLASS_UPN, is_active
from tests.e2e.helpers import ALICE, audit_entries, wait_until
from tests.e2e.processes import World
from tests.faults.test_action_crashes import FAST, USER_PATCH, Thread, endings, kill, user_patches

HELD_SECONDS = 8.0  # a Graph read the process is killed in; the recovery reads after it


def policy_creations(world: World) -> int:
    return sum(1 for r in world.tenant_state.requests
               if r.method == "POST" and r.path == "/identity/conditionalAccess/policies")


async def intent_written(world: World, case_id: str, action: str) -> bool:
    return any(e["action"] == action and e["phase"] == "intent" for e in await audit_entries(world.redis_url, case_id))


@pytest.mark.timeout(150)
async def test_killed_after_the_intent_before_the_graph_call_it_is_interrupted_and_can_run_again(
    world: World,
) -> None:
    """Block sign-in resolves the protected (break-glass) accounts its policy must exclude after writing its
    intent and before creating the policy: the process dies during that read."""
    first = await world.start_bot(**FAST, RIPOSTE_PROTECTED_USERS=BREAKGLASS_UPN)
    thread = await Thread.open(world, first)
    world.tenant_state.add_fault("GET", "^/users/breakglass", status=0, delay=HELD_SECONDS, times=None)
    status, _ = await thread.click(first, "block_signin")
    assert status == 200
    await wait_until(lambda: any(r.path.startswith("/users/breakglass") for r in world.tenant_state.requests),
                     what="the run to be resolving the protected accounts")
    assert await intent_written(world, thread.case_id, "block_signin")
    await kill(first)
    world.tenant_state.faults.clear()
    second = await world.start_bot(**FAST, RIPOSTE_PROTECTED_USERS=BREAKGLASS_UPN)

    text = await thread.wait_for("The bot stopped before Graph answered", 60)
    assert "no policy named" in text
    assert await endings(world.redis_url, thread.case_id, "block_signin") == [
        ("intent", "pending"), ("interrupted", "interrupted")]
    assert policy_creations(world) == 0, "nothing was created, and recovery created nothing"

    assert is_active(thread.button("block_signin")), "the interrupted action must be clickable again"
    status, _ = await thread.click(second, "block_signin")
    assert status == 200
    await thread.wait_for("Block sign-in: done by Rita Responder", 30)
    assert policy_creations(world) == 1


@pytest.mark.timeout(150)
async def test_killed_after_graph_answered_before_the_outcome_was_recorded_it_is_confirmed_by_read_back(
    world: World,
) -> None:
    """Graph disabled the account and answered; the process dies while reading it back (the outcome is written
    after the read-back)."""
    first, second = await world.start_bot(**FAST), await world.start_bot(**FAST)
    thread = await Thread.open(world, first)
    world.tenant_state.add_fault("PATCH", USER_PATCH, status=0, delay=1.0)  # time to hold the read that follows
    status, _ = await thread.click(first, "disable_account")
    assert status == 200
    await wait_until(lambda: user_patches(world, "accountEnabled") == 1, what="the disable to be on its way")
    world.tenant_state.add_fault("GET", f"^/users/{ALICE}$", status=0, delay=HELD_SECONDS)  # the read-back
    patched_at = len(world.tenant_state.requests)
    await wait_until(lambda: any(r.method == "GET" and r.path == f"/users/{ALICE}"
                                 for r in world.tenant_state.requests[patched_at:]),
                     what="Graph to have answered and the run to be reading the account back")
    assert world.tenant_state.users[ALICE]["accountEnabled"] is False
    assert await endings(world.redis_url, thread.case_id, "disable_account") == [("intent", "pending")]
    await kill(first)

    text = await thread.wait_for("Confirmed by read-back after the bot was interrupted", 60)
    assert "account disabled (accountEnabled false)" in text
    assert await endings(world.redis_url, thread.case_id, "disable_account") == [
        ("intent", "pending"), ("outcome", "ok")]
    assert user_patches(world, "accountEnabled") == 1, "the disable ran twice"
    assert second.process.returncode is None
