"""The one path to act (bot/run/act.py), called directly on the running app: permit → approval → claim → start
decide the same for every caller, a refusal is audited and counted whoever asked, and a run's audit carries who
(UPN and roles at that moment), the state before → after and, for an undo, the id of the entry it undoes. The
case has no card (no Teams traffic): only the decisions, Redis and the sandbox tenant are involved."""

from __future__ import annotations

import secrets

import pytest
import redis.asyncio as redis_async

from actions import ACTIONS
from actions.spec import Actor, Role
from bot.endpoints import SERVICES
from bot.intake.alerts import Alert
from bot.run.act import Approval, Ending, act
from bot.run.execution import Run
from bot.services import Services
from bot.state.cases import Case
from tests.conftest import BotFactory, RunningBot
from tests.e2e.helpers import ALICE, NO_ROLE, RESPONDER, audit_entries, metric, wait_until

RITA = Actor(RESPONDER, "Rita Responder", frozenset({Role.RESPONDER}), "rita.responder@contoso.com")


@pytest.fixture
async def bot(make_bot: BotFactory) -> RunningBot:
    # These cases have no card, so their case notes wait for one: the app's stop must not wait its grace for them.
    return await make_bot(shutdown_grace_seconds=0.2)


async def new_case(services: Services) -> Case:
    target = await services.tenant.get_user(ALICE)
    alert = Alert(id=f"act-{secrets.token_hex(4)}", source="test", title="t", severity="high", user=ALICE)
    case = Case(id=f"case-{secrets.token_hex(4)}", alert=alert, nonce=secrets.token_urlsafe(8), created_at="",
                target=target, offered=tuple(ACTIONS))
    await services.cases.save(case)
    return case


async def settled(services: Services) -> None:
    """Every background run has ended (its outcome recorded): what follows is asserted after the work."""
    await wait_until(lambda: len(services.inflight) == 0, what="the background runs to end")


async def test_a_run_is_claimed_once_and_audits_who_and_the_state_before_and_after(bot: RunningBot) -> None:
    services = bot.app[SERVICES]
    case = await new_case(services)
    first = await act(services, Run(case, ACTIONS["disable_account"], RITA), Approval.ASK, None)
    again = await act(services, Run(case, ACTIONS["disable_account"], RITA), Approval.ASK, None)
    assert (first.ending, again.ending) == (Ending.STARTED, Ending.BUSY)
    await settled(services)
    entries = await audit_entries(services.settings.redis_url, case.id)
    assert [(e["phase"], e["result"]) for e in entries] == [("intent", "pending"), ("outcome", "ok")]
    outcome = entries[-1]
    assert (outcome["actor_upn"], outcome["actor_roles"]) == ("rita.responder@contoso.com", "responder")
    assert (outcome["state_before"], outcome["state_after"]) == ("accountEnabled true", "accountEnabled false")
    assert outcome["tenant"] == services.settings.tenant_id


async def test_a_refusal_is_audited_and_counted_for_every_caller(bot: RunningBot) -> None:
    services = bot.app[SERVICES]
    case = await new_case(services)
    nolan = await services.roles.actor(NO_ROLE, "Nolan Norole")
    before = await metric(bot, "riposte_refusals_total")
    for approval in (Approval.ASK, Approval.GRANTED, Approval.NEVER):  # a click, an approval, automation
        acted = await act(services, Run(case, ACTIONS["revoke_sessions"], nolan), approval, None)
        assert acted.ending is Ending.REFUSED and "responder role" in acted.refusal
    assert await metric(bot, "riposte_refusals_total") == before + 3
    refused = await audit_entries(services.settings.redis_url, case.id)
    assert [(e["phase"], e["actor_id"], e["actor_upn"]) for e in refused] == [
        ("refused", NO_ROLE, "nolan.norole@contoso.com")] * 3
    assert not await services.cases.records(case.id), "nothing was claimed or run"


async def test_approval_is_asked_for_by_a_person_refused_for_automation_and_runs_once_granted(bot: RunningBot) -> None:
    services = bot.app[SERVICES]
    case = await new_case(services)
    spec = ACTIONS["reset_password"]  # needs approval by default; inline: it ends before act returns
    automated = await act(services, Run(case, spec, RITA), Approval.NEVER, None)
    assert automated.ending is Ending.REFUSED and "never grants itself" in automated.refusal
    asked = await act(services, Run(case, spec, RITA), Approval.ASK, None)
    assert asked.ending is Ending.NEEDS_APPROVAL  # the claim is held for the request
    assert (await act(services, Run(case, spec, RITA), Approval.ASK, None)).ending is Ending.BUSY
    granted = await act(services, Run(case, spec, RITA), Approval.GRANTED, None)
    assert granted.ending is Ending.STARTED and granted.result is not None and granted.result.ok
    phases = [e["phase"] for e in await audit_entries(services.settings.redis_url, case.id)]
    assert phases == ["refused", "intent", "outcome"]


async def test_a_gate_that_says_no_leaves_the_action_free(bot: RunningBot) -> None:
    services = bot.app[SERVICES]
    case = await new_case(services)
    run = Run(case, ACTIONS["revoke_sessions"], RITA)

    async def no() -> bool:
        return False

    assert (await act(services, run, Approval.NEVER, None, admit=no)).ending is Ending.HELD
    assert (await act(services, run, Approval.NEVER, None)).ending is Ending.STARTED, "the claim was released"
    await settled(services)


async def test_an_undo_links_to_the_audit_entry_of_what_it_undoes(bot: RunningBot) -> None:
    services = bot.app[SERVICES]
    case = await new_case(services)
    await act(services, Run(case, ACTIONS["disable_account"], RITA), Approval.ASK, None)
    await settled(services)
    await act(services, Run(case, ACTIONS["enable_account"], RITA), Approval.ASK, None)
    await settled(services)
    entries = await audit_entries(services.settings.redis_url, case.id, ids=True)
    disabled = next(e for e in entries if (e["phase"], e["action"]) == ("outcome", "disable_account"))
    undo = [e for e in entries if e["action"] == "enable_account"]
    assert [(e["phase"], e["undo_of"]) for e in undo] == [("intent", disabled["id"]), ("outcome", disabled["id"])]
    assert "undo_of" not in disabled
    client = redis_async.Redis.from_url(services.settings.redis_url, decode_responses=True)
    try:  # the link names an entry that is there
        assert await client.xrange("riposte:audit", disabled["id"], disabled["id"])
    finally:
        await client.aclose()
