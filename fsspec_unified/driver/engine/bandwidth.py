"""``TokenBucket``: one bandwidth limit shared by every worker of a transfer.

Workers ask for bytes before they move them; the bucket refills at ``rate_bytes_per_s`` and
holds at most ``burst_bytes``. A request larger than what is available goes into debt and the
caller sleeps until the debt is paid, so large parts and small chunks are limited alike and
the long-run rate converges on the limit whatever the number of workers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Thread-safe token bucket in bytes (see the module docstring)."""

    def __init__(
        self,
        rate_bytes_per_s: float,
        burst_bytes: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_bytes_per_s <= 0:
            raise ValueError("rate_bytes_per_s must be positive")
        self.rate_bytes_per_s = float(rate_bytes_per_s)
        # A small burst keeps the measured rate close to the limit even for short transfers.
        self.burst_bytes = float(burst_bytes if burst_bytes is not None else rate_bytes_per_s / 10)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = self.burst_bytes
        self._updated = clock()

    def reserve(self, size_bytes: int) -> float:
        """Take ``size_bytes`` now and return how many seconds the caller must wait first."""
        with self._lock:
            now = self._clock()
            self._tokens = min(
                self.burst_bytes,
                self._tokens + (now - self._updated) * self.rate_bytes_per_s,
            )
            self._updated = now
            self._tokens -= size_bytes
            return max(0.0, -self._tokens / self.rate_bytes_per_s)

    def consume(self, size_bytes: int, sleep: Callable[[float], object] = time.sleep) -> None:
        """Block until ``size_bytes`` may be sent (``sleep`` may wake early on cancel)."""
        wait_s = self.reserve(size_bytes)
        if wait_s > 0:
            sleep(wait_s)
