"""``MetricsRegistry``: what one filesystem or transfer manager did, as numbers.

Every operation a caller starts on the filesystem or manager, and every request a driver sends
for one, is counted here (a driver used on its own records nothing): operations
and requests by kind with their latency percentiles, bytes read and written, HTTP responses
by status, errors by code, retries, throttling responses, and requests in flight (current and
peak). Memory is fixed: latencies are kept as the most recent :data:`LATENCY_SAMPLES` per
kind, and the windowed error statistics (:mod:`.alerts`) keep one small bucket per second.

Bytes read count every byte received, those of an attempt that broke off midway and was
resumed included; bytes written count the bodies of requests that succeeded.

Recording is a lock and a few dictionary updates, cheap next to a request; a snapshot copies
the numbers under the same lock, so it is consistent and safe to take from any thread.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import weakref
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .alerts import AlertPolicy, AlertState, ErrorReport, ErrorWindow

#: Latencies kept per kind (a ring of the most recent), enough for a stable p99.
LATENCY_SAMPLES = 2048
#: HTTP statuses that mean "slow down" (S3 SlowDown is a 503; some gateways send 429).
THROTTLING_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class LatencySummary:
    """Latency of one kind over its most recent samples, in milliseconds."""

    count: int = 0
    mean_ms: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0


@dataclass(frozen=True)
class KindStats:
    """Totals of one kind of operation or request since the registry started."""

    count: int
    errors: int
    bytes: int
    latency: LatencySummary


@dataclass(frozen=True)
class MetricsSnapshot:
    """A consistent copy of a :class:`MetricsRegistry` (see :meth:`as_dict` for JSON)."""

    taken_at: datetime
    uptime_s: float
    #: Caller-level operations (``put_file``, ``cat_file``, ``ls``, ...).
    operations: dict[str, KindStats]
    #: Driver requests (``upload_part``, ``get_object``, ``list_objects``, ...).
    requests: dict[str, KindStats]
    bytes_read: int
    bytes_written: int
    responses_by_status: dict[int, int]
    errors_by_code: dict[str, int]
    retries: int
    throttled: int
    concurrency_current: int
    concurrency_peak: int
    concurrency_limit: int

    def as_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["taken_at"] = self.taken_at.isoformat()
        return values


class _Kind:
    """Counters and a latency ring of one kind."""

    __slots__ = ("bytes", "count", "errors", "max_s", "next", "samples", "total_s")

    def __init__(self) -> None:
        self.count = self.errors = self.bytes = self.next = 0
        self.total_s = self.max_s = 0.0
        self.samples: list[float] = []

    def add(self, seconds: float, failed: bool, size_bytes: int) -> None:
        self.count += 1
        self.errors += failed
        self.bytes += size_bytes
        self.total_s += seconds
        self.max_s = max(self.max_s, seconds)
        if len(self.samples) < LATENCY_SAMPLES:
            self.samples.append(seconds)
        else:
            self.samples[self.next] = seconds
            self.next = (self.next + 1) % LATENCY_SAMPLES

    def stats(self) -> KindStats:
        ordered = sorted(self.samples)

        def percentile(p: float) -> float:
            if not ordered:
                return 0.0
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

        latency = LatencySummary(
            count=self.count,
            mean_ms=self.total_s / self.count * 1000 if self.count else 0.0,
            p50_ms=percentile(0.50), p90_ms=percentile(0.90), p99_ms=percentile(0.99),
            max_ms=self.max_s * 1000,
        )
        return KindStats(self.count, self.errors, self.bytes, latency)


@dataclass(eq=False)  # identity: one registry per filesystem or manager
class MetricsRegistry:
    """The numbers of one filesystem or transfer manager (see the module docstring).

    ``alert_policy`` decides when :meth:`record_request` and :meth:`record_retry` call its
    ``on_alert`` hook (see :class:`~.alerts.AlertPolicy`).
    """

    alert_policy: AlertPolicy | None = None
    #: Returns the requests in flight, their peak and the budget's size (the scheduler's).
    concurrency: Callable[[], tuple[int, int, int]] = field(
        default=lambda: (0, 0, 0), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.reset()
        _REGISTRIES.add(self)

    def reset(self) -> None:
        """Start counting afresh (the alert policy stays)."""
        with self._lock:
            self._started = time.monotonic()
            self._operations: defaultdict[str, _Kind] = defaultdict(_Kind)
            self._requests: defaultdict[str, _Kind] = defaultdict(_Kind)
            self._statuses: Counter[int] = Counter()
            self._errors: Counter[str] = Counter()
            self._bytes_read = self._bytes_written = 0
            self._retries = self._throttled = 0
            self._window = ErrorWindow()
            self._alert_state = AlertState()

    # -- recording -----------------------------------------------------------------------

    def record_request(self, operation: str, seconds: float, size_bytes: int,
                       error_code: str | None, fault: bool | None = None) -> None:
        """One driver request finished (``error_code`` set if it failed). ``fault`` (default:
        whether it failed) says whether the failure counts towards the error rate of the
        windowed statistics and alerts; an answer such as "not found" does not."""
        failed = error_code is not None
        with self._lock:
            self._requests[operation].add(seconds, failed, size_bytes)
            if failed:
                self._errors[error_code] += 1
            self._window.add_request(
                operation, error_code if (failed if fault is None else fault) else None)
        self._check_alerts()

    def record_operation(self, name: str, seconds: float, size_bytes: int,
                         failed: bool) -> None:
        """One caller-level operation finished."""
        with self._lock:
            self._operations[name].add(seconds, failed, size_bytes)

    def record_response(self, status: int) -> None:
        """One HTTP response arrived (the SDKs' own retries included)."""
        with self._lock:
            self._statuses[status] += 1
            if status in THROTTLING_STATUSES:
                self._throttled += 1

    def record_retry(self, error_code: str) -> None:
        """The engine is about to send a request again after ``error_code``."""
        with self._lock:
            self._retries += 1
            self._window.add_retry(error_code)
        self._check_alerts()

    def add_bytes(self, *, read: int = 0, written: int = 0) -> None:
        with self._lock:
            self._bytes_read += read
            self._bytes_written += written

    # -- reading -------------------------------------------------------------------------

    def snapshot(self) -> MetricsSnapshot:
        current, peak, limit = self.concurrency()
        with self._lock:
            return MetricsSnapshot(
                taken_at=datetime.now(timezone.utc),
                uptime_s=time.monotonic() - self._started,
                operations={name: kind.stats() for name, kind in self._operations.items()},
                requests={name: kind.stats() for name, kind in self._requests.items()},
                bytes_read=self._bytes_read, bytes_written=self._bytes_written,
                responses_by_status=dict(self._statuses), errors_by_code=dict(self._errors),
                retries=self._retries, throttled=self._throttled,
                concurrency_current=current, concurrency_peak=peak, concurrency_limit=limit,
            )

    def error_report(self, window_s: float = 300.0) -> ErrorReport:
        """Errors by code and by operation over the last ``window_s`` seconds."""
        with self._lock:
            return self._window.report(window_s)

    def _check_alerts(self) -> None:
        if self.alert_policy is None:
            return
        with self._lock:
            alerts = self.alert_policy.due(self._window, self._alert_state)
        for alert in alerts:  # outside the lock: the hook may read the registry
            self.alert_policy.fire(alert)


_REGISTRIES: weakref.WeakSet[MetricsRegistry] = weakref.WeakSet()


def _new_locks_after_fork() -> None:
    # A parent thread may have held a registry's lock at the moment of the fork; the child
    # (a multiprocessing or dask worker) would wait for it forever.
    for registry in list(_REGISTRIES):
        registry._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_locks_after_fork)
