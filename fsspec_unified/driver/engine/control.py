"""Pause, resume and cancel a running transfer from another thread.

A ``TransferControl`` is shared by the coordinator and the workers of one transfer. Workers
call :meth:`TransferControl.checkpoint` between units of work (so a pause takes effect after
the parts in flight, and nothing is cut half-way) and wait through :meth:`TransferControl.sleep`
(so a cancel interrupts backoff and rate-limit waits at once).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

from ..exceptions import TransferCancelledError
from .config import TransferResult


class TransferControl:
    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._cancelled = threading.Event()
        self.keep_resumable = False

    def pause(self) -> None:
        """Let parts in flight finish, start no new ones until :meth:`resume`."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def cancel(self, keep_resumable: bool = False) -> None:
        """Stop the transfer. Its multipart upload is aborted (and a partial download
        removed) unless ``keep_resumable`` asks to keep them for a later resume."""
        self.keep_resumable = keep_resumable
        self._cancelled.set()
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def checkpoint(self) -> None:
        """Block while paused; raise :class:`TransferCancelledError` once cancelled."""
        self._running.wait()
        if self._cancelled.is_set():
            raise TransferCancelledError("the transfer was cancelled")

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the transfer is cancelled meanwhile (then raise)."""
        if self._cancelled.wait(seconds):
            raise TransferCancelledError("the transfer was cancelled")


class TransferHandle:
    """A transfer running in the background: control it, wait for its :class:`TransferResult`."""

    def __init__(self, future: Future[TransferResult], control: TransferControl) -> None:
        self._future = future
        self.control = control

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def cancel(self, keep_resumable: bool = False) -> None:
        self.control.cancel(keep_resumable)

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None) -> TransferResult:
        """The result, or the transfer's exception (``TransferCancelledError`` if cancelled)."""
        return self._future.result(timeout)
