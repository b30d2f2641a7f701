"""Injected failures, shared by the sandbox tenant and the sandbox channel: tests (and the page) make the next
matching requests fail the way the real service fails them."""

from __future__ import annotations

import asyncio
import re
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Fault:
    """An injected failure: the next `times` matching requests get `status` (times=None: all of them).

    `delay` seconds pass before the answer; with status 0 the request is then served normally (a slow service).
    `body_regex` narrows it to requests whose body matches (one card among many, say).
    `unapplied` (with status 0): the request is answered as if it succeeded, but the tenant is left as it was
    (a change Graph accepted that did not take: replication, a sync that reverts it, a policy that overrides it).
    `hold` (with status 0): the request is served at once (the service has done the work) and its answer is held
    this many seconds: a caller that dies meanwhile never learns that it was done (the sandbox channel).
    `until_released` (in-process tests only): the request waits until the test calls `Faults.release()`, so a
    service is slow for exactly as long as the test needs, not for a guessed number of seconds.
    """

    status: int
    method: str | None = None
    path_regex: str = ".*"
    times: int | None = 1
    retry_after: str | None = None
    code: str | None = None
    message: str | None = None
    cmdlet: str | None = None
    delay: float = 0.0
    body_regex: str | None = None
    unapplied: bool = False
    hold: float = 0.0
    until_released: bool = False
    _released: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False, compare=False)
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _body_pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path_regex)
        self._body_pattern = re.compile(self.body_regex) if self.body_regex is not None else None

    def matches(self, method: str, path: str, cmdlet: str | None, body: str = "") -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if self.cmdlet and (cmdlet or "").lower() != self.cmdlet.lower():
            return False
        if self._body_pattern is not None and self._body_pattern.search(body) is None:
            return False
        return self._pattern.search(path) is not None

    async def slow_down(self) -> None:
        """Wait as the fault says before the request is served: `delay`, then until released if so."""
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.until_released:
            await self._released.wait()

    def headers(self) -> dict[str, str]:
        return {"Retry-After": self.retry_after} if self.retry_after else {}

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


class Faults(list[Fault]):
    """The live faults, first added first matched."""

    def __init__(self) -> None:
        super().__init__()
        self._held: list[Fault] = []  # kept after they are used up: their requests may still be waiting

    def add(self, fault: Fault) -> Fault:
        self.append(fault)
        if fault.until_released:
            self._held.append(fault)
        return fault

    def release(self) -> None:
        """Let every request an `until_released` fault is holding be served (and any it would hold later)."""
        for fault in self._held:
            fault._released.set()
        self._held.clear()

    def clear(self) -> None:
        super().clear()
        self.release()  # nothing stays held by a fault that is gone

    def take(self, method: str, path: str, cmdlet: str | None = None, body: str = "") -> Fault | None:
        """The first live fault matching this request, counting it down."""
        for fault in self:
            if fault.matches(method, path, cmdlet, body):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.remove(fault)
                return fault
        return None
