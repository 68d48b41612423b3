"""The figures the README's Reliability section quotes, counted while the suite runs.

Fault, restart, soak and bad-input tests add to :data:`TALLY`; the session prints it at the
end (``pytest_terminal_summary`` in ``tests/conftest.py``), so the README's numbers come from
a run anyone can repeat, not from a separate script.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ReliabilityTally:
    """Counters kept by the reliability tests (thread-safe: soak threads add to it)."""

    faults_injected: Counter = field(default_factory=Counter)  # by fault kind
    operations_survived: Counter = field(default_factory=Counter)  # by operation
    persistent_failures_reported: int = 0  # operations that failed cleanly, as they should
    bad_inputs_tried: int = 0
    bytes_verified: int = 0
    bytes_lost: int = 0  # must stay 0
    leaks: Counter = field(default_factory=Counter)  # threads / fds / connections; must stay 0
    restarts_survived: Counter = field(default_factory=Counter)  # by scenario
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, amount: int = 1, kind: str | None = None) -> None:
        """Add ``amount`` to counter ``name`` (under ``kind`` for the Counter fields)."""
        with self._lock:
            value = getattr(self, name)
            if isinstance(value, Counter):
                value[kind or "total"] += amount
            else:
                setattr(self, name, value + amount)

    def lines(self) -> list[str]:
        def counts(counter: Counter) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "none"

        return [
            f"faults injected: {sum(self.faults_injected.values())} "
            f"({counts(self.faults_injected)})",
            f"operations completed under faults: {sum(self.operations_survived.values())} "
            f"({counts(self.operations_survived)})",
            f"operations failing cleanly under persistent faults: "
            f"{self.persistent_failures_reported}",
            f"server kills survived: {counts(self.restarts_survived)}",
            f"bad inputs tried: {self.bad_inputs_tried}",
            f"bytes verified: {self.bytes_verified}; bytes lost: {self.bytes_lost}",
            f"leaks: {counts(self.leaks) if +self.leaks else '0'}",
        ]


TALLY = ReliabilityTally()
