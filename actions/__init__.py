"""The action registry: an explicit list, so adding an action is one file and one line here."""

from __future__ import annotations

from collections.abc import Mapping

from actions import revoke_sessions
from actions.spec import ActionSpec


def _registry(*specs: ActionSpec) -> Mapping[str, ActionSpec]:
    registry: dict[str, ActionSpec] = {}
    for spec in specs:
        if spec.name in registry:
            raise ValueError(f"action {spec.name!r} is registered twice")
        registry[spec.name] = spec
    return registry


ACTIONS: Mapping[str, ActionSpec] = _registry(
    revoke_sessions.ACTION,
)
