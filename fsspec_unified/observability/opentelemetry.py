"""Export a :class:`~.metrics.MetricsRegistry` through OpenTelemetry, when
``opentelemetry-api`` is installed (with an SDK and exporter configured by the application)::

    from fsspec_unified.observability.opentelemetry import instrument

    instrument(fs.metrics_registry, attributes={"filesystem": "lake"})

Every figure is an *observable* instrument: the SDK calls back at each collection and the
callback reads one snapshot, so recording stays as cheap as without OpenTelemetry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from opentelemetry import metrics as otel_metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from .metrics import MetricsRegistry, MetricsSnapshot

PREFIX = "fsspec_unified"
_SNAPSHOT_REUSE_S = 1.0  # one collection reads all instruments from one snapshot


def instrument(metrics: MetricsRegistry, meter: Meter | None = None,
               attributes: dict[str, str] | None = None) -> list:
    """Create the observable instruments for ``metrics`` on ``meter`` (default: the global
    meter provider's ``fsspec_unified`` meter) and return them."""
    meter = meter or otel_metrics.get_meter("fsspec_unified")
    base = dict(attributes or {})
    latest: list = [0.0, None]
    lock = threading.Lock()

    def snapshot() -> MetricsSnapshot:
        with lock:
            if latest[1] is None or time.monotonic() - latest[0] > _SNAPSHOT_REUSE_S:
                latest[:] = [time.monotonic(), metrics.snapshot()]
            return latest[1]

    def observe(read: Callable[[MetricsSnapshot], Iterable[tuple[float, dict]]]):
        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(value, {**base, **extra}) for value, extra in read(snapshot())]
        return [callback]

    def by_kind(kind: str, field: str):
        def read(s: MetricsSnapshot):
            stats = s.operations if kind == "operation" else s.requests
            return [(getattr(stat, field), {kind: name}) for name, stat in stats.items()]
        return observe(read)

    counters = [
        ("operations", "Finished operations, by kind.", by_kind("operation", "count")),
        ("operation.errors", "Failed operations, by kind.", by_kind("operation", "errors")),
        ("requests", "Finished requests, by kind.", by_kind("request", "count")),
        ("request.errors", "Failed requests, by kind.", by_kind("request", "errors")),
        ("bytes", "Bytes moved, by direction.", observe(lambda s: [
            (s.bytes_read, {"direction": "read"}),
            (s.bytes_written, {"direction": "written"})])),
        ("errors", "Failed requests, by error code.", observe(lambda s: [
            (count, {"code": code}) for code, count in s.errors_by_code.items()])),
        ("responses", "HTTP responses, by status.", observe(lambda s: [
            (count, {"status": status}) for status, count in s.responses_by_status.items()])),
        ("retries", "Requests sent again.", observe(lambda s: [(s.retries, {})])),
        ("throttled", "Throttling responses.", observe(lambda s: [(s.throttled, {})])),
    ]
    gauges = [
        ("requests.in_flight", "Requests holding a slot now.",
         observe(lambda s: [(s.concurrency_current, {})])),
        ("requests.in_flight.peak", "Most requests ever in flight at once.",
         observe(lambda s: [(s.concurrency_peak, {})])),
        ("request.latency.p99", "p99 latency of recent requests, by kind (ms).",
         observe(lambda s: [(stat.latency.p99_ms, {"request": name})
                            for name, stat in s.requests.items()])),
    ]
    created = [meter.create_observable_counter(f"{PREFIX}.{name}", callbacks=callbacks,
                                               description=text)
               for name, text, callbacks in counters]
    created += [meter.create_observable_gauge(f"{PREFIX}.{name}", callbacks=callbacks,
                                              description=text)
                for name, text, callbacks in gauges]
    return created
