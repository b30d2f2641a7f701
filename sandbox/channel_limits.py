"""Teams' documented send limits, enforced by the sandbox channel when switched on (msteams-docs
bots/how-to/rate-limit.md): per bot per thread 7 per second, 8 per 2 s, 60 per 30 s, 1,800 per hour; 50 per second
per app per tenant. Like Riposte, the sandbox takes the strict reading that a channel's threads are one thread.
A send over a limit is answered 429 and not counted; `throttled` counts them so tests can assert none happened."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

TEAMS_THREAD_WINDOWS = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
TEAMS_TENANT_WINDOWS = ((50, 1.0),)


@dataclass
class SendLimits:
    thread_windows: tuple[tuple[int, float], ...] = TEAMS_THREAD_WINDOWS
    tenant_windows: tuple[tuple[int, float], ...] = TEAMS_TENANT_WINDOWS
    # Seconds of network jitter forgiven: a bot's sends leave spaced by its limiter and may arrive bunched.
    jitter_seconds: float = 0.0
    throttled: int = 0
    accepted: int = 0
    _sends: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def allow(self, thread: str) -> bool:
        """Count a send to `thread` if every window has room; False (a 429) otherwise."""
        now = time.monotonic()
        checks = [(f"thread:{thread}", self.thread_windows), ("tenant", self.tenant_windows)]
        for key, windows in checks:
            sends = self._sends[key]
            longest = max(seconds for _, seconds in windows)
            while sends and now - sends[0] > longest:
                sends.popleft()
            for count, seconds in windows:
                if sum(1 for at in sends if now - at < seconds - self.jitter_seconds) >= count:
                    self.throttled += 1
                    return False
        for key, _ in checks:
            self._sends[key].append(now)
        self.accepted += 1
        return True


def thread_of(conversation_id: str) -> str:
    return conversation_id.split(";", 1)[0]
