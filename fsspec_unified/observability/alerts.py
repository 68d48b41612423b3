"""Error statistics over a time window, and alerts when error or retry rates cross a line.

:class:`ErrorWindow` keeps one small bucket per second (requests, errors by operation and
code, retries by code) for the last :data:`MAX_WINDOW_S` seconds, so a report over any window
up to an hour costs a sum over at most that many buckets, and memory stays bounded whatever
the traffic.

:class:`AlertPolicy` looks at that window at most once a second: when the share of failed
requests, or of retries, over ``window_s`` crosses its threshold (with at least
``min_requests`` requests seen, so one failure out of two is not an alarm), it logs a warning
on ``fsspec_unified.alerts`` and calls ``on_alert``. The same kind of alert is not raised
again before ``cooldown_s`` has passed.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

logger = logging.getLogger("fsspec_unified.alerts")

#: The longest window a report can cover.
MAX_WINDOW_S = 3600


@dataclass(frozen=True)
class ErrorReport:
    """Errors and retries over the last ``window_s`` seconds."""

    window_s: float
    requests: int
    errors: int
    retries: int
    #: Failed requests by error code (the provider's code, else ``HTTP <status>``, else the
    #: exception's class name). Answers that are no fault ("not found", "already exists", a
    #: failed condition, a range past the end) are not counted here: a workload that checks
    #: before it writes is not failing.
    by_code: dict[str, int]
    #: Failed requests by driver operation, then by code.
    by_operation: dict[str, dict[str, int]]
    retries_by_code: dict[str, int]

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def retry_rate(self) -> float:
        return self.retries / self.requests if self.requests else 0.0


class _Second:
    __slots__ = ("errors", "requests", "retries", "second")

    def __init__(self, second: int) -> None:
        self.second = second
        self.requests = 0
        self.errors: Counter[tuple[str, str]] = Counter()
        self.retries: Counter[str] = Counter()


class ErrorWindow:
    """Per-second buckets of the last hour (not thread-safe: the registry holds its lock)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seconds: deque[_Second] = deque()

    def _now(self) -> _Second:
        second = int(self._clock())
        if not self._seconds or self._seconds[-1].second != second:
            self._seconds.append(_Second(second))
            while self._seconds[0].second <= second - MAX_WINDOW_S:
                self._seconds.popleft()
        return self._seconds[-1]

    def add_request(self, operation: str, error_code: str | None) -> None:
        """One request; ``error_code`` set if it failed in a way that says something is wrong
        (the caller leaves out answers such as "not found", see ``metrics.record_request``)."""
        bucket = self._now()
        bucket.requests += 1
        if error_code is not None:
            bucket.errors[(operation, error_code)] += 1

    def add_retry(self, error_code: str) -> None:
        self._now().retries[error_code] += 1

    def report(self, window_s: float) -> ErrorReport:
        since = self._clock() - min(window_s, MAX_WINDOW_S)
        requests = 0
        errors: Counter[tuple[str, str]] = Counter()
        retries: Counter[str] = Counter()
        for bucket in reversed(self._seconds):
            if bucket.second < int(since):
                break
            requests += bucket.requests
            errors.update(bucket.errors)
            retries.update(bucket.retries)
        by_code: Counter[str] = Counter()
        by_operation: dict[str, dict[str, int]] = {}
        for (operation, code), count in errors.items():
            by_code[code] += count
            by_operation.setdefault(operation, {})[code] = count
        return ErrorReport(
            window_s=window_s, requests=requests, errors=sum(errors.values()),
            retries=sum(retries.values()), by_code=dict(by_code), by_operation=by_operation,
            retries_by_code=dict(retries),
        )


@dataclass(frozen=True)
class Alert:
    """What ``on_alert`` receives: which rate crossed which threshold, and the report."""

    kind: str  # "error_rate" or "retry_rate"
    rate: float
    threshold: float
    report: ErrorReport
    raised_at: datetime

    def __str__(self) -> str:
        codes = ", ".join(f"{code} x{n}" for code, n in sorted(self.report.by_code.items()))
        return (f"{self.kind} {self.rate:.1%} over the last {self.report.window_s:.0f} s "
                f"(threshold {self.threshold:.1%}; {self.report.requests} requests, "
                f"{self.report.errors} errors, {self.report.retries} retries"
                f"{'; ' + codes if codes else ''})")


class AlertState:
    """When one registry last looked and last raised each kind of alert (kept by the
    registry, so one policy can serve many filesystems without one silencing another)."""

    def __init__(self) -> None:
        self.last_check = float("-inf")
        self.last_fired: dict[str, float] = {}


@dataclass(frozen=True)
class AlertPolicy:
    """When to raise an :class:`Alert` (see the module docstring): thresholds and the hook,
    nothing that changes, so one policy can be shared.

    ``on_alert`` is called in the thread whose request crossed the line; it should return
    quickly (hand the alert to a queue or a pager). An exception it raises is logged, never
    passed to the transfer.
    """

    on_alert: Callable[[Alert], object] | None = None
    error_rate: float = 0.05
    retry_rate: float = 0.20
    window_s: float = 60.0
    min_requests: int = 20
    cooldown_s: float = 300.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        from ..exceptions import ConfigurationError

        for name in ("error_rate", "retry_rate"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigurationError(f"{name}: must be a fraction in (0, 1]")
        if not 0 < self.window_s <= MAX_WINDOW_S:
            raise ConfigurationError(f"window_s: must be in (0, {MAX_WINDOW_S}]")
        if self.min_requests < 1 or self.cooldown_s < 0:
            raise ConfigurationError("min_requests must be >= 1 and cooldown_s >= 0")
        if self.on_alert is not None and not callable(self.on_alert):
            raise ConfigurationError("on_alert: must be callable")

    def due(self, window: ErrorWindow, state: AlertState) -> list[Alert]:
        """The alerts to raise now (called under the registry's lock, at most once a second
        does any work)."""
        now = self.clock()
        if now - state.last_check < 1.0:
            return []
        state.last_check = now
        report = window.report(self.window_s)
        if report.requests < self.min_requests:
            return []
        alerts = []
        for kind, rate, threshold in (("error_rate", report.error_rate, self.error_rate),
                                      ("retry_rate", report.retry_rate, self.retry_rate)):
            if rate >= threshold and now - state.last_fired.get(kind, float("-inf")) >= \
                    self.cooldown_s:
                state.last_fired[kind] = now
                alerts.append(Alert(kind, rate, threshold, report,
                                    datetime.now(timezone.utc)))
        return alerts

    def fire(self, alert: Alert) -> None:
        logger.warning("alert: %s", alert, extra={"fsspec_unified": {
            "alert": alert.kind, "rate": alert.rate, "threshold": alert.threshold,
            "window_s": alert.report.window_s, "requests": alert.report.requests,
            "errors_by_code": alert.report.by_code,
        }})
        if self.on_alert is None:
            return
        try:
            self.on_alert(alert)
        except Exception:
            logger.exception("the on_alert hook failed")
