"""Progress reporting: the ``ProgressCallback`` interface and what transfers build around it.

- :class:`ProgressTracker` is the one object a transfer's worker threads report bytes into; it
  turns their concurrent updates into serial, throttled, never-decreasing callback calls and
  measures speed over a sliding window.
- :class:`ConsoleProgressCallback` and :class:`FileProgressCallback` are ready-made callbacks.
- :class:`FsspecCallbackAdapter` and :class:`ProgressCallbackAdapter` translate to and from
  ``fsspec.callbacks.Callback``; :func:`as_progress_callback` and :func:`as_fsspec_callback`
  accept whichever kind a caller passed.

A ``total_bytes`` of 0 means the size is unknown (a stream), except that ``(0, 0)`` reported by
:meth:`ProgressTracker.finish` is a complete, empty transfer.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any, TextIO

from fsspec.callbacks import DEFAULT_CALLBACK, Callback, NoOpCallback

from ..units import format_size

DEFAULT_MIN_INTERVAL_S = 0.1
DEFAULT_SPEED_WINDOW_S = 5.0
# Speed samples are kept at least window/this apart, which bounds memory at any update rate.
_SAMPLES_PER_WINDOW = 50


class ProgressCallback(ABC):
    """Receives progress of one transfer.

    Called from worker threads, so implementations must be thread-safe and quick;
    ``bytes_transferred`` never decreases and ``total_bytes`` never changes within a transfer.
    ``current_speed`` is in bytes per second over a recent window.
    """

    @abstractmethod
    def on_progress(
        self,
        bytes_transferred: int,
        total_bytes: int,
        start_time: datetime,
        current_speed: float,
    ) -> None:
        """Report that ``bytes_transferred`` of ``total_bytes`` are done."""


class ProgressTracker:
    """Aggregates the progress of one transfer and forwards it to its callbacks.

    Worker threads call :meth:`update` concurrently with the bytes they moved. Callers may rely on:

    - callbacks are invoked serially: never two at once for one tracker, each call going to
      every callback in order;
    - ``bytes_transferred`` passed to callbacks only grows and never exceeds a known
      ``total_bytes`` (excess is clamped); ``total_bytes`` and ``start_time`` never change;
    - calls are throttled to at most one per ``min_interval_s``, except that the update reaching
      ``total_bytes`` is always delivered, and :meth:`finish` delivers the latest count if it was
      throttled, or if nothing was delivered yet (so even an empty transfer is reported once);
    - only a worker that wins a delivery slot waits for the callbacks; throttled updates take
      one short lock. The tracker has no thread and never sleeps, so a stalled transfer
      produces no calls until the next update or :meth:`finish`.

    Count each byte once: the transfer manager reports a part (or a download range) after it
    succeeded, so a retried part is never counted twice. An exception raised by a callback
    propagates to the worker that delivered the update.
    """

    def __init__(
        self,
        total_bytes: int,
        callbacks: ProgressCallback | Iterable[ProgressCallback] | None = None,
        *,
        min_interval_s: float = DEFAULT_MIN_INTERVAL_S,
        speed_window_s: float = DEFAULT_SPEED_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``total_bytes`` is 0 when unknown; ``clock`` (seconds, monotonic) is for tests."""
        if total_bytes < 0:
            raise ValueError(f"total_bytes must be >= 0, got {total_bytes}")
        if callbacks is None:
            callbacks = ()
        elif isinstance(callbacks, ProgressCallback):
            callbacks = (callbacks,)
        self._callbacks = tuple(callbacks)
        self._total_bytes = total_bytes
        self._min_interval_s = min_interval_s
        self._speed_window_s = speed_window_s
        self._clock = clock
        self.start_time = datetime.now(timezone.utc)
        # _lock guards the count, the throttle slot and the speed samples; it is never held
        # while callbacks run. _delivery_lock serialises the callbacks.
        self._lock = threading.Lock()
        self._delivery_lock = threading.Lock()
        self._transferred = 0
        self._updated = False
        self._last_delivery_at: float | None = None
        self._samples: deque[tuple[float, int]] = deque([(clock(), 0)])
        self._delivered: int | None = None

    @property
    def total_bytes(self) -> int:
        return self._total_bytes

    @property
    def bytes_transferred(self) -> int:
        """Bytes counted so far, delivered to the callbacks or not."""
        with self._lock:
            return self._transferred

    def resume_from(self, bytes_already_done: int) -> None:
        """Count the bytes an earlier, interrupted run already transferred.

        They are part of ``bytes_transferred`` from the first callback on but not of the speed.
        Call it before the first :meth:`update`; afterwards it would let progress go backwards.
        """
        with self._lock:
            if self._updated:
                raise RuntimeError("resume_from() must be called before the first update()")
            if bytes_already_done < 0 or (
                self._total_bytes and bytes_already_done > self._total_bytes
            ):
                raise ValueError(
                    f"bytes_already_done {bytes_already_done} is outside 0..{self._total_bytes}"
                )
            self._transferred = bytes_already_done
            self._samples = deque([(self._clock(), bytes_already_done)])

    def update(self, delta_bytes: int) -> None:
        """Add ``delta_bytes`` moved by the calling worker; may call the callbacks."""
        if delta_bytes < 0:
            raise ValueError(f"progress only moves forward; got delta_bytes={delta_bytes}")
        with self._lock:
            self._updated = True
            self._transferred += delta_bytes
            if self._total_bytes:
                self._transferred = min(self._transferred, self._total_bytes)
            snapshot = self._claim_delivery(force=False)
        if snapshot is not None:
            self._deliver(*snapshot)

    def finish(self) -> None:
        """Deliver the final count if throttling held it back; call once the transfer is done."""
        with self._lock:
            snapshot = self._claim_delivery(force=True)
        self._deliver(*snapshot)

    def _claim_delivery(self, force: bool) -> tuple[int, float] | None:
        """The count and speed to deliver now, or ``None`` if throttled. Caller holds _lock."""
        now = self._clock()
        due = (
            force
            or self._last_delivery_at is None
            or now - self._last_delivery_at >= self._min_interval_s
            or 0 < self._total_bytes <= self._transferred
        )
        if not due:
            return None
        self._last_delivery_at = now
        return self._transferred, self._calculate_speed(self._transferred)

    def _calculate_speed(self, current_bytes: int) -> float:
        """Bytes per second over the last ``speed_window_s``, not since the start.

        The baseline is the newest sample at least a window old (or the oldest one kept), so a
        transfer that stalled for a whole window reports 0. Caller holds _lock.
        """
        now = self._clock()
        samples = self._samples
        cutoff = now - self._speed_window_s
        while len(samples) > 1 and samples[1][0] <= cutoff:
            samples.popleft()
        baseline_at, baseline_bytes = samples[0]
        if now - samples[-1][0] >= self._speed_window_s / _SAMPLES_PER_WINDOW:
            samples.append((now, current_bytes))
        elapsed_s = now - baseline_at
        return (current_bytes - baseline_bytes) / elapsed_s if elapsed_s > 0 else 0.0

    def _deliver(self, transferred: int, speed: float) -> None:
        with self._delivery_lock:
            # A later snapshot may have been delivered while this one waited: never go back.
            if self._delivered is not None and transferred <= self._delivered:
                return
            self._delivered = transferred
            for callback in self._callbacks:
                callback.on_progress(transferred, self._total_bytes, self.start_time, speed)


def _format_duration(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


def _is_complete(bytes_transferred: int, total_bytes: int) -> bool:
    """Whether a call reports the end of a transfer (see the module docstring on 0 totals)."""
    return bytes_transferred >= total_bytes if total_bytes > 0 else bytes_transferred == 0


def _percent(bytes_transferred: int, total_bytes: int) -> float | None:
    """Percent done, or ``None`` while the total is unknown."""
    if total_bytes > 0:
        return min(100.0, 100.0 * bytes_transferred / total_bytes)
    return 100.0 if bytes_transferred == 0 else None


class ConsoleProgressCallback(ProgressCallback):
    """Shows progress as one line: percent, done / total, speed and ETA.

    On a terminal the line is redrawn in place with ``\\r`` and ended with a newline when the
    transfer completes. On anything else (a log file, a pipe) it stays quiet until completion
    and then writes the final line once, so logs get a summary without a line per update. With
    an unknown total there is no completion to detect: a terminal shows bytes and speed and the
    line is left open; a non-terminal gets nothing.
    """

    def __init__(self, stream: TextIO | None = None, label: str = "") -> None:
        """``stream`` defaults to ``sys.stderr``; ``label`` prefixes the line (e.g. the key)."""
        self._stream = stream if stream is not None else sys.stderr
        self._is_tty = self._stream.isatty()
        self._prefix = f"{label} " if label else ""
        self._lock = threading.Lock()
        self._width = 0  # of the line currently drawn, to blank out what a shorter one leaves

    def on_progress(
        self, bytes_transferred: int, total_bytes: int, start_time: datetime, current_speed: float
    ) -> None:
        complete = _is_complete(bytes_transferred, total_bytes)
        if not (self._is_tty or complete):
            return
        line = self._prefix + self._describe(
            bytes_transferred, total_bytes, start_time, current_speed, complete
        )
        with self._lock:
            if self._is_tty:
                text = "\r" + line.ljust(self._width)
                self._width = 0 if complete else len(line)
            else:
                text = line
            self._stream.write(text + "\n" if complete else text)
            self._stream.flush()

    @staticmethod
    def _describe(done: int, total: int, start_time: datetime, speed: float, complete: bool) -> str:
        rate = f"{format_size(speed)}/s"
        percent = _percent(done, total)
        if percent is None:
            return f"{format_size(done)}  {rate}"
        if complete:
            elapsed_s = (datetime.now(timezone.utc) - start_time).total_seconds()
            timing = f"in {_format_duration(elapsed_s)}"
        else:
            timing = f"ETA {_format_duration((total - done) / speed) if speed > 0 else '?'}"
        return f"{percent:5.1f}%  {format_size(done)} / {format_size(total)}  {rate}  {timing}"


class FileProgressCallback(ProgressCallback):
    """Appends one JSON object per call to a file, for machines to follow progress.

    Each line holds ``time`` (ISO 8601, UTC), ``bytes_transferred``, ``total_bytes``,
    ``speed_bps`` and ``percent`` (``null`` while the total is unknown). Lines are written whole
    under a lock and flushed one by one, so a reader tailing the file never sees half a line.
    The file is opened in append mode at construction; :meth:`close` it, or use ``with``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()

    def on_progress(
        self, bytes_transferred: int, total_bytes: int, start_time: datetime, current_speed: float
    ) -> None:
        percent = _percent(bytes_transferred, total_bytes)
        record = {
            "time": datetime.now(timezone.utc).isoformat(),
            "bytes_transferred": bytes_transferred,
            "total_bytes": total_bytes,
            "speed_bps": round(current_speed, 1),
            "percent": None if percent is None else round(percent, 2),
        }
        line = json.dumps(record) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> FileProgressCallback:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class FsspecCallbackAdapter(ProgressCallback):
    """Feeds one transfer's progress to an fsspec ``Callback`` (``TqdmCallback``, ...).

    The first call sets the callback's size to ``total_bytes``; every call then advances it with
    ``relative_update`` by the bytes since the previous call, so the increments add up to exactly
    the bytes transferred. Use one adapter per transfer.
    """

    def __init__(self, callback: Callback) -> None:
        self.callback = callback
        self._lock = threading.Lock()
        self._reported: int | None = None  # None until set_size has been called

    def on_progress(
        self, bytes_transferred: int, total_bytes: int, start_time: datetime, current_speed: float
    ) -> None:
        with self._lock:
            if self._reported is None:
                self.callback.set_size(total_bytes)
                self._reported = 0
            if bytes_transferred > self._reported:
                self.callback.relative_update(bytes_transferred - self._reported)
                self._reported = bytes_transferred


class ProgressCallbackAdapter(Callback):
    """An fsspec ``Callback`` that forwards to a :class:`ProgressCallback`.

    Lets a ``ProgressCallback`` go where fsspec expects ``callback=``. Each ``set_size`` with a
    new size starts a new transfer; values feed a :class:`ProgressTracker`, so the
    ``ProgressCallback`` gets its usual guarantees (serial, throttled, never decreasing, speed
    over a window). A value lower than one already reported is ignored. ``close()`` (or leaving
    a ``with`` block) delivers a final value that throttling held back. The values are whatever
    the fsspec caller counts: bytes for a single-file transfer, files for the outer callback of
    a multi-file ``put``/``get``.
    """

    def __init__(
        self,
        progress: ProgressCallback,
        *,
        min_interval_s: float = DEFAULT_MIN_INTERVAL_S,
        **kwargs: Any,
    ) -> None:
        """``kwargs`` go to ``fsspec.callbacks.Callback`` (``size``, ``value``, ``hooks``)."""
        # Set before Callback.__init__: its __getattr__ turns missing attributes into no-ops.
        self.progress = progress
        self._min_interval_s = min_interval_s
        self._lock = threading.Lock()
        self._tracker: ProgressTracker | None = None
        super().__init__(**kwargs)

    def relative_update(self, inc: int = 1) -> None:
        # Callback.relative_update's "value += inc" is not atomic; workers call this at once.
        with self._lock:
            self.value += inc
        self.call()

    def call(self, hook_name: str | None = None, **kwargs: Any) -> Any:
        with self._lock:
            total_bytes = self.size or 0
            if self._tracker is None or self._tracker.total_bytes != total_bytes:
                self._tracker = ProgressTracker(
                    total_bytes, self.progress, min_interval_s=self._min_interval_s
                )
            delta = self.value - self._tracker.bytes_transferred
            if delta > 0:
                self._tracker.update(delta)
        return super().call(hook_name, **kwargs)

    def close(self) -> None:
        with self._lock:
            if self._tracker is not None:
                self._tracker.finish()
        super().close()


def as_progress_callback(obj: object) -> ProgressCallback | None:
    """The :class:`ProgressCallback` for whatever a caller passed as a progress callback.

    ``None`` and fsspec's ``NoOpCallback`` (its default) mean no reporting: ``None``. A
    ``ProgressCallback`` is returned as is, a :class:`ProgressCallbackAdapter` is unwrapped, and
    any other fsspec ``Callback`` is wrapped in :class:`FsspecCallbackAdapter`. Plain functions
    raise ``TypeError``: SDK conventions disagree on their arguments (boto3 passes a delta, oss2
    a running total), and a wrong guess would only fail inside a worker mid-transfer.
    """
    if obj is None or isinstance(obj, NoOpCallback):
        return None
    if isinstance(obj, ProgressCallback):
        return obj
    if isinstance(obj, ProgressCallbackAdapter):
        return obj.progress
    if isinstance(obj, Callback):
        return FsspecCallbackAdapter(obj)
    raise TypeError(
        f"progress callback must be a ProgressCallback, an fsspec Callback or None, not "
        f"{type(obj).__name__}; wrap a function in a ProgressCallback subclass"
    )


def as_fsspec_callback(obj: object) -> Callback:
    """The fsspec ``Callback`` for whatever a caller passed as ``callback=``.

    ``None`` gives fsspec's ``DEFAULT_CALLBACK`` (a no-op), an fsspec ``Callback`` is returned as
    is, a :class:`FsspecCallbackAdapter` is unwrapped, and any other :class:`ProgressCallback`
    is wrapped in :class:`ProgressCallbackAdapter`. Anything else raises ``TypeError``.
    """
    if obj is None:
        return DEFAULT_CALLBACK
    if isinstance(obj, Callback):
        return obj
    if isinstance(obj, FsspecCallbackAdapter):
        return obj.callback
    if isinstance(obj, ProgressCallback):
        return ProgressCallbackAdapter(obj)
    raise TypeError(
        f"callback must be an fsspec Callback, a ProgressCallback or None, not {type(obj).__name__}"
    )
