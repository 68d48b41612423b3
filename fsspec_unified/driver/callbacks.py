"""Progress callbacks: the ``ProgressCallback`` interface transfers report through.

Its standard implementations (console, JSON-lines file) and the adapters to and from
``fsspec.callbacks.Callback`` arrive with the transfer manager.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime


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
