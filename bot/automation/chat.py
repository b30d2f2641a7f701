"""`automation on | off | status | dry-run` typed in chat: who may (the policy's verbs, checked in
bot/access/permission.py), the switch in Redis for every replica, the audit, and one announcement in the alert channel.

Refusals are audited too: who tried to switch automation, and why they could not."""

from __future__ import annotations

import logging

from actions.audit import actor_fields
from actions.runner import Refused
from actions.spec import Actor
from bot.access.permission import permit_verb
from bot.automation import switch as automation_switch
from bot.automation.run import rules
from bot.automation.switch import MODE_WORDS, Mode, SwitchState
from bot.clicks.answered import Turn
from bot.commands.parse import safe_echo
from bot.services import Services

log = logging.getLogger(__name__)
WANTED = {"automation": Mode.ON, "automation_off": Mode.OFF, "automation_dry_run": Mode.DRY_RUN}
COMMAND = {"automation": "automation on", "automation_off": "automation off",
           "automation_dry_run": "automation dry-run", "automation_status": "automation status"}


async def handle(services: Services, verb: str, object_id: str, name: str, turn: Turn) -> str:
    """The answer to one automation command (plain text for the chat); its announcement goes out after it."""
    try:
        actor = await permit_verb(services, verb, object_id, name, turn)
    except Refused as refusal:
        if verb != "automation_status":
            who = await _who(services, object_id, name, turn)
            await _audit_refusal(services, verb, who, str(refusal))
        raise
    if verb == "automation_status":
        return await status_text(services)
    return await _switch(services, actor, WANTED[verb], COMMAND[verb], turn)


async def _who(services: Services, object_id: str, name: str, turn: Turn) -> Actor:
    """Who tried, with the roles they hold (just looked up, so cached) and their UPN, for the audit."""
    try:
        return await services.roles.actor(object_id, name, turn)
    except Exception:  # the refusal is audited without them rather than not at all
        return Actor(id=object_id, name=name)


async def _audit_refusal(services: Services, verb: str, actor: Actor, reason: str) -> None:
    await services.audit.record_event(
        "automation_switch_refused", **actor_fields(actor), result="refused", state_after=WANTED[verb].value,
        detail=f"{COMMAND[verb]}: {reason}",
    )


def _since(state: SwitchState) -> str:
    if state.default:
        return "since start-up (the configured default: nobody has switched it in chat)"
    return f"since {state.since} (switched by {safe_echo(state.by)})"


async def _switch(services: Services, actor: Actor, mode: Mode, command: str, turn: Turn) -> str:
    settings = services.settings
    refusal = ""
    if mode is Mode.ON and settings.automation_dry_run:
        refusal = ("RIPOSTE_AUTOMATION_DRY_RUN=true: this deployment only ever dry-runs automation. Remove the "
                   "setting to let automation act.")
    elif mode is Mode.ON and (problem := settings.automation_token_problem()):
        refusal = problem
    if refusal:
        await _audit_refusal(services, "automation", actor, refusal)
        return f"Automation stays as it is: {refusal}"
    before = await automation_switch.switch(services, mode, actor.name, actor.id)
    state = await automation_switch.current(services)
    if before is mode:
        return f"Automation is already {MODE_WORDS[mode]}, {_since(state)}. Nothing changed."
    await services.audit.record_event(
        "automation_switched", **actor_fields(actor), state_before=before.value, state_after=mode.value,
        result="ok", detail=command,
    )
    log.info("%s switched automation from %s to %s", actor.name, before.value, mode.value)
    said = {
        Mode.OFF: "Automation is now off: every new case waits for a person.",
        Mode.ON: "Automation is now on: matching alerts are contained without a click "
                 f"(at most {settings.automation_max_per_hour} actions per hour).",
        Mode.DRY_RUN: "Automation is now in dry run: matching rules say on each case what they would have done, "
                      "and change nothing.",
    }[mode]
    announcement = f"{said} Switched by {safe_echo(actor.name)} (`{command}`)."
    style = "good" if mode is Mode.OFF else "attention"
    # After this turn's answer (Teams waits ~5 s for it): the outbox may make the post wait for a send slot.
    turn.later(lambda: automation_switch.announce(services, announcement, style))
    answer = f"{said} (announced in the alert channel)"
    frees = await automation_switch.slot_frees_at(services) if mode is Mode.ON else None
    if frees is not None:
        answer += (f" Note: the cap of {settings.automation_max_per_hour} automated actions in the last hour is "
                   f"still full, so the next action would pause automation again; a slot frees at "
                   f"{frees.isoformat(timespec='minutes')}.")
    return answer


async def status_text(services: Services) -> str:
    settings = services.settings
    state = await automation_switch.current(services)
    effective = automation_switch.effective(services, state)
    lines = [f"Automation is {MODE_WORDS[state.mode]}, {_since(state)}."]
    if effective is not state.mode:
        why = ("RIPOSTE_AUTOMATION_DRY_RUN=true" if effective is Mode.DRY_RUN
               else settings.automation_token_problem() or "")
        lines.append(f"In effect it is {MODE_WORDS[effective]}: {why}")
    used = await automation_switch.used_this_hour(services)
    lines.append(f"Cap: {used} of {settings.automation_max_per_hour} automated actions in the last hour "
                 "(RIPOSTE_AUTOMATION_MAX_PER_HOUR); at the cap automation switches itself off.")
    counts = await automation_switch.counts_today(services)
    lines.append(f"Today (UTC): {counts.get('acted', 0)} actions run automatically, {counts.get('dry_run', 0)} "
                 f"cases dry-run, {counts.get('held', 0)} cases left waiting when the cap was reached.")
    lines.append("Rules (the first that matches wins):")
    for index, rule in enumerate(rules(services), start=1):
        actions = ", then ".join(rule.actions) or "(no actions)"
        lines.append(f"{index}. '{safe_echo(rule.name)}': {safe_echo(rule.describe(), 200)} → {actions}")
    return "\n\n".join(lines)
