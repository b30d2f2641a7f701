"""What the actions a deployment runs need from the tenant: the policy file may switch actions off
(`enabled = false`), and `doctor` then asks only for what the others need."""

from __future__ import annotations

from actions import ACTIONS
from bot.access.policy import Policy


def permissions(policy: Policy, delegated: bool = False) -> dict[str, str]:
    """Each enabled action's `permission` text (what the app itself needs), by name. A bundle needs only what its
    enabled steps need: a step the policy switches off is left out of every bundle run (bot/run/execution.py).
    `delegated` (RIPOSTE_PRIVILEGED_ACTIONS=delegated): an action that always runs with the clicker's own token
    (`delegated_roles`, e.g. reset_password) needs nothing of the app, so it is left out."""

    def app_needs(name: str) -> bool:
        return policy.enabled(name) and not (delegated and ACTIONS[name].delegated_roles)

    needed = {name: spec.permission for name, spec in ACTIONS.items() if app_needs(name)}
    for name in needed:
        if ACTIONS[name].steps:
            needed[name] = "; ".join(ACTIONS[step.action].permission for step in ACTIONS[name].steps
                                     if app_needs(step.action))
    return needed
