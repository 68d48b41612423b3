"""Progress tracking, the bundled callbacks and the fsspec adapters; no server needed."""

from __future__ import annotations

import io
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from fsspec.callbacks import DEFAULT_CALLBACK, Callback, NoOpCallback, TqdmCallback

from fsspec_unified.driver.callbacks import (
    ConsoleProgressCallback,
    FileProgressCallback,
    FsspecCallbackAdapter,
    ProgressCallback,
    ProgressCallbackAdapter,
    ProgressTracker,
    as_fsspec_callback,
    as_progress_callback,
)

KIB = 1024
MIB = 1024 * KIB


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder(ProgressCallback):
    """Records calls and counts any that overlap another (which must never happen)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.speeds: list[float] = []
        self.start_times: set[datetime] = set()
        self.overlaps = 0
        self._busy = threading.Lock()

    def on_progress(self, bytes_transferred, total_bytes, start_time, current_speed):
        if not self._busy.acquire(blocking=False):
            self.overlaps += 1
            return
        try:
            self.calls.append((bytes_transferred, total_bytes))
            self.speeds.append(current_speed)
            self.start_times.add(start_time)
        finally:
            self._busy.release()


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class RecordingCallback(Callback):
    """An fsspec Callback remembering every set_size and relative_update."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []
        self.increments: list[int] = []

    def set_size(self, size):
        self.sizes.append(size)
        super().set_size(size)

    def relative_update(self, inc=1):
        self.increments.append(inc)
        super().relative_update(inc)


@contextmanager
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads every microsecond, so unsynchronised code shows its races."""
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous_interval)


def run_threads(count: int, target) -> None:
    threads = [threading.Thread(target=target, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# -- ProgressTracker ---------------------------------------------------------------------


def test_concurrent_updates_sum_exactly_and_are_delivered_serially_in_order():
    deltas = [[1 + (index * 7 + step) % 13 for step in range(1500)] for index in range(8)]
    total = sum(map(sum, deltas))
    recorder = Recorder()
    tracker = ProgressTracker(total, recorder, min_interval_s=0)
    with frequent_thread_switches():
        run_threads(8, lambda index: [tracker.update(delta) for delta in deltas[index]])
    values = [done for done, _ in recorder.calls]
    assert recorder.overlaps == 0
    assert tracker.bytes_transferred == total
    assert values == sorted(values) and len(set(values)) == len(values)
    assert recorder.calls[-1] == (total, total)
    assert {seen_total for _, seen_total in recorder.calls} == {total}
    assert len(recorder.start_times) == 1
    assert next(iter(recorder.start_times)).tzinfo is not None


def test_updates_within_the_interval_are_throttled():
    clock = FakeClock()
    recorder = Recorder()
    tracker = ProgressTracker(1000, recorder, min_interval_s=0.1, clock=clock)
    tracker.update(10)
    clock.advance(0.05)
    tracker.update(10)
    assert recorder.calls == [(10, 1000)]
    clock.advance(0.06)
    tracker.update(10)
    assert recorder.calls == [(10, 1000), (30, 1000)]


def test_update_reaching_the_total_is_delivered_despite_throttling():
    clock = FakeClock()
    recorder = Recorder()
    tracker = ProgressTracker(100, recorder, clock=clock)
    tracker.update(40)
    tracker.update(50)
    tracker.update(10)
    assert recorder.calls == [(40, 100), (100, 100)]
    tracker.finish()
    assert recorder.calls == [(40, 100), (100, 100)]


def test_finish_delivers_a_throttled_last_update_once():
    clock = FakeClock()
    recorder = Recorder()
    tracker = ProgressTracker(0, recorder, clock=clock)  # unknown total: never "reached"
    tracker.update(5)
    tracker.update(7)
    assert recorder.calls == [(5, 0)]
    tracker.finish()
    tracker.finish()
    assert recorder.calls == [(5, 0), (12, 0)]


def test_finish_reports_an_empty_transfer():
    recorder = Recorder()
    ProgressTracker(0, recorder).finish()
    assert recorder.calls == [(0, 0)]


def test_bytes_beyond_a_known_total_are_clamped():
    recorder = Recorder()
    tracker = ProgressTracker(100, recorder, min_interval_s=0)
    tracker.update(80)
    tracker.update(80)
    assert tracker.bytes_transferred == 100
    assert recorder.calls == [(80, 100), (100, 100)]


def test_negative_update_is_rejected():
    tracker = ProgressTracker(100)
    with pytest.raises(ValueError):
        tracker.update(-1)
    assert tracker.bytes_transferred == 0


def test_speed_follows_the_recent_window_and_drops_to_zero_after_a_stall():
    clock = FakeClock()
    recorder = Recorder()
    tracker = ProgressTracker(0, recorder, min_interval_s=0, speed_window_s=5, clock=clock)
    for _ in range(100):  # 10 s at 1 KiB/s
        clock.advance(0.1)
        tracker.update(KIB // 10)
    for _ in range(60):  # then 6 s at 10 MiB/s
        clock.advance(0.1)
        tracker.update(MIB)
    assert recorder.speeds[-1] == pytest.approx(10 * MIB, rel=0.03)
    clock.advance(6)  # stalled for longer than the window, then one more byte
    tracker.update(1)
    assert recorder.speeds[-1] == pytest.approx(1 / 6)


def test_resumed_transfer_starts_at_the_bytes_already_done():
    clock = FakeClock()
    recorder = Recorder()
    tracker = ProgressTracker(100, recorder, clock=clock)
    tracker.resume_from(40)
    clock.advance(1)
    tracker.update(10)
    assert recorder.calls == [(50, 100)]
    assert recorder.speeds == [pytest.approx(10.0)]  # the resumed bytes are not speed
    with pytest.raises(RuntimeError):
        tracker.resume_from(0)


def test_tracker_calls_every_callback_in_a_list():
    first, second = Recorder(), Recorder()
    tracker = ProgressTracker(10, [first, second])
    tracker.update(10)
    assert first.calls == second.calls == [(10, 10)]


# -- ConsoleProgressCallback -----------------------------------------------------------


def test_console_redraws_one_line_on_a_terminal():
    stream = FakeTTY()
    tracker = ProgressTracker(
        4 * MIB, ConsoleProgressCallback(stream, label="up"), min_interval_s=0
    )
    for _ in range(4):
        tracker.update(MIB)
    output = stream.getvalue()
    assert output.count("\r") == 4 and output.count("\n") == 1 and output.endswith("\n")
    assert "up  25.0%  1.0 MiB / 4.0 MiB" in output
    assert "ETA" in output
    assert output.split("\r")[-1].startswith("up 100.0%  4.0 MiB / 4.0 MiB")


def test_console_is_quiet_off_a_terminal_until_the_final_line():
    stream = io.StringIO()
    tracker = ProgressTracker(3 * KIB, ConsoleProgressCallback(stream), min_interval_s=0)
    tracker.update(KIB)
    tracker.update(KIB)
    assert stream.getvalue() == ""
    tracker.update(KIB)
    output = stream.getvalue()
    assert output.startswith("100.0%  3.0 KiB / 3.0 KiB") and output.count("\n") == 1
    assert "\r" not in output


def test_console_prints_nothing_off_a_terminal_for_an_unknown_total():
    stream = io.StringIO()
    tracker = ProgressTracker(0, ConsoleProgressCallback(stream), min_interval_s=0)
    tracker.update(KIB)
    tracker.finish()
    assert stream.getvalue() == ""


# -- FileProgressCallback --------------------------------------------------------------


def test_file_callback_appends_one_json_line_per_call(tmp_path):
    path = tmp_path / "progress.jsonl"
    path.write_text('{"earlier": true}\n')
    with FileProgressCallback(path) as callback:
        tracker = ProgressTracker(1000, callback, min_interval_s=0)
        tracker.update(250)
        tracker.update(750)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0] == {"earlier": True}
    assert [(r["bytes_transferred"], r["total_bytes"], r["percent"]) for r in records[1:]] == [
        (250, 1000, 25.0),
        (1000, 1000, 100.0),
    ]
    assert datetime.fromisoformat(records[1]["time"]).tzinfo is not None
    assert all(r["speed_bps"] >= 0 for r in records[1:])


def test_file_callback_keeps_lines_whole_under_concurrent_calls(tmp_path):
    path = tmp_path / "progress.jsonl"
    start = datetime.now().astimezone()
    with FileProgressCallback(path) as callback:
        run_threads(
            8, lambda index: [callback.on_progress(step, 400, start, 1.5) for step in range(200)]
        )
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 1600
    assert all(r["percent"] == r["bytes_transferred"] / 4 for r in records)
    assert sorted(r["bytes_transferred"] for r in records) == sorted(list(range(200)) * 8)


# -- fsspec adapters -------------------------------------------------------------------


def test_fsspec_adapter_sets_size_once_and_increments_add_up_to_the_total():
    fsspec_callback = RecordingCallback()
    tracker = ProgressTracker(
        8000, FsspecCallbackAdapter(fsspec_callback), clock=FakeClock()
    )  # no time passes, so only the first and the final update get through
    run_threads(8, lambda index: [tracker.update(1) for _ in range(1000)])
    assert fsspec_callback.sizes == [8000]
    assert len(fsspec_callback.increments) == 2
    assert sum(fsspec_callback.increments) == fsspec_callback.value == 8000


def test_fsspec_adapter_drives_a_tqdm_progress_bar():
    bar_output = io.StringIO()
    fsspec_callback = TqdmCallback(tqdm_kwargs={"file": bar_output})
    tracker = ProgressTracker(10 * KIB, FsspecCallbackAdapter(fsspec_callback), min_interval_s=0)
    for _ in range(10):
        tracker.update(KIB)
    assert fsspec_callback.tqdm.total == fsspec_callback.tqdm.n == 10 * KIB
    fsspec_callback.close()
    assert "100%" in bar_output.getvalue()


def test_fsspec_adapter_works_with_the_no_op_callback():
    noop = NoOpCallback()
    tracker = ProgressTracker(100, FsspecCallbackAdapter(noop), min_interval_s=0)
    tracker.update(30)
    tracker.update(70)
    assert (noop.size, noop.value) == (100, 100)


def test_progress_callback_adapter_forwards_fsspec_updates():
    recorder = Recorder()
    adapter = ProgressCallbackAdapter(recorder, min_interval_s=0)
    adapter.set_size(100)
    assert recorder.calls == []
    adapter.relative_update(30)
    adapter.relative_update(20)
    adapter.absolute_update(40)  # backwards: ignored
    adapter.absolute_update(100)
    assert recorder.calls == [(30, 100), (50, 100), (100, 100)]
    assert all(speed >= 0 for speed in recorder.speeds)
    assert next(iter(recorder.start_times)).tzinfo is not None


def test_progress_callback_adapter_close_delivers_a_throttled_value():
    recorder = Recorder()
    with ProgressCallbackAdapter(recorder, min_interval_s=3600) as adapter:
        adapter.relative_update(5)
        adapter.relative_update(5)
        assert recorder.calls == [(5, 0)]
    assert recorder.calls == [(5, 0), (10, 0)]


def test_progress_callback_adapter_counts_concurrent_relative_updates():
    recorder = Recorder()
    adapter = ProgressCallbackAdapter(recorder, size=4000)
    with frequent_thread_switches():
        run_threads(8, lambda index: [adapter.relative_update(1) for _ in range(500)])
    assert adapter.value == 4000
    assert recorder.calls[-1] == (4000, 4000) and recorder.overlaps == 0


def test_as_progress_callback_accepts_the_documented_kinds():
    recorder = Recorder()
    fsspec_callback = RecordingCallback()
    assert as_progress_callback(None) is None
    assert as_progress_callback(DEFAULT_CALLBACK) is None
    assert as_progress_callback(recorder) is recorder
    assert as_progress_callback(ProgressCallbackAdapter(recorder)) is recorder
    wrapped = as_progress_callback(fsspec_callback)
    assert isinstance(wrapped, FsspecCallbackAdapter) and wrapped.callback is fsspec_callback


@pytest.mark.parametrize("value", [lambda done, total: None, "progress", 42])
def test_as_progress_callback_rejects_anything_else(value):
    with pytest.raises(TypeError):
        as_progress_callback(value)


def test_as_fsspec_callback_accepts_the_documented_kinds():
    recorder = Recorder()
    fsspec_callback = RecordingCallback()
    assert as_fsspec_callback(None) is DEFAULT_CALLBACK
    assert as_fsspec_callback(fsspec_callback) is fsspec_callback
    assert as_fsspec_callback(FsspecCallbackAdapter(fsspec_callback)) is fsspec_callback
    wrapped = as_fsspec_callback(recorder)
    assert isinstance(wrapped, ProgressCallbackAdapter) and wrapped.progress is recorder


@pytest.mark.parametrize("value", [lambda done, total: None, "callback", 42])
def test_as_fsspec_callback_rejects_anything_else(value):
    with pytest.raises(TypeError):
        as_fsspec_callback(value)
