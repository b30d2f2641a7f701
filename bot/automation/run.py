"""Automatic containment: when the switch (bot/automation/switch.py) is on and an automation rule
(bot/automation/rules.py) matches a new case's alert, the rule's actions run in order, without a click.

It acts as "Riposte automation" with the responder role only, through the same rails as a click: no protected,
system or last-Global-Administrator targets; no administrators at all (that needs admin_responder); nothing the
policy says needs approval; nothing that needs a person (a password reset, or in delegated mode anything that
runs with a person's own Entra token). Each action counts against the
hourly cap (RIPOSTE_AUTOMATION_MAX_PER_HOUR, across replicas); the action that would exceed it does not run, and
automation switches itself off, says so once in the alert channel, and leaves this and every further case to a
person. In dry run the matching rule's actions are only described on the card. The audit records the rule with
each decision (`automation_run`, `automation_dry_run`, `automation_paused` events) and the card says it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from actions import ACTIONS
from actions.audit import actor_fields
from actions.runner import ActionResult
from actions.spec import Actor, Role
from bot.access.levels import describe
from bot.automation import switch as automation_switch
from bot.automation.rules import AutomationRule, default_rule, first_match, why_not_automatable
from bot.automation.switch import CAP_REACHED_BY, Mode
from bot.pipeline.enqueue import refresh_card
from bot.pipeline.limiter import Priority
from bot.run.act import Admit, Approval, Ending, act, refusal, refuse
from bot.run.execution import Run
from bot.services import Services
from bot.state.cases import Case

log = logging.getLogger(__name__)
AUTOMATION = Actor(id="riposte-automation", name="Riposte automation", roles=frozenset({Role.RESPONDER}))
ACTION_TIMEOUT_SECONDS = 300.0  # one action of a rule waits at most this long for the one before it


def rules(services: Services) -> tuple[AutomationRule, ...]:
    """The policy's rules, each without actions given RIPOSTE_AUTOMATION_ACTIONS; none: the default rule."""
    actions = tuple(services.settings.automation_actions)
    configured = services.policy.automation_rules
    if not configured:
        return (default_rule(actions),)
    return tuple(rule if rule.actions else replace(rule, actions=actions) for rule in configured)


def _title(name: str) -> str:
    spec = ACTIONS.get(name)
    return spec.title if spec else name


def _phrase(names: list[str]) -> str:
    return ", then ".join(_title(name).lower() for name in names)


async def _reasons_not_to(services: Services, case: Case, name: str) -> str | None:
    """Why automation may not run `name` on this case's user (the click's rails, bot/run/act.py), or None."""
    problem = why_not_automatable(name)
    if problem:
        return problem
    return await refusal(services, Run(case, ACTIONS[name], AUTOMATION), Approval.NEVER)


async def _note(services: Services, case_id: str, note: str) -> None:
    """Show on the card what automation did (or would do) with the case."""
    fresh = await services.cases.get(case_id)
    if fresh is None:
        return
    fresh.automation = note
    await services.cases.save(fresh)
    await refresh_card(services, case_id, Priority.BULK)


async def maybe_automate(services: Services, case_id: str) -> list[str]:
    """Run the first matching rule's actions on a new case when automation is on; describe them in dry run.
    Returns the actions started. Safe to run twice (the posting job may): each action is claimed once."""
    case = await services.cases.get(case_id)
    if case is None or case.target is None or case.kind != "alert" or case.closed:
        return []
    mode = automation_switch.effective(services, await automation_switch.current(services))
    if mode is Mode.OFF:
        return []
    rule = first_match(rules(services), case.alert)
    if rule is None:
        return []
    if mode is Mode.DRY_RUN:
        await _dry_run(services, case, rule)
        return []
    return await _act(services, case, rule)


async def _dry_run(services: Services, case: Case, rule: AutomationRule) -> None:
    if case.automation:
        return  # said already (the posting job ran again)
    would: list[str] = []
    refused: list[str] = []
    for name in rule.actions:
        reason = await _reasons_not_to(services, case, name)
        if reason:
            refused.append(f"{_title(name)}: {reason}")
        else:
            would.append(name)
    note = (f"Dry run: would {_phrase(would)} — rule '{rule.name}'. Nothing was changed." if would else
            f"Dry run: rule '{rule.name}' matches, but automation would not act.")
    if refused:
        note += " Would not run: " + "; ".join(refused) + "."
    await automation_switch.count(services, "dry_run")
    await services.audit.record_event(
        "automation_dry_run", case_id=case.id, **actor_fields(AUTOMATION), rule=rule.name,
        target_upn=case.target.upn if case.target else "", state_after=",".join(would), result="dry-run",
        detail=note,
    )
    await _note(services, case.id, note)


async def _act(services: Services, case: Case, rule: AutomationRule) -> list[str]:
    assert case.target is not None
    started: list[str] = []
    refused: list[str] = []
    failed: list[str] = []
    for name in rule.actions:
        problem = why_not_automatable(name)
        if problem:
            if name in ACTIONS:
                await refuse(services, Run(case, ACTIONS[name], AUTOMATION), problem)
            refused.append(f"{_title(name)}: {problem}")
            continue
        if started and automation_switch.effective(services, await automation_switch.current(services)) is not Mode.ON:
            refused.append(f"{_title(name)}: automation was switched off while the rule ran")
            break  # `automation off` stops a rule between its actions too

        async def admit() -> bool:
            """The hourly cap's slot, taken once the action is claimed; and the card says so before it starts."""
            if not await automation_switch.take_slot(services):
                return False
            if not started:  # before the first action starts, so every redraw of the card shows it
                await _note(services, case.id, f"Contained automatically by rule '{rule.name}'.")
            await automation_switch.count(services, "acted")
            return True

        ending, reason = await _run_to_the_end(services, Run(case, ACTIONS[name], AUTOMATION), admit)
        if ending is Ending.REFUSED:
            refused.append(f"{_title(name)}: {reason}")
        elif ending is Ending.HELD:
            await _cap_reached(services, case, rule, started)
            return started
        elif ending is not Ending.BUSY:  # BUSY: running or done already (a person, or an earlier run of this job)
            if ending is not Ending.STARTED:
                failed.append(name)
            started.append(name)
    if started or refused:
        done = [name for name in started if name not in failed]
        note = (f"Contained automatically by rule '{rule.name}': {_phrase(done)}." if done else
                f"Rule '{rule.name}' matched, but automation did not contain the user; waiting for a person."
                if started else f"Rule '{rule.name}' matched, but automation did not act; waiting for a person.")
        if failed:
            note += f" Failed (see below): {', '.join(_title(name) for name in failed)}."
        if refused:
            note += " Not automated: " + "; ".join(refused) + "."
        await services.audit.record_event(
            "automation_run", case_id=case.id, **actor_fields(AUTOMATION), rule=rule.name,
            target_upn=case.target.upn, state_after=",".join(started), result="ok" if started else "refused",
            detail=note,
        )
        await _note(services, case.id, note)
    return started


async def _run_to_the_end(services: Services, run: Run, admit: Admit) -> tuple[Ending, str]:
    """Act (the one path, bot/run/act.py) and wait for the outcome: a rule's actions run in order, one after the
    other. STARTED means it did not fail (still running after ACTION_TIMEOUT_SECONDS counts as not failed: its card
    shows how it ends); a failed run ends NOT_STARTED, as one that could not start. With the refusal, if any."""
    finished = asyncio.Event()
    results: list[ActionResult] = []

    async def on_finished(result: ActionResult) -> None:
        results.append(result)
        finished.set()

    acted = await act(services, run, Approval.NEVER, None, admit=admit, on_finished=on_finished)
    if acted.ending is not Ending.STARTED:
        return acted.ending, acted.refusal
    try:
        await asyncio.wait_for(finished.wait(), ACTION_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning("%s on case %s still running after %ss; the rule's next action starts anyway",
                    run.spec.name, run.case.id, ACTION_TIMEOUT_SECONDS)
    return (Ending.STARTED if all(result.ok for result in results) else Ending.NOT_STARTED), ""


async def _cap_reached(services: Services, case: Case, rule: AutomationRule, started: list[str]) -> None:
    """The hourly cap is reached: switch automation off (once, whichever replica gets here first), say so once,
    and leave the case to a person."""
    cap = services.settings.automation_max_per_hour
    before = await automation_switch.switch(services, Mode.OFF, CAP_REACHED_BY, AUTOMATION.id, only_from=Mode.ON)
    await automation_switch.count(services, "held")
    note = (f"Waiting for a person: rule '{rule.name}' matched, but automation paused itself (the cap of {cap} "
            "automated actions per hour is reached).")
    if started:
        note = f"Contained automatically by rule '{rule.name}': {_phrase(started)}. " + note
    await services.audit.record_event(
        "automation_held", case_id=case.id, **actor_fields(AUTOMATION), rule=rule.name,
        target_upn=case.target.upn if case.target else "", result="held", detail=note,
    )
    await _note(services, case.id, note)
    if before is not Mode.ON:
        return  # another replica paused it first (and announced it), or it was switched off meanwhile
    who = describe(services.policy.requirement("automation"))
    await services.audit.record_event(
        "automation_switched", case_id=case.id, actor_id=AUTOMATION.id, actor_name=CAP_REACHED_BY,
        state_before=Mode.ON.value, state_after=Mode.OFF.value, result="ok",
        detail=f"cap of {cap} automated actions per hour reached",
    )
    log.warning("automation paused itself: the cap of %d automated actions per hour is reached", cap)
    await automation_switch.announce(
        services,
        f"Automation paused itself: the cap of {cap} automated actions per hour (RIPOSTE_AUTOMATION_MAX_PER_HOUR) "
        f"is reached. Every new case waits for a person. Someone with {who} can turn it back on with "
        "`@Riposte automation on`.",
    )
