"""Process-local counters in Prometheus text format (each replica is scraped on its own)."""

from __future__ import annotations

from collections import Counter


class Metrics:
    def __init__(self) -> None:
        self._counters: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()

    def count(self, name: str, **labels: str) -> None:
        self._counters[(name, tuple(sorted(labels.items())))] += 1

    def render(self, gauges: dict[str, float]) -> str:
        lines: list[str] = []
        for name in sorted({name for name, _ in self._counters}):
            lines.append(f"# TYPE {name} counter")
            for (metric, labels), value in sorted(self._counters.items()):
                if metric == name:
                    rendered = ",".join(f'{key}="{val}"' for key, val in labels)
                    lines.append(f"{name}{{{rendered}}} {value}" if rendered else f"{name} {value}")
        typed: set[str] = set()
        for name, gauge in sorted(gauges.items()):  # a name may carry labels: `backlog{queue="alerts"}`
            family = name.split("{", 1)[0]
            if family not in typed:
                typed.add(family)
                lines.append(f"# TYPE {family} gauge")
            lines.append(f"{name} {gauge}")
        return "\n".join(lines) + "\n"
