"""Transfer pieces that need no server: retry policy, token bucket, part sizing, config."""

from __future__ import annotations

import time

import pytest

from fsspec_unified import exceptions
from fsspec_unified.driver.engine.bandwidth import TokenBucket
from fsspec_unified.driver.engine.config import TransferConfig
from fsspec_unified.driver.engine.part_sizes import choose_part_size
from fsspec_unified.driver.engine.retry import RetryPolicy
from fsspec_unified.driver.types import GIB, MIB, DriverCapabilities


def test_retry_retries_transient_errors_then_succeeds():
    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise exceptions.ThrottlingError("SlowDown", code="SlowDown", status=503)
        return "ok"

    policy = RetryPolicy(max_attempts=5, base_delay_s=1, max_delay_s=3)
    assert policy.call(flaky, description="test", sleep=waits.append) == "ok"
    assert len(calls) == 3 and len(waits) == 2
    assert 0 <= waits[0] <= 1 and 0 <= waits[1] <= 2


@pytest.mark.parametrize(
    "error",
    [
        exceptions.AuthenticationError("denied", status=403),
        exceptions.InvalidArgumentError("bad"),
        exceptions.ObjectNotFoundError("gone", status=404),
        ValueError("a bug"),
    ],
)
def test_retry_never_retries_permanent_errors(error):
    calls = []

    def failing():
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        RetryPolicy(max_attempts=5).call(failing, description="test", sleep=lambda s: None)
    assert len(calls) == 1


def test_retry_gives_up_after_max_attempts_and_logs(caplog):
    calls = []

    def down():
        calls.append(1)
        raise exceptions.ConnectionError("refused")

    with pytest.raises(exceptions.ConnectionError):
        RetryPolicy(max_attempts=3).call(down, description="upload_part 7", sleep=lambda s: None)
    assert len(calls) == 3
    assert "upload_part 7 failed after 3 attempts" in caplog.text


@pytest.mark.parametrize("max_delay_s", [0.02, 30.0])
def test_retry_with_a_time_budget_stops_when_it_is_spent_and_never_waits_past_it(max_delay_s):
    """Short waits: many attempts, none after the budget; long waits: cut at the budget."""
    calls, waits = [], []

    def down():
        calls.append(time.monotonic())
        raise exceptions.ConnectionError("refused")

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    policy = RetryPolicy(max_attempts=10_000, base_delay_s=max_delay_s, max_delay_s=max_delay_s,
                         max_elapsed_s=0.3)
    started = time.monotonic()
    with pytest.raises(exceptions.ConnectionError):
        policy.call(down, description="test", sleep=sleep)
    assert 0.3 <= time.monotonic() - started < 1.0
    assert calls[-2] - started < 0.3  # the last attempt was the one allowed at the end
    assert all(wait <= 0.3 for wait in waits)
    assert len(calls) >= (5 if max_delay_s < 1 else 2)


def test_backoff_grows_exponentially_up_to_the_cap():
    policy = RetryPolicy(base_delay_s=1, max_delay_s=5)
    ceilings = [max(policy.delay_s(attempt) for _ in range(200)) for attempt in (1, 2, 3, 6)]
    assert ceilings[0] <= 1 < ceilings[1] <= 2 < ceilings[2] <= 4 < ceilings[3] <= 5


def test_token_bucket_converges_on_the_rate():
    now = [0.0]
    bucket = TokenBucket(1000, burst_bytes=100, clock=lambda: now[0])
    waits = [bucket.reserve(500) for _ in range(4)]  # 2000 bytes asked at t=0
    assert waits == pytest.approx([0.4, 0.9, 1.4, 1.9])
    now[0] = 10.0
    assert bucket.reserve(50) == 0  # refilled, but never beyond the burst
    assert bucket.reserve(100) == pytest.approx(0.05)


def test_part_size_grows_to_fit_max_parts_and_respects_the_minimum():
    caps = DriverCapabilities()
    assert choose_part_size(100 * MIB, 1, caps) == 5 * MIB
    size = choose_part_size(200 * GIB, 5 * MIB, caps)
    assert size % MIB == 0 and size * caps.max_parts >= 200 * GIB
    with pytest.raises(exceptions.UploadError):
        choose_part_size(60 * 1024 * GIB, 5 * MIB, caps)


@pytest.mark.parametrize(
    "values",
    [{"part_size_bytes": 0}, {"max_workers": 0}, {"rate_limit_bytes_per_s": -1}],
)
def test_transfer_config_rejects_non_positive_values(values):
    with pytest.raises(exceptions.ConfigurationError):
        TransferConfig(**values)
