"""The metrics registry, the error window and the alert policy on their own: numbers a user
reads from ``fs.metrics()`` and ``fs.error_report()``, with a fake clock where time matters."""

from __future__ import annotations

import json
import logging

import pytest

from fsspec_unified.exceptions import ConfigurationError
from fsspec_unified.observability import AlertPolicy, MetricsRegistry
from fsspec_unified.observability.alerts import ErrorWindow


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_latency_percentiles_and_totals_by_kind():
    metrics = MetricsRegistry()
    for ms in range(1, 101):
        metrics.record_request("get_object", ms / 1000, 0, None)
    metrics.record_request("get_object", 0.5, 0, "NoSuchKey")
    metrics.record_request("upload_part", 0.01, 5 * 2**20, None)
    snapshot = metrics.snapshot()
    get = snapshot.requests["get_object"]
    assert (get.count, get.errors) == (101, 1)
    assert get.latency.p50_ms == pytest.approx(51, abs=1)
    assert get.latency.p99_ms == pytest.approx(100, abs=1)
    assert get.latency.max_ms == pytest.approx(500)
    assert snapshot.requests["upload_part"].bytes == 5 * 2**20
    assert snapshot.errors_by_code == {"NoSuchKey": 1}
    json.dumps(snapshot.as_dict())  # what a user ships to a dashboard


def test_latency_memory_is_bounded():
    from fsspec_unified.observability.metrics import LATENCY_SAMPLES

    metrics = MetricsRegistry()
    for _ in range(LATENCY_SAMPLES * 3):
        metrics.record_request("head_object", 0.001, 0, None)
    metrics.record_request("head_object", 2.0, 0, None)
    assert len(metrics._requests["head_object"].samples) == LATENCY_SAMPLES
    assert metrics.snapshot().requests["head_object"].latency.max_ms == pytest.approx(2000)


def test_throttling_responses_and_statuses_are_counted():
    metrics = MetricsRegistry()
    for status in (200, 503, 429, 500, 200):
        metrics.record_response(status)
    snapshot = metrics.snapshot()
    assert snapshot.throttled == 2
    assert snapshot.responses_by_status == {200: 2, 503: 1, 429: 1, 500: 1}


def test_error_report_covers_only_its_window():
    clock = FakeClock()
    window = ErrorWindow(clock)
    window.add_request("get_object", "InternalError")
    clock.now += 120
    for _ in range(3):
        window.add_request("upload_part", None)
    window.add_request("upload_part", "SlowDown")
    window.add_retry("SlowDown")
    recent = window.report(60)
    assert (recent.requests, recent.errors, recent.retries) == (4, 1, 1)
    assert recent.by_code == {"SlowDown": 1}
    assert recent.by_operation == {"upload_part": {"SlowDown": 1}}
    assert recent.error_rate == pytest.approx(0.25)
    assert window.report(300).by_code == {"InternalError": 1, "SlowDown": 1}


def test_alert_fires_on_the_error_rate_once_per_cooldown(caplog):
    clock = FakeClock()
    alerts = []
    policy = AlertPolicy(on_alert=alerts.append, error_rate=0.5, retry_rate=1.0,
                         min_requests=10, window_s=60, cooldown_s=300, clock=clock)
    metrics = MetricsRegistry(alert_policy=policy)
    metrics._window = ErrorWindow(clock)
    with caplog.at_level(logging.WARNING, logger="fsspec_unified.alerts"):
        for i in range(10):
            metrics.record_request("get_object", 0.01, 0, "InternalError" if i % 2 else None)
            clock.now += 1.1  # the policy looks at most once a second
    assert [alert.kind for alert in alerts] == ["error_rate"]
    assert alerts[0].report.by_code == {"InternalError": 5}
    assert "error_rate" in caplog.text
    for _ in range(20):  # still failing, within the cooldown: no second alert
        metrics.record_request("get_object", 0.01, 0, "InternalError")
        clock.now += 1.1
    assert len(alerts) == 1
    clock.now += 300
    for _ in range(10):  # failing again once the cooldown is over: a second alert
        metrics.record_request("get_object", 0.01, 0, "InternalError")
        clock.now += 1.1
    assert len(alerts) == 2


def test_alert_on_the_retry_rate_and_a_failing_hook_is_contained(caplog):
    clock = FakeClock()

    def broken_hook(alert):
        raise RuntimeError("pager down")

    policy = AlertPolicy(on_alert=broken_hook, retry_rate=0.3, min_requests=5, clock=clock)
    metrics = MetricsRegistry(alert_policy=policy)
    metrics._window = ErrorWindow(clock)
    with caplog.at_level(logging.WARNING, logger="fsspec_unified.alerts"):
        for _ in range(5):
            metrics.record_request("upload_part", 0.01, 0, None)
        for _ in range(2):
            clock.now += 1.1
            metrics.record_retry("SlowDown")
    assert "retry_rate" in caplog.text
    assert "the on_alert hook failed" in caplog.text


@pytest.mark.parametrize("values", [
    {"error_rate": 0}, {"error_rate": 1.5}, {"retry_rate": -0.1}, {"window_s": 0},
    {"window_s": 7200}, {"min_requests": 0}, {"cooldown_s": -1}, {"on_alert": "pager"},
])
def test_invalid_alert_policy(values):
    with pytest.raises(ConfigurationError):
        AlertPolicy(**values)


def test_answers_are_counted_but_do_not_raise_the_error_rate():
    """A workload that checks before it writes (404s) or writes create-only (412s) is not
    failing: the codes are counted, the alert's error rate stays at 0."""
    clock = FakeClock()
    alerts = []
    policy = AlertPolicy(on_alert=alerts.append, min_requests=5, clock=clock)
    metrics = MetricsRegistry(alert_policy=policy)
    metrics._window = ErrorWindow(clock)
    for _ in range(20):
        metrics.record_request("head_object", 0.01, 0, "NoSuchKey", fault=False)
        metrics.record_request("put_object", 0.01, 10, None)
        clock.now += 1.1
    assert metrics.snapshot().errors_by_code == {"NoSuchKey": 20}
    assert metrics.error_report(60).errors == 0
    assert alerts == []


def test_one_policy_serves_many_registries_independently():
    clock = FakeClock()
    alerts = []
    policy = AlertPolicy(on_alert=alerts.append, min_requests=3, clock=clock)
    first, second = MetricsRegistry(alert_policy=policy), MetricsRegistry(alert_policy=policy)
    for metrics in (first, second):
        metrics._window = ErrorWindow(clock)
    for _ in range(4):
        first.record_request("get_object", 0.01, 0, "InternalError")
        second.record_request("get_object", 0.01, 0, "InternalError")
        clock.now += 1.1
    # Each registry raised its own alert: one's cooldown does not silence the other.
    assert len(alerts) == 2
    hash(policy)  # frozen: safe inside the frozen TransferConfig


def test_a_forked_child_records_even_if_a_parent_thread_held_the_lock():
    """A dask or multiprocessing worker forked while another thread was recording must not
    wait forever for a lock nobody in the child will release."""
    import os

    metrics = MetricsRegistry()
    metrics._lock.acquire()  # as if a parent thread were recording at the moment of the fork
    try:
        pid = os.fork()
        if pid == 0:  # the child: record, read back, report through the exit code
            code = 2
            try:
                metrics.record_request("get_object", 0.01, 0, None)
                code = 0 if metrics.snapshot().requests["get_object"].count == 1 else 1
            finally:
                os._exit(code)  # never return into the parent's test run
    finally:
        metrics._lock.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
