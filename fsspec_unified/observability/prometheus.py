"""Export a :class:`~.metrics.MetricsRegistry` to Prometheus (``pip install
fsspec-unified[metrics]``)::

    from prometheus_client import start_http_server
    from fsspec_unified.observability.prometheus import register

    register(fs.metrics_registry, labels={"filesystem": "lake"})
    start_http_server(9100)

The collector reads a snapshot at each scrape, so nothing is counted twice and nothing runs
between scrapes. Counters end in ``_total``; latency quantiles (over the most recent requests
of each kind) are gauges with a ``quantile`` label.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

from .metrics import KindStats, MetricsRegistry

PREFIX = "fsspec_unified"
_QUANTILES = (("0.5", "p50_ms"), ("0.9", "p90_ms"), ("0.99", "p99_ms"))


class MetricsCollector:
    """A Prometheus collector over one registry, with constant ``labels`` on every sample."""

    def __init__(self, metrics: MetricsRegistry, labels: dict[str, str] | None = None) -> None:
        self._metrics = metrics
        self._labels = dict(labels or {})

    def describe(self) -> list[Metric]:
        return []  # the families depend on what was recorded; no checks at registration

    def collect(self) -> Iterator[Metric]:
        snapshot = self._metrics.snapshot()
        names, values = list(self._labels), list(self._labels.values())
        yield from self._kinds("operation", snapshot.operations, names, values)
        yield from self._kinds("request", snapshot.requests, names, values)

        moved = CounterMetricFamily(f"{PREFIX}_bytes", "Bytes moved, by direction.",
                                    labels=[*names, "direction"])
        moved.add_metric([*values, "read"], snapshot.bytes_read)
        moved.add_metric([*values, "written"], snapshot.bytes_written)
        yield moved
        yield self._by_label("responses", "HTTP responses, by status (SDK retries included).",
                             "status", {str(k): v for k, v in snapshot.responses_by_status.items()},
                             names, values)
        yield self._by_label("errors", "Failed requests, by error code.", "code",
                             snapshot.errors_by_code, names, values)
        for name, help_text, value in (
            ("retries", "Requests sent again after a retryable failure.", snapshot.retries),
            ("throttled", "Throttling responses (429, 503 SlowDown).", snapshot.throttled),
        ):
            counter = CounterMetricFamily(f"{PREFIX}_{name}", help_text, labels=names)
            counter.add_metric(values, value)
            yield counter
        for name, help_text, value in (
            ("requests_in_flight", "Requests holding a slot now.", snapshot.concurrency_current),
            ("requests_in_flight_peak", "Most requests ever in flight at once.",
             snapshot.concurrency_peak),
            ("concurrency_limit", "The adaptive budget of requests in flight now.",
             snapshot.concurrency_limit),
        ):
            gauge = GaugeMetricFamily(f"{PREFIX}_{name}", help_text, labels=names)
            gauge.add_metric(values, value)
            yield gauge

    @staticmethod
    def _by_label(name: str, help_text: str, label: str, counts: dict[str, int],
                  names: list[str], values: list[str]) -> Metric:
        counter = CounterMetricFamily(f"{PREFIX}_{name}", help_text, labels=[*names, label])
        for key, count in sorted(counts.items()):
            counter.add_metric([*values, key], count)
        return counter

    @staticmethod
    def _kinds(kind: str, stats: dict[str, KindStats], names: list[str],
               values: list[str]) -> Iterator[Metric]:
        labels = [*names, kind]
        count = CounterMetricFamily(f"{PREFIX}_{kind}s", f"Finished {kind}s, by kind.",
                                    labels=labels)
        errors = CounterMetricFamily(f"{PREFIX}_{kind}_errors", f"Failed {kind}s, by kind.",
                                     labels=labels)
        moved = CounterMetricFamily(f"{PREFIX}_{kind}_bytes", f"Bytes of {kind}s, by kind.",
                                    labels=labels)
        latency = GaugeMetricFamily(f"{PREFIX}_{kind}_latency_seconds",
                                    f"Latency of recent {kind}s, by kind and quantile.",
                                    labels=[*labels, "quantile"])
        for name, stat in sorted(stats.items()):
            count.add_metric([*values, name], stat.count)
            errors.add_metric([*values, name], stat.errors)
            moved.add_metric([*values, name], stat.bytes)
            for quantile, field_name in _QUANTILES:
                latency.add_metric([*values, name, quantile],
                                   getattr(stat.latency, field_name) / 1000)
        yield from (count, errors, moved, latency)


def register(metrics: MetricsRegistry, registry: CollectorRegistry = REGISTRY,
             labels: dict[str, str] | None = None) -> MetricsCollector:
    """Register a collector for ``metrics`` (e.g. ``fs.metrics_registry``) and return it
    (``registry.unregister(collector)`` to stop exporting)."""
    collector = MetricsCollector(metrics, labels)
    registry.register(collector)
    return collector
