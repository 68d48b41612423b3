"""``AdaptiveLimit``: how many requests one scheduler lets run at once, adjusted as it goes.

The best number of requests in flight depends on what is on the other side (a laptop's
loopback server, a distant region, a throttling bucket) and cannot be known in advance. The
limit starts at ``initial`` and moves between ``floor`` and ``ceiling`` (``max_workers``):

- **Throttling** (``SlowDown``, 503, 429) halves it at once (at most once per window), as
  TCP does on loss: the server asked for less.
- **Throughput** decides the rest, by hill climbing: at the end of each window during which
  callers were waiting for a slot (demand exceeded the limit, so the limit was what bounded
  throughput), the window's throughput is compared with the previous one's: clearly better
  (by more than ``tolerance``) takes one more step in the same direction, clearly worse steps
  back and reverses the direction, about the same stays. A window in which nobody waited says
  nothing about the limit and changes nothing.

Throughput counts bytes plus a fixed ``request_weight_bytes`` per request, so that a stream of
small requests (where bytes say little) and large transfers are both measured.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class AdaptiveLimit:
    """A counting gate whose capacity adapts (see the module docstring). Thread-safe."""

    def __init__(
        self,
        ceiling: int,
        *,
        initial: int | None = None,
        floor: int = 1,
        window_s: float = 0.5,
        tolerance: float = 0.1,
        request_weight_bytes: int = 64 * 1024,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ceiling < 1 or floor < 1:
            raise ValueError("floor and ceiling must be 1 or more")
        self.floor = min(floor, ceiling)
        self.ceiling = ceiling
        self.adaptive = adaptive
        start = ceiling if initial is None else initial
        self._limit = max(self.floor, min(ceiling, start))
        self._in_use = 0
        self._peak = 0
        self._waiting = 0
        self._condition = threading.Condition()
        self._clock = clock
        self._window_s = window_s
        self._tolerance = tolerance
        self._request_weight = request_weight_bytes
        self._window_started = clock()
        self._window_work = 0.0
        self._window_contended = False
        self._window_throttled = False
        self._previous_rate: float | None = None
        self._step = 1

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def peak(self) -> int:
        """The most requests that were ever in flight at once."""
        return self._peak

    def concurrency(self) -> tuple[int, int, int]:
        """Requests in flight, their peak, and the limit now (what the metrics report)."""
        with self._condition:
            return self._in_use, self._peak, self._limit

    def acquire(self) -> None:
        with self._condition:
            if self._in_use >= self._limit:
                self._waiting += 1
                self._window_contended = True
                try:
                    while self._in_use >= self._limit:
                        self._condition.wait()
                finally:
                    self._waiting -= 1
            self._in_use += 1
            self._peak = max(self._peak, self._in_use)

    def release(self, size_bytes: int = 0, *, throttled: bool = False) -> None:
        """Give the slot back, saying how many bytes the request moved and whether the
        server throttled it."""
        with self._condition:
            self._in_use -= 1
            if self.adaptive:
                self._observe(size_bytes, throttled)
            if self._waiting and self._in_use < self._limit:
                # As many as there are free slots (more than one if the limit just grew);
                # waking every waiter for one slot would have them all fight for the lock.
                self._condition.notify(self._limit - self._in_use)

    def _observe(self, size_bytes: int, throttled: bool) -> None:
        self._window_work += size_bytes + self._request_weight
        if throttled and not self._window_throttled:
            self._window_throttled = True
            self._set(max(self.floor, self._limit // 2))
            self._step = 1  # probe upwards again once throttling stops
        now = self._clock()
        elapsed = now - self._window_started
        if elapsed < self._window_s:
            return
        rate = self._window_work / elapsed
        if self._window_contended and not self._window_throttled:
            previous = self._previous_rate
            if previous is None or rate > previous * (1 + self._tolerance):
                self._set(self._limit + self._step)  # the last step helped: one more
            elif rate < previous * (1 - self._tolerance):
                self._step = -self._step  # it hurt: go back
                self._set(self._limit + self._step)
            self._previous_rate = rate
        self._window_started = now
        self._window_work = 0.0
        self._window_contended = self._waiting > 0
        self._window_throttled = False

    def _set(self, limit: int) -> None:
        self._limit = max(self.floor, min(self.ceiling, limit))
