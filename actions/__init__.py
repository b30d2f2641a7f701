"""The action registry: an explicit list, so adding an action is one file and one line here."""

from __future__ import annotations

from collections.abc import Mapping

from actions import (
    block_signin,
    block_user,
    confirm_compromised,
    delete_inbox_rule,
    disable_account,
    disable_inbox_rule,
    dismiss_risk,
    enable_account,
    enable_inbox_rule,
    list_inbox_rules,
    remove_app,
    remove_auth_method,
    remove_forwarding,
    remove_mailbox_access,
    remove_teams_app,
    remove_transport_rule,
    reset_password,
    restore_forwarding,
    restore_inbox_rule,
    restore_mailbox_access,
    restore_transport_rule,
    revoke_sessions,
    unblock_signin,
)
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
    disable_account.ACTION,
    enable_account.ACTION,
    block_signin.ACTION,
    unblock_signin.ACTION,
    list_inbox_rules.ACTION,
    disable_inbox_rule.ACTION,
    enable_inbox_rule.ACTION,
    delete_inbox_rule.ACTION,
    restore_inbox_rule.ACTION,
    remove_forwarding.ACTION,
    restore_forwarding.ACTION,
    reset_password.ACTION,
    remove_app.ACTION,
    remove_teams_app.ACTION,
    remove_mailbox_access.ACTION,
    restore_mailbox_access.ACTION,
    remove_transport_rule.ACTION,
    restore_transport_rule.ACTION,
    confirm_compromised.ACTION,
    dismiss_risk.ACTION,
    remove_auth_method.ACTION,
    block_user.ACTION,
)


def _check_references(registry: Mapping[str, ActionSpec]) -> None:
    """Every action a spec names is registered, and what the card reads of it is declared once."""
    for spec in registry.values():
        named = {"undo": spec.undo, "synced-account alternative": spec.on_synced and spec.on_synced.alternative}
        named |= {f"step {step.title!r}": step.action for step in spec.steps}
        for what, name in named.items():
            if name and name not in registry:
                raise ValueError(f"action {spec.name!r} names a{'n' if what[0] in 'aeiou' else ''} {what} {name!r} "
                                 "that is not registered")
        if len({card_input.option for card_input in spec.inputs}) != len(spec.inputs):
            raise ValueError(f"action {spec.name!r} reads one option from two card inputs")
        if spec.steps and spec.undo:
            raise ValueError(f"bundle {spec.name!r} has an undo; its steps' undos reverse it")


_check_references(ACTIONS)
