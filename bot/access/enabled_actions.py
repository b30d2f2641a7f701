"""What the actions a deployment runs need from the tenant: the policy file may switch actions off
(`enabled = false`), and `doctor` then asks only for what the others need."""

from __future__ import annotations

from actions import ACTIONS
from actions.block_user import STEPS
from bot.access.policy import Policy


def permissions(policy: Policy) -> dict[str, str]:
    """Each enabled action's `permission` text, by name. The block_user bundle needs only what its enabled steps
    need: a step the policy switches off is left out of every bundle run (bot/run/execution.py)."""
    needed = {name: spec.permission for name, spec in ACTIONS.items() if policy.enabled(name)}
    if "block_user" in needed:
        needed["block_user"] = "; ".join(ACTIONS[step].permission for step in STEPS if policy.enabled(step))
    return needed
