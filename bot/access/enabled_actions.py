"""What the actions a deployment runs need from the tenant: the policy file may switch actions off
(`enabled = false`), and `doctor` then asks only for what the others need."""

from __future__ import annotations

from actions import ACTIONS
from bot.access.policy import Policy


def permissions(policy: Policy) -> dict[str, str]:
    """Each enabled action's `permission` text, by name. A bundle needs only what its enabled steps need: a step
    the policy switches off is left out of every bundle run (bot/run/execution.py)."""
    needed = {name: spec.permission for name, spec in ACTIONS.items() if policy.enabled(name)}
    for name in needed:
        if ACTIONS[name].steps:
            needed[name] = "; ".join(ACTIONS[step.action].permission for step in ACTIONS[name].steps
                                     if policy.enabled(step.action))
    return needed
