"""Settling a run whose process is gone (bot.run.execution.recover), raced: however many workers settle the same run,
and whether the run's own process had got as far as its audit ending, exactly one ending is recorded."""

from __future__ import annotations

import asyncio

from actions import ACTIONS
from actions.spec import Actor
from bot.endpoints import SERVICES
from bot.run.execution import now_iso, recover
from bot.services import Services
from bot.state.cases import ActionRecord, record_key
from tests.conftest import BotFactory
from tests.e2e.helpers import RESPONDER, audit_entries, card_of, card_text, channel, posted_card, tenant, wait_until

KEY = record_key("disable_account")


async def running(services: Services, case_id: str, run_id: str) -> None:
    """The traces a process leaves when it dies mid-call: claim, intent, record "running"; its lease lapsed."""
    case = await services.cases.get(case_id)
    assert case is not None and case.target is not None
    assert await services.cases.claim_action(case_id, KEY, RESPONDER)
    await services.runner.record_intent(ACTIONS["disable_account"], Actor(RESPONDER, "Rita Responder"), case.target,
                                        case_id)
    await services.cases.put_record(case_id, ActionRecord(
        action="disable_account", state="running", actor_id=RESPONDER, actor_name="Rita Responder",
        started_at=now_iso(), run_id=run_id))


def phases(entries: list[dict[str, str]]) -> list[str]:
    return [e["phase"] for e in entries if e["action"] == "disable_account"]


async def test_two_workers_recovering_the_same_run_record_one_ending(make_bot: BotFactory, clean_redis: str) -> None:
    bot = await make_bot()
    services = bot.app[SERVICES]
    case_id, root = await posted_card(bot)
    await running(services, case_id, "run-1")

    await asyncio.gather(*(recover(services, case_id, KEY, "run-1") for _ in range(4)))

    assert phases(await audit_entries(clean_redis, case_id)) == ["intent", "interrupted"]
    record = (await services.cases.records(case_id))[KEY]
    assert record.state == "interrupted" and "the account still enabled" in record.summary
    assert await services.cases.claim_action(case_id, KEY, RESPONDER), "an interrupted action is freed"
    await wait_until(lambda: "The bot stopped before Graph answered" in card_text(
        card_of(channel(bot).find_activity(root["id"]))), what="the card to show the recovery")


async def test_a_live_lease_holds_recovery_off(make_bot: BotFactory, clean_redis: str) -> None:
    bot = await make_bot()
    services = bot.app[SERVICES]
    case_id, _ = await posted_card(bot)
    await running(services, case_id, "run-1")
    await services.cases.lease(case_id, KEY, "run-1", 30)

    assert 0 < await recover(services, case_id, KEY, "run-1") <= 30
    assert phases(await audit_entries(clean_redis, case_id)) == ["intent"]
    assert (await services.cases.records(case_id))[KEY].state == "running"


async def test_recovery_finishes_a_run_whose_process_wrote_its_ending_but_not_its_record(
    make_bot: BotFactory, clean_redis: str
) -> None:
    bot = await make_bot()
    services = bot.app[SERVICES]
    case_id, _ = await posted_card(bot)
    await running(services, case_id, "run-1")
    alice = next(iter(u for u in tenant(bot).users.values() if u["userPrincipalName"] == "alice@contoso.com"))
    alice["accountEnabled"] = False  # Graph applied it; the process wrote its audit ending, then died
    assert await services.cases.settle(case_id, "run-1", "run-1") == ""
    await services.cases.mark_settled(case_id, "run-1", "run-1+audited")

    # its process may only have lost Redis for a while: a lease later, still not renewed, it is taken over
    assert await recover(services, case_id, KEY, "run-1") == services.settings.action_lease_seconds
    assert (await services.cases.records(case_id))[KEY].state == "running"
    await recover(services, case_id, KEY, "run-1")

    assert phases(await audit_entries(clean_redis, case_id)) == ["intent"], "no second ending"
    record = (await services.cases.records(case_id))[KEY]
    assert record.state == "done" and "Confirmed by read-back" in record.summary
    assert not await services.cases.claim_action(case_id, KEY, RESPONDER), "a done action keeps its claim"
