"""The engine's pieces on their own: the adaptive limit, the scheduler, part sizes, merging.

No server: these are the rules the engine's behaviour over HTTP (tests/filesystem/
test_one_data_path.py) rests on, checked where they can be checked exactly.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from fsspec_unified import exceptions
from fsspec_unified.driver.engine.adaptive import AdaptiveLimit
from fsspec_unified.driver.engine.config import TransferConfig
from fsspec_unified.driver.engine.part_sizes import (
    GROWN_PART_CAP_BYTES,
    PARTS_PER_DOUBLING,
    choose_part_size,
    stream_part_size,
    streamed_range_size,
)
from fsspec_unified.driver.engine.reads import merge_spans
from fsspec_unified.driver.engine.scheduler import RequestScheduler
from fsspec_unified.driver.types import GIB, MIB, DriverCapabilities

TIB = 1024 * GIB
S3_MAX_OBJECT_BYTES = 5 * TIB


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _window(limit: AdaptiveLimit, clock: FakeClock, requests: int, size: int,
            contended: bool = True, throttled: bool = False) -> None:
    """One measuring window (the limits below measure over 1 s): ``requests`` requests of
    ``size`` bytes, the last one ending the window."""
    for number in range(1, requests + 1):
        limit.acquire()
        if contended:
            limit._window_contended = True  # another caller was waiting
        if number == requests:
            clock.now += 1.0
        limit.release(size, throttled=throttled)


def test_adaptive_limit_halves_on_throttling_and_stays_within_its_bounds():
    clock = FakeClock()
    limit = AdaptiveLimit(16, initial=16, floor=2, window_s=1.0, clock=clock)
    _window(limit, clock, 4, MIB, throttled=True)
    assert limit.limit == 8  # halved once per window, not once per throttled request
    for _ in range(5):
        _window(limit, clock, 4, MIB, throttled=True)
    assert limit.limit == 2  # never below the floor


def test_adaptive_limit_climbs_while_throughput_improves_and_steps_back_when_it_drops():
    clock = FakeClock()
    limit = AdaptiveLimit(8, initial=2, window_s=1.0, clock=clock)
    rates = iter([10, 20, 40, 20])  # requests per window, 1 MiB each
    _window(limit, clock, next(rates), MIB)
    assert limit.limit == 3  # the first window probes upwards
    _window(limit, clock, next(rates), MIB)
    assert limit.limit == 4  # better: one more
    _window(limit, clock, next(rates), MIB)
    assert limit.limit == 5
    _window(limit, clock, next(rates), MIB)
    assert limit.limit == 4  # worse: back


def test_adaptive_limit_does_not_move_when_nobody_waits():
    clock = FakeClock()
    limit = AdaptiveLimit(8, initial=3, window_s=1.0, clock=clock)
    for _ in range(4):
        _window(limit, clock, 10, MIB, contended=False)
    assert limit.limit == 3


def test_a_fixed_limit_never_changes():
    clock = FakeClock()
    limit = AdaptiveLimit(8, initial=4, adaptive=False, clock=clock)
    _window(limit, clock, 10, MIB, throttled=True)
    assert limit.limit == 4


def test_scheduler_never_runs_more_requests_than_its_budget():
    scheduler = RequestScheduler(3, adaptive=False)
    in_flight, peak, lock = [0], [0], threading.Lock()

    def request(_item: int) -> None:
        with scheduler.slot():
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            time.sleep(0.01)
            with lock:
                in_flight[0] -= 1

    def one_object(_name: int) -> None:  # a coordinator that sends parts of its own
        scheduler.run_all(request, range(5), in_flight=3)

    scheduler.map(one_object, list(range(6)))
    scheduler.shutdown()
    assert peak[0] == 3 == scheduler.limit.peak


def test_task_group_stops_at_the_first_failure_and_raises_it():
    scheduler = RequestScheduler(2)
    ran: list[int] = []

    def work(item: int) -> None:
        if item == 3:
            raise exceptions.UploadError("part 3 failed")
        time.sleep(0.005)
        ran.append(item)

    with pytest.raises(exceptions.UploadError, match="part 3"):
        scheduler.run_all(work, range(100), in_flight=2)
    scheduler.shutdown()
    assert len(ran) < 10  # nothing was taken after the failure but what was in flight


def test_a_bulk_map_returns_only_once_every_item_has_finished():
    scheduler = RequestScheduler(4)
    finished: list[int] = []

    def item(number: int) -> None:
        if number == 0:
            raise exceptions.UploadError("the first file failed at once")
        time.sleep(0.05)
        finished.append(number)

    with pytest.raises(exceptions.UploadError):
        scheduler.map(item, list(range(8)))
    assert sorted(finished) == list(range(1, 8))  # none left running behind the caller
    scheduler.shutdown()


def test_a_request_made_inside_a_slot_does_not_wait_for_a_second_one():
    """A progress callback that asks the filesystem something, with a budget of one."""
    scheduler = RequestScheduler(1, adaptive=False)
    done = threading.Event()

    def nested() -> None:
        with scheduler.slot(), scheduler.slot():
            done.set()

    thread = threading.Thread(target=nested)
    thread.start()
    thread.join(timeout=5)
    assert done.is_set() and scheduler.limit.in_use == 0


def test_process_scope_shares_one_rate_limit():
    first = RequestScheduler(2, rate_limit_bytes_per_s=1e6, rate_limit_scope="process")
    second = RequestScheduler(2, rate_limit_bytes_per_s=1e6, rate_limit_scope="process")
    own = RequestScheduler(2, rate_limit_bytes_per_s=1e6)
    assert first.bandwidth is second.bandwidth and own.bandwidth is not first.bandwidth
    with pytest.raises(exceptions.ConfigurationError):
        RequestScheduler(2, rate_limit_scope="cluster")


def test_part_sizes_grow_with_the_object_within_the_provider_limits():
    caps = DriverCapabilities()
    assert choose_part_size(100 * MIB, 8 * MIB, caps) == 8 * MIB
    grown = choose_part_size(4 * GIB, 8 * MIB, caps)
    assert 8 * MIB < grown <= GROWN_PART_CAP_BYTES and grown % MIB == 0
    assert choose_part_size(100 * GIB, 8 * MIB, caps) == GROWN_PART_CAP_BYTES
    huge = choose_part_size(S3_MAX_OBJECT_BYTES, 8 * MIB, caps)
    assert huge * caps.max_parts >= S3_MAX_OBJECT_BYTES  # 10,000 parts always suffice


def test_a_stream_of_unknown_length_reaches_the_largest_s3_object_in_10000_parts():
    caps = DriverCapabilities()
    sizes = [stream_part_size(n, 8 * MIB, caps) for n in range(1, caps.max_parts + 1)]
    assert sizes[0] == sizes[PARTS_PER_DOUBLING - 1] == 8 * MIB
    assert sizes[PARTS_PER_DOUBLING] == 16 * MIB
    assert max(sizes) <= caps.max_part_size_bytes
    assert sum(sizes) >= S3_MAX_OBJECT_BYTES


def test_streamed_ranges_are_about_two_per_worker_within_floor_and_cap():
    op = SimpleNamespace(config=TransferConfig(part_size_bytes=8 * MIB, max_workers=8))
    assert streamed_range_size(op, 20 * MIB) == 8 * MIB  # never below the floor
    assert streamed_range_size(op, 256 * MIB) == 16 * MIB
    assert streamed_range_size(op, 100 * GIB) == GROWN_PART_CAP_BYTES


def test_nearby_ranges_merge_and_distant_ones_do_not():
    ranges = [(0, 10), (5, 20), (30, 40), (10_000, 10_010), (40, 40)]
    assert merge_spans(ranges, 100, max_span=1000) == [(0, 40), (10_000, 10_010)]
    assert merge_spans(ranges, 0, max_span=1000) == [(0, 20), (30, 40), (10_000, 10_010)]
    assert merge_spans([(0, 600), (600, 1200)], 100, max_span=1000) == [(0, 600), (600, 1200)]
