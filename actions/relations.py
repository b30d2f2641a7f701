"""How registered actions relate, read from their specs: what reverses what, a bundle's steps and their undos.

bot/ asks these instead of naming actions."""

from __future__ import annotations

from actions import ACTIONS
from actions.spec import ActionSpec


def reversed_by(undo: str) -> list[str]:
    """The actions that `undo` reverses (whose saved copy it needs)."""
    return [spec.name for spec in ACTIONS.values() if spec.undo == undo]


def step_undos(bundle: ActionSpec) -> list[str]:
    """The undos of a bundle's steps, in step order (a bundle has no undo of its own)."""
    undos = (ACTIONS[step.action].undo for step in bundle.steps)
    return [name for name in dict.fromkeys(undos) if name]


def bundles_undone_by(name: str) -> list[str]:
    """The bundles one of whose steps `name` reverses: once it ran, the bundle may run again."""
    return [spec.name for spec in ACTIONS.values() if name in step_undos(spec)]


def item_actions(kind: str) -> list[ActionSpec]:
    """The actions a listed item of `kind` gets buttons for (undos come with the outcome they reverse)."""
    return [spec for spec in ACTIONS.values() if spec.item_kind == kind and not spec.needs_saved]


def kept_originals(undo: str) -> list[ActionSpec]:
    """The actions `undo` reverses whose saved copy is kept per user (a block policy): found from any case."""
    return [ACTIONS[name] for name in reversed_by(undo) if ACTIONS[name].kept_per_user]
