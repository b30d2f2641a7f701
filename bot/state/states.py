"""The states the records in Redis go through, with the exact strings stored. A `StrEnum` member equals its string,
so the cards, the audit, the metrics and records stored before these enums existed read the same."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    """An action on a case (`ActionRecord.state`): what its line on the card says."""

    PENDING = "pending"  # waiting for a second person's approval
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # its process stopped and the tenant did not show it done
    REVERSED = "reversed"  # done, then its undo ran: its button may be clicked again
    REJECTED = "rejected"  # the approver said no
    EXPIRED = "expired"  # nobody approved in time


class ApprovalState(StrEnum):
    """An approval request (`ApprovalRequest.state`): decided once."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class WatchState(StrEnum):
    """A watch on a contained user (the `state` field of `riposte:watch:{user}`; its Lua scripts test 'watching')."""

    WATCHING = "watching"
    RELEASED = "released"  # someone typed or clicked Release
    ENDED = "ended"  # the watch window is over
