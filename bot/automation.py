"""Automatic containment for high-confidence detections. Off unless RIPOSTE_AUTOMATION=true.

It acts as "Riposte automation" with the responder role only: every safety rail applies (no protected, system
or last-Global-Administrator targets; no administrators at all, since that needs admin_responder; nothing that
the policy says needs approval), the audit records it, and the card shows it like any click."""

from __future__ import annotations

import logging

from actions import ACTIONS
from actions.runner import Actor, Refused
from actions.spec import Role
from bot.execution import Run, start
from bot.permission import permit
from bot.services import Services

log = logging.getLogger(__name__)
AUTOMATION = Actor(id="riposte-automation", name="Riposte automation", roles=frozenset({Role.RESPONDER}))
QUALIFYING_SEVERITIES = ("high", "critical")


async def maybe_automate(services: Services, case_id: str) -> list[str]:
    """Run the configured actions on a new case when automation is on and the alert qualifies."""
    settings = services.settings
    if not settings.automation_enabled:
        return []
    case = await services.cases.get(case_id)
    if case is None or case.target is None:
        return []
    if case.alert.confidence.lower() != "high" or case.alert.severity not in QUALIFYING_SEVERITIES:
        return []
    started: list[str] = []
    for name in settings.automation_actions:
        spec = ACTIONS.get(name)
        if spec is None or spec.item_kind or spec.needs_saved:
            log.warning("RIPOSTE_AUTOMATION_ACTIONS names %r, which automation cannot run", name)
            continue
        try:
            await permit(services, spec, AUTOMATION, case.target)
            if services.policy.needs_approval(name, case.target):
                raise Refused(f"{spec.title} needs approval, which automation never grants itself")
        except Refused as refusal:
            await services.runner.record_refusal(spec, AUTOMATION, case.target, case.id, str(refusal))
            continue
        run = Run(case, spec, AUTOMATION)
        if await services.cases.claim_action(case.id, run.key, AUTOMATION.id):
            await start(services, run)
            started.append(name)
    return started
