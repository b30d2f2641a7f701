"""From a watch to what the case card says about it (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.access.signing import ButtonSigner
from bot.cards.elements import execute, when
from bot.cards.watch_block import WatchView
from bot.state.states import WatchState
from bot.watch.store import Watch

RELEASE_VERB = "release"
SHOWN_CHANGES = 5


def _moment(epoch: float) -> str:
    return when(datetime.fromtimestamp(epoch, UTC).isoformat())


def _undone(at: str, text: str, hint: str) -> str:
    return f"{text} at {when(at)}" + (f" — {hint}" if hint else "")


def _latest(lines: tuple[str, ...]) -> tuple[str, ...]:
    """The newest few (Teams refuses cards over 28 KB; the audit has every change)."""
    if len(lines) <= SHOWN_CHANGES:
        return lines
    return (f"{len(lines) - SHOWN_CHANGES} earlier change(s): see the audit", *lines[-SHOWN_CHANGES:])


def watch_view(watch: Watch | None, case_id: str, nonce: str, signer: ButtonSigner) -> WatchView | None:
    if watch is None:
        return None
    last = when(watch.last_check) if watch.last_check else ""
    history = _latest(tuple(_undone(at, change.text, change.hint) for _, at, change in watch.changes))
    if watch.state in (WatchState.RELEASED, WatchState.ENDED):
        state = "released" if watch.state == WatchState.RELEASED else "watch ended"
        return WatchView(state, history, last, f"Not watched any more: {watch.ended}")
    reverted = watch.reverted
    if reverted:
        state, lines = "reverted", _latest(tuple(_undone(at, change.text, change.hint) for at, change in reverted))
    elif watch.baseline is None:
        state, lines = "checking", ()
    elif watch.missing:
        state, lines = "partly contained", tuple(f"missing: {part}" for part in watch.missing)
    else:
        state, lines = "contained", ()
    release = execute("Release", RELEASE_VERB, signer.data(case_id, RELEASE_VERB, nonce),
                      tooltip="stop watching this user for changes")
    footer = (f"Riposte re-checks {watch.display_name} until {_moment(watch.until)} and reports anything undone "
              f"(contained by {watch.actor_name}).")
    return WatchView(state, lines, last, footer, release, watch.last_error)
