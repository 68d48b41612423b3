"""``RequestScheduler``: the one budget of requests in flight for a filesystem or a manager.

Every request the engine sends (a part, a range, a small PUT or GET, a part copy, the create
and complete of a multipart upload, its HEADs) and the filesystem's HEADs and delete batches
take a slot first, so however the work is nested (``fs.put`` of 1,000 files, each with parts)
the number of requests in flight never exceeds the budget: there is no ``files x parts``
multiplication. Only cleanup and resume bookkeeping (aborting an upload, ListParts) and
listings go without one, so that cleaning up never waits behind the work it cleans up. The
budget is an :class:`~.adaptive.AdaptiveLimit` between a floor and
``max_workers``; the filesystem sizes the client's connection pool to ``max_workers`` plus a
few connections for those control requests.

Two thread pools, both per process (a forked child builds its own on first use):

- **workers** run *leaf* tasks, one request each (parts, ranges). A leaf task never waits for
  another task, so the pool cannot deadlock.
- **coordinators** run one object's transfer each for bulk operations (``put``/``get``/``cat``
  of many paths). A coordinator may send a request itself (a small file's single PUT, inside a
  slot) or hand parts to the workers and wait for them; it never holds a slot while waiting.
  Bulk operations return only once every item has finished, failed or not.

The rate limit (bytes per second) lives here too, so it applies to every byte of every
operation of the filesystem; with ``rate_limit_scope="process"`` every scheduler of the
process configured with the same rate shares one limit (so ten filesystems at 50 MB/s move
50 MB/s together, not 500).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from ...observability.metrics import MetricsRegistry
from .. import exceptions as errors
from .adaptive import AdaptiveLimit
from .bandwidth import TokenBucket

T = TypeVar("T")
R = TypeVar("R")

RATE_LIMIT_SCOPES = ("filesystem", "process")
_PROCESS_LIMITS: dict[float, TokenBucket] = {}
_PROCESS_LIMITS_LOCK = threading.Lock()
_LOCAL = threading.local()  # which pool, if any, the current thread belongs to


class RequestScheduler:
    """See the module docstring. Thread-safe, fork-safe; one per filesystem or manager."""

    def __init__(
        self,
        max_workers: int,
        *,
        rate_limit_bytes_per_s: float | None = None,
        rate_limit_scope: str = "filesystem",
        adaptive: bool = True,
        initial_concurrency: int | None = None,
        metrics: MetricsRegistry | None = None,
    ) -> None:
        if rate_limit_scope not in RATE_LIMIT_SCOPES:
            raise errors.ConfigurationError(
                f"rate_limit_scope must be one of {', '.join(RATE_LIMIT_SCOPES)}, "
                f"got {rate_limit_scope!r}"
            )
        self.max_workers = max_workers
        self.limit = AdaptiveLimit(
            max_workers, initial=initial_concurrency, floor=min(2, max_workers),
            adaptive=adaptive,
        )
        self.bandwidth = _rate_limiter(rate_limit_bytes_per_s, rate_limit_scope)
        #: The owner's metrics, which read the requests in flight from the budget.
        self.metrics = metrics or MetricsRegistry()
        self.metrics.concurrency = self.limit.concurrency
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._pools_pid: int | None = None

    # -- the budget ----------------------------------------------------------------------

    @contextlib.contextmanager
    def slot(self) -> Iterator[RequestSlot]:
        """Hold one of the budget's slots for one request; tell the slot how many bytes
        moved (:meth:`RequestSlot.moved`) so the adaptive limit learns from it.

        Re-entrant per thread: a request made while this thread already holds a slot (a
        progress callback that asks the filesystem something, say) runs in that slot instead
        of waiting for a second one, which could never come with ``max_workers=1``."""
        held = _LOCAL.__dict__.setdefault("held", set())
        if id(self) in held:
            yield RequestSlot()
            return
        self.limit.acquire()
        held.add(id(self))
        ticket = RequestSlot()
        throttled = False
        try:
            yield ticket
        except errors.ThrottlingError:
            throttled = True
            raise
        finally:
            held.discard(id(self))
            self.limit.release(ticket.bytes_moved, throttled=throttled)

    def throttle(self, size_bytes: int, sleep: Callable[[float], object]) -> None:
        """Wait until the rate limit allows ``size_bytes`` more (no-op without a limit)."""
        if self.bandwidth is not None and size_bytes > 0:
            self.bandwidth.consume(size_bytes, sleep=sleep)

    # -- running work --------------------------------------------------------------------

    def group(self, in_flight: int, before_each: Callable[[], None] = lambda: None
              ) -> TaskGroup:
        """A :class:`TaskGroup` on this scheduler's workers."""
        return TaskGroup(self, in_flight, before_each)

    def run_all(
        self,
        work: Callable[[T], None],
        items: Iterable[T],
        *,
        in_flight: int,
        before_each: Callable[[], None] = lambda: None,
    ) -> None:
        """Run ``work(item)`` for every item on the workers through one :class:`TaskGroup`.

        ``items`` is consumed lazily, only when one of this call's tasks finishes, so a
        generator that reads bodies holds at most ``in_flight + 1`` of them.
        """
        group = self.group(in_flight, before_each)
        try:
            for item in items:
                if not group.submit(lambda item=item: work(item)):
                    break
        except BaseException:
            group.cancel()  # no task may outlive the call (they use the caller's files)
            raise
        try:
            group.wait()
        except (KeyboardInterrupt, SystemExit):
            group.cancel()
            raise

    def submit(self, work: Callable[[], R]) -> Future[R]:
        """Run one leaf task (one request) on the workers."""
        return _submit_in_context(self._pool("workers"), work)

    def map(self, function: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``function`` over ``items`` on the coordinators, results in order.

        For bulk operations whose items may themselves send parts; the requests they send
        share this scheduler's budget. Called from a coordinator, it runs in that thread.
        """
        items = list(items)
        if len(items) <= 1 or getattr(_LOCAL, "pool", None) is not None:
            return [function(item) for item in items]
        pool = self._pool("coordinators")
        futures = [_submit_in_context(pool, function, item) for item in items]
        # Every item finishes (or fails) before the call returns: a failure must not leave
        # other uploads running behind the caller's back. An interrupt (Ctrl-C) stops the
        # items not yet started; those already running go on to their end.
        try:
            errors_seen = [error for future in futures if (error := future.exception())]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        if errors_seen:
            raise errors_seen[0]
        return [future.result() for future in futures]

    def shutdown(self) -> None:
        """Release this process's threads (they are created again if the scheduler is used)."""
        with FORK_GUARD.lock:
            pools, self._pools = self._pools, {}
            owned = self._pools_pid == os.getpid()
        if owned:
            for pool in pools.values():
                pool.shutdown(wait=True)

    def _pool(self, name: str) -> ThreadPoolExecutor:
        pid = os.getpid()
        with FORK_GUARD.lock:
            if self._pools_pid != pid:
                # Pools inherited through fork are abandoned: their threads live in the parent.
                self._pools = {}
                self._pools_pid = pid
            pool = self._pools.get(name)
            if pool is None:
                pool = ThreadPoolExecutor(
                    self.max_workers, thread_name_prefix=f"unified-{name}",
                    initializer=_mark_thread, initargs=(name,),
                )
                self._pools[name] = pool
            return pool

    def __getstate__(self) -> dict:
        raise TypeError("a RequestScheduler belongs to one filesystem; it is not pickled")


class TaskGroup:
    """Tasks of one operation on the scheduler's workers (push-based: parts of a file being
    written are submitted as the caller writes them).

    At most ``in_flight`` of the group's tasks are queued or running: :meth:`submit` blocks
    until one finishes, which bounds the memory of the bodies they hold. The first failure
    stops the group: tasks not started yet are skipped, :meth:`submit` refuses more (returns
    ``False``), and :meth:`wait` raises it once the tasks running have finished.
    ``before_each`` runs in the worker before each task (a pause or cancel check).
    Submitted from one of the workers itself, a task runs at once in that thread (a worker
    never waits for a sibling).
    """

    def __init__(self, scheduler: RequestScheduler, in_flight: int,
                 before_each: Callable[[], None]) -> None:
        self._scheduler = scheduler
        self._slots = threading.BoundedSemaphore(max(1, in_flight))
        self._before_each = before_each
        self._futures: list[Future] = []
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    @property
    def failed(self) -> bool:
        return self._error is not None

    def submit(self, task: Callable[[], R]) -> bool:
        """Queue ``task``; ``False`` (and nothing queued) once the group has failed."""
        if getattr(_LOCAL, "pool", None) == "workers":
            if self.failed:
                return False
            done: Future = Future()
            try:
                done.set_result(self._run(task))
            except BaseException as error:
                done.set_exception(error)
            self._futures.append(done)
            return not self.failed
        self._slots.acquire()
        if self.failed:
            self._slots.release()
            return False
        try:
            future = _submit_in_context(self._scheduler._pool("workers"), self._guarded, task)
        except BaseException as error:  # the pool was shut down meanwhile
            self._slots.release()
            with self._lock:
                self._error = self._error or error
            raise
        self._futures.append(future)
        return True

    def _guarded(self, task: Callable[[], R]) -> R | None:
        try:
            return self._run(task)
        finally:
            self._slots.release()

    def _run(self, task: Callable[[], R]) -> R | None:
        if self.failed:
            return None
        try:
            self._before_each()
            return task()
        except BaseException as error:
            with self._lock:
                if self._error is None:
                    self._error = error
            raise

    def wait(self) -> list:
        """Wait for every task; their results in submission order, or the first failure."""
        results = [future.result() for future in self._futures
                   if future.exception() is None]
        if self._error is not None:
            raise self._error
        return results

    def cancel(self) -> None:
        """Skip the tasks not started yet and wait for the running ones; no error raised."""
        with self._lock:
            if self._error is None:
                self._error = _Cancelled()
        for future in self._futures:
            future.exception()


class _Cancelled(Exception):
    """Marks a group stopped on purpose (never raised to a caller)."""


class RequestSlot:
    """What one request reports back to the scheduler when its slot is released."""

    __slots__ = ("bytes_moved",)

    def __init__(self) -> None:
        self.bytes_moved = 0

    def moved(self, size_bytes: int) -> None:
        self.bytes_moved += size_bytes


class _ForkGuard:
    """One lock for creating thread pools (here and in the transfer manager), replaced in a
    forked child (a parent thread may have held it at the moment of the fork)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def reset(self) -> None:
        self.lock = threading.Lock()


FORK_GUARD = _ForkGuard()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=FORK_GUARD.reset)


def _submit_in_context(pool: ThreadPoolExecutor, function: Callable[..., R], *args: object
                       ) -> Future[R]:
    """Submit ``function`` to run in a copy of the caller's context, so the operation it is
    part of (:mod:`fsspec_unified.observability`) counts the requests it sends."""
    return pool.submit(contextvars.copy_context().run, function, *args)


def _mark_thread(name: str) -> None:
    _LOCAL.pool = name


def _rate_limiter(rate: float | None, scope: str) -> TokenBucket | None:
    if rate is None:
        return None
    if rate <= 0:
        raise errors.ConfigurationError("rate_limit_bytes_per_s: must be positive (or None)")
    if scope == "filesystem":
        return TokenBucket(rate)
    with _PROCESS_LIMITS_LOCK:
        return _PROCESS_LIMITS.setdefault(float(rate), TokenBucket(rate))
