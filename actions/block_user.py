"""block_user: the containment bundle: disable the account, revoke sessions, remove mailbox forwarding and
disable every suspicious inbox rule.

ctx.options["steps"] picks steps by name (default: all). Each step runs even when another failed, and
Outcome.steps says how each went; Outcome.saved keeps, per step, what its undo needs.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from actions import disable_account, remove_forwarding, revoke_sessions
from actions.common import mailbox_not_applicable
from actions.disable_account import SYNC_WARNING
from actions.errors import RiposteError, ServiceError
from actions.items import inbox_rules
from actions.spec import (
    ActionContext,
    ActionSpec,
    Aspect,
    BundleStep,
    CardInput,
    Choice,
    Outcome,
    ReadBack,
    ReadBackFn,
    Role,
    StepOutcome,
    SyncedAccount,
    Verification,
)

log = logging.getLogger(__name__)

REVERSAL = (
    "Per step: re-enable the account (“Re-enable account”); sessions cannot be restored (the user signs in "
    "again); “Restore forwarding”; re-enable each disabled inbox rule."
)


@dataclass(frozen=True)
class StepResult:
    summary: str
    request_id: str | None = None
    saved: Mapping[str, Any] | None = None
    skipped: bool = False


class StepFailed(RiposteError):
    """A step that partly happened: its message says what did, `saved` what its undo needs."""

    def __init__(self, message: str, saved: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.saved = saved


Step = Callable[[ActionContext], Awaitable[StepResult]]


def _skip(reason: str) -> StepResult:
    return StepResult(summary=f"Skipped: {reason}.", skipped=True)


async def _disable_account(ctx: ActionContext) -> StepResult:
    reason = disable_account.ACTION.not_applicable(ctx.target)
    if reason:
        return _skip(reason)
    outcome = await disable_account.ACTION.run(ctx)
    return StepResult(outcome.summary, outcome.request_id)


async def _revoke_sessions(ctx: ActionContext) -> StepResult:
    reason = revoke_sessions.ACTION.not_applicable(ctx.target)
    if reason:
        return _skip(reason)
    outcome = await revoke_sessions.ACTION.run(ctx)
    return StepResult(outcome.summary, outcome.request_id)


async def _remove_forwarding(ctx: ActionContext) -> StepResult:
    reason = mailbox_not_applicable(ctx.target)
    if reason:
        return _skip(reason)
    outcome = await remove_forwarding.ACTION.run(ctx)
    return StepResult(outcome.summary, outcome.request_id, outcome.saved)


async def _disable_suspicious_rules(ctx: ActionContext) -> StepResult:
    reason = mailbox_not_applicable(ctx.target)
    if reason:
        return _skip(reason)
    items = await inbox_rules(ctx)
    targets = [item for item in items if item.suspicious and item.detail.get("isEnabled", True)]
    if not targets:
        return StepResult("No enabled inbox rule looks malicious: nothing to disable.")
    disabled: list[str] = []
    request_id: str | None = None
    failures: list[str] = []
    for item in targets:
        try:
            request_id = await ctx.tenant.set_inbox_rule_enabled(ctx.target.id, item.id, False)
        except RiposteError as error:
            failures.append(f"“{item.label}”: {error}")
        else:
            disabled.append(item.id)
    names = ", ".join(f"“{item.label}”" for item in targets if item.id in disabled)
    summary = f"Disabled {len(disabled)} suspicious inbox rule(s): {names}." if disabled else ""
    # Per rule, what disable_inbox_rule itself saves, so each gets its own "Re-enable rule" undo (BundleStep).
    saved = {"items": [{"id": item.id, "label": item.label, "saved": {"rule_id": item.id, "displayName": item.label}}
                       for item in targets if item.id in disabled]}
    if failures:
        raise StepFailed(f"{summary} Could not disable {'; '.join(failures)}".strip(), saved)
    return StepResult(summary, request_id, saved)


STEPS: Mapping[str, Step] = {
    "disable_account": _disable_account,
    "revoke_sessions": _revoke_sessions,
    "remove_forwarding": _remove_forwarding,
    "disable_inbox_rule": _disable_suspicious_rules,
}
BUNDLE_STEPS = (
    BundleStep("disable_account", "Disable account"),
    BundleStep("revoke_sessions", "Revoke sessions"),
    BundleStep("remove_forwarding", "Remove mailbox forwarding"),
    BundleStep("disable_inbox_rule", "Disable suspicious inbox rules"),
)
STEP_TITLES: Mapping[str, str] = {step.action: step.title for step in BUNDLE_STEPS}


async def _run_step(name: str, step: Step, ctx: ActionContext) -> tuple[StepOutcome, StepResult | None]:
    try:
        result = await step(ctx)
    except StepFailed as error:
        return StepOutcome(name, False, str(error)), StepResult(str(error), saved=error.saved)
    except ServiceError as error:
        return StepOutcome(name, False, str(error), error.request_id), None
    except RiposteError as error:
        return StepOutcome(name, False, str(error)), None
    except Exception:  # one step's bug must not stop the others
        error_id = secrets.token_hex(4)
        log.exception("block_user step %s on case %s failed unexpectedly (error id %s)", name, ctx.case_id, error_id)
        return StepOutcome(name, False, f"Unexpected error (id {error_id}, in the bot's log)."), None
    return StepOutcome(name, True, result.summary, result.request_id, result.skipped), result


def selected_steps(options: Mapping[str, Any]) -> list[str]:
    chosen = options.get("steps")
    if chosen is None:
        return list(STEPS)
    unknown = [str(name) for name in chosen if name not in STEPS]
    if unknown:
        raise RiposteError(f"Unknown block_user step(s): {', '.join(unknown)}; the steps are {', '.join(STEPS)}.")
    return [name for name in STEPS if name in chosen]  # always in containment order


async def _run(ctx: ActionContext) -> Outcome:
    names = selected_steps(ctx.options)
    if not names:
        raise RiposteError("No step was selected.")
    outcomes: list[StepOutcome] = []
    saved: dict[str, Any] = {}
    skipped = 0
    for name in names:
        outcome, result = await _run_step(name, STEPS[name], ctx)
        outcomes.append(outcome)
        if result is not None and result.saved:
            saved[name] = dict(result.saved)
        skipped += bool(result is not None and result.skipped)
    succeeded = sum(o.ok for o in outcomes)
    failed = [STEP_TITLES[o.action] for o in outcomes if not o.ok]
    summary = f"Block user {ctx.target.label}: {succeeded} of {len(outcomes)} steps succeeded"
    summary += f" ({skipped} skipped as not applicable)" if skipped else ""
    summary += f"; failed: {', '.join(failed)}." if failed else "."
    if not succeeded:  # nothing happened at all: a failure, with each step's reason
        raise RiposteError(f"{summary} " + " ".join(f"{STEP_TITLES[o.action]}: {o.summary}" for o in outcomes))
    return Outcome(
        summary=summary,
        reversal=REVERSAL,
        request_id=next((o.request_id for o in outcomes if o.request_id), None),
        saved=saved or None,
        steps=tuple(outcomes),
    )



# --- read-back: each step reads back what it changed -------------------------------------------------------


async def _rules_read_back(ctx: ActionContext) -> ReadBack:
    """What the step is for: no suspicious inbox rule left enabled (whichever rules it disabled)."""
    enabled = [item for item in await inbox_rules(ctx) if item.suspicious and item.detail.get("isEnabled", True)]
    if enabled:
        return ReadBack(False, "suspicious inbox rule(s) still enabled: "
                               + ", ".join(f"“{item.label}”" for item in enabled))
    return ReadBack(True, "no suspicious inbox rule enabled")


STEP_READ_BACKS: Mapping[str, ReadBackFn] = {
    "disable_account": disable_account.read_back,
    "revoke_sessions": revoke_sessions.read_back,
    "remove_forwarding": remove_forwarding.read_back,
    "disable_inbox_rule": _rules_read_back,
}
MAILBOX_STEPS = frozenset({"remove_forwarding", "disable_inbox_rule"})


async def _read_steps(ctx: ActionContext, names: list[str]) -> Verification:
    """Every step read back, even when one read fails; ok only when each shows its change in place."""
    found: list[tuple[str, ReadBack | None, str]] = []
    for name in names:
        try:
            found.append((name, await STEP_READ_BACKS[name](ctx), ""))
        except RiposteError as error:
            found.append((name, None, str(error)))
    observed = "; ".join(
        f"{STEP_TITLES[name]}: {back.observed if back else f'could not read back ({problem})'}"
        for name, back, problem in found
    )
    state = "; ".join(f"{STEP_TITLES[name]}: {back.facts if back else 'unknown'}" for name, back, _ in found)
    return Verification(ok=all(back and back.done for _, back, _ in found), observed=observed or "no step ran",
                        checked=all(back is not None for _, back, _ in found), state=state)


async def read_back(ctx: ActionContext) -> ReadBack:
    """The selected steps that apply to this user, read back (for recovery: no run needed)."""
    names = [name for name in selected_steps(ctx.options)
             if not (name in MAILBOX_STEPS and mailbox_not_applicable(ctx.target))]
    verification = await _read_steps(ctx, names)
    return ReadBack(verification.ok, verification.observed, verification.state)


async def verify(ctx: ActionContext, outcome: Outcome) -> Verification:
    """Only the steps that ran and succeeded: a failed step already says so, a skipped one changed nothing."""
    return await _read_steps(ctx, [step.action for step in outcome.steps if step.ok and not step.skipped])

ACTION = ActionSpec(
    name="block_user",
    title="Block user",
    description="disable the account, revoke sessions, remove forwarding and disable suspicious inbox rules",
    role=Role.RESPONDER,
    reversible=True,
    reversal=REVERSAL,
    run=_run,
    permission="; ".join(dict.fromkeys((
        disable_account.ACTION.permission, revoke_sessions.ACTION.permission, remove_forwarding.ACTION.permission,
        "MailboxSettings.ReadWrite",
    ))),
    # Its Graph steps on an administrator (disable, revoke) run with the person's token; forwarding and inbox rules
    # stay with the app (a delegated token opens only mailboxes its person may open).
    delegated_scope="; ".join((disable_account.ACTION.delegated_scope, revoke_sessions.ACTION.delegated_scope)),
    delegated_admin_roles=disable_account.ACTION.delegated_admin_roles,
    read_back=read_back,
    verify=verify,
    steps=BUNDLE_STEPS,
    inputs=(CardInput(option="steps", input_id="step", label="Block user does:", many=True, chooses_steps=True,
                      choices=tuple(Choice(step.action, step.title) for step in BUNDLE_STEPS)),),
    changes_target=True,
    contains=True,
    watches=frozenset({Aspect.ACCOUNT, Aspect.FORWARDING, Aspect.RULES}),
    on_synced=SyncedAccount(alternative="block_signin", warning=SYNC_WARNING.strip()),
)
