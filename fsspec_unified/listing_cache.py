"""A thread-safe, fork-safe listing cache for ``UnifiedFileSystem``.

fsspec's ``DirCache`` is a plain ``MutableMapping``: ``pop`` reads then deletes, and an
expiring ``__getitem__`` deletes, so two threads invalidating the same directory (every
``pipe``/``put`` worker invalidates the parents of what it wrote) can raise ``KeyError``.
:class:`ThreadSafeDirCache` does every read-modify-write under one lock. The lock is
per process: a forked child makes its own (a lock held by another parent thread at fork
time would otherwise stay held forever in the child).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from fsspec.dircache import DirCache


class ThreadSafeDirCache(DirCache):
    """``DirCache`` with atomic get, set, delete, pop, clear and iteration."""

    def __init__(self, use_listings_cache: bool = True,
                 listings_expiry_time: float | None = None, max_paths: int | None = None,
                 **kwargs: Any) -> None:
        self._lock_pid = os.getpid()
        self._process_lock = threading.RLock()
        super().__init__(use_listings_cache, listings_expiry_time, max_paths, **kwargs)

    @property
    def _lock(self) -> threading.RLock:
        """This process's lock (a fresh one in a forked child)."""
        if self._lock_pid != os.getpid():
            self._process_lock = threading.RLock()
            self._lock_pid = os.getpid()
        return self._process_lock

    def __getitem__(self, item: str) -> list[dict]:
        with self._lock:
            if self.listings_expiry_time is not None and (
                time.time() - self._times.get(item, 0) > self.listings_expiry_time
            ):
                self._cache.pop(item, None)
                self._times.pop(item, None)
            if self.max_paths:
                self._q(item)
            return self._cache[item]

    def __setitem__(self, key: str, value: list[dict]) -> None:
        with self._lock:
            super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        with self._lock:
            del self._cache[key]
            self._times.pop(key, None)

    def pop(self, key: str, *default: Any) -> Any:
        with self._lock:
            self._times.pop(key, None)
            return self._cache.pop(key, *default)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._times.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)

    def __iter__(self):
        with self._lock:
            return iter([key for key in list(self._cache) if key in self])

    def __reduce__(self):
        return (ThreadSafeDirCache,
                (self.use_listings_cache, self.listings_expiry_time, self.max_paths))
