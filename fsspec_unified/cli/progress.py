"""Progress bars of ``cp``, ``mv`` and ``sync``: one per file, and a total for many files.

They are fsspec callbacks, so they plug into what the filesystem already reports: bulk
``put``/``get``/``copy`` count files on the callback they are given and hand each file a
child from :meth:`ProgressBars.branched`, which the transfer engine feeds with bytes. Bars go
to stderr and only to a terminal: piped or redirected output stays clean for scripts.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any, TextIO

from fsspec.callbacks import DEFAULT_CALLBACK, Callback
from tqdm import tqdm


def progress_callback(no_progress: bool, stream: TextIO | None = None) -> Callback:
    """Bars on ``stream`` (default stderr) if it is a terminal and ``no_progress`` is not
    set, else fsspec's no-op callback."""
    stream = stream if stream is not None else sys.stderr
    if no_progress or not stream.isatty():
        return DEFAULT_CALLBACK
    return ProgressBars(stream)


class ProgressBars(Callback):
    """The callback of one bulk transfer: a bar of files done when there is more than one,
    and one bar of bytes per file (from :meth:`branched`), left on screen only when the
    transfer is a single file. Thread-safe: files run concurrently."""

    def __init__(self, stream: TextIO) -> None:
        # Set before Callback.__init__, which may call ``call`` through set_size.
        self._stream = stream
        self._lock = threading.Lock()
        self._files_bar: tqdm | None = None
        super().__init__()

    def call(self, hook_name: str | None = None, **kwargs: Any) -> None:
        with self._lock:
            if not self.size or self.size < 2:
                return
            if self._files_bar is None:
                self._files_bar = tqdm(total=self.size, desc="total", unit="file",
                                       file=self._stream, dynamic_ncols=True)
            self._files_bar.total = self.size
            self._files_bar.update(self.value - self._files_bar.n)

    def branched(self, path_1: str, path_2: str, **kwargs: Any) -> FileBar:
        return FileBar(self._stream, label=os.path.basename(str(path_1).rstrip("/")),
                       leave=not self.size or self.size < 2)

    def close(self) -> None:
        with self._lock:
            if self._files_bar is not None:
                self._files_bar.close()
                self._files_bar = None


class FileBar(Callback):
    """Bytes of one file; the bar appears once the size is known (the engine's first
    report) and closes with the callback."""

    def __init__(self, stream: TextIO, label: str, leave: bool) -> None:
        self._stream = stream
        self._label = label
        self._leave = leave
        self._lock = threading.Lock()
        self._bar: tqdm | None = None
        super().__init__()

    def call(self, hook_name: str | None = None, **kwargs: Any) -> None:
        with self._lock:
            if self.size is None:
                return
            if self._bar is None:
                self._bar = tqdm(total=self.size, desc=self._label, unit="B", unit_scale=True,
                                 unit_divisor=1024, leave=self._leave, file=self._stream,
                                 dynamic_ncols=True)
            self._bar.update(self.value - self._bar.n)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
