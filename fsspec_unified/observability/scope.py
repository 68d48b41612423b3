"""Which operation a request belongs to, and the log record each operation leaves.

An *operation* is what a caller asked for (``fs.put_file``, ``fs.ls``, a transfer manager's
``upload_file``); a *request* is one call a driver makes to the store. :func:`operation`
opens a scope in a context variable; the drivers report into whatever scope is current
(:func:`observed_request`, :func:`note_response`, :func:`byte_counter`), and the engine's retry loop
reports retries (:func:`note_retry`). The scheduler copies the context into its worker
threads, so the parts of one upload, sent from several threads, count towards that upload.

A scope opened inside another scope of the same registry is a step of it (the filesystem's
``put_file`` calls the manager's ``upload_file``) and is folded into it, unless the outer
one is a *bulk* operation (``put`` of many files): then each inner operation is recorded and
logged on its own, and its totals are added to the bulk one as well.

When a scope ends it records itself in its registry and logs one record on
``fsspec_unified.operations``: DEBUG when it succeeded or the store answered (not found,
exists, a failed condition), WARNING when it failed for a fault; operations are many, and a
library should not fill an application's INFO log. Every request logs one record on
``fsspec_unified.requests`` at DEBUG. Records carry their fields as a dict
in ``record.fsspec_unified`` for structured handlers (see :mod:`.logs`). They never hold
credentials, headers or URLs: only the operation, provider, bucket, key, bytes, duration,
attempts, retries, HTTP status, request id and the error's class and code.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from ..driver.exceptions import TransferCancelledError
from .metrics import MetricsRegistry

operations_logger = logging.getLogger("fsspec_unified.operations")
requests_logger = logging.getLogger("fsspec_unified.requests")

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class _RequestNote:
    """What the SDK hooks learned about the response of the request being sent."""

    __slots__ = ("request_id", "status")

    def __init__(self) -> None:
        self.status: int | None = None
        self.request_id: str | None = None


class OperationScope:
    """One operation being recorded: its registry, target and running totals."""

    def __init__(self, registry: MetricsRegistry, name: str, provider: str | None,
                 bucket: str | None, key: str | None, bulk: bool) -> None:
        self.registry = registry
        self.name = name
        self.provider = provider
        self.bucket = bucket
        self.key = key
        self.bulk = bulk
        self.started = time.perf_counter()
        self.bytes = 0
        self.attempts = 0
        self.retries = 0
        self.status: int | None = None
        self.request_id: str | None = None
        self._lock = threading.Lock()

    def add_bytes(self, size: int) -> None:
        with self._lock:
            self.bytes += size

    def request_done(self, note: _RequestNote) -> None:
        with self._lock:
            self.attempts += 1
            self.status = note.status if note.status is not None else self.status
            self.request_id = note.request_id or self.request_id

    def retried(self) -> None:
        with self._lock:
            self.retries += 1

    def absorb(self, step: OperationScope) -> None:
        """Add the totals of an operation run as one item of this bulk one."""
        with self._lock:
            self.bytes += step.bytes
            self.attempts += step.attempts
            self.retries += step.retries
            self.status = step.status if step.status is not None else self.status
            self.request_id = step.request_id or self.request_id

    def fields(self, seconds: float, error: BaseException | None) -> dict[str, Any]:
        return {
            "operation": self.name, "provider": self.provider, "bucket": self.bucket,
            "key": self.key, "bytes": self.bytes, "duration_s": round(seconds, 6),
            "attempts": self.attempts, "retries": self.retries, "status": self.status,
            "request_id": self.request_id, "outcome": "ok" if error is None else "error",
            "error": None if error is None else type(error).__name__,
            "error_code": None if error is None else error_code(error),
        }


_OPERATION: ContextVar[OperationScope | None] = ContextVar("fsspec_unified_operation",
                                                            default=None)
_REQUEST: ContextVar[_RequestNote | None] = ContextVar("fsspec_unified_request", default=None)


def error_code(error: BaseException) -> str:
    """The name errors are counted under: the provider's code, else the HTTP status, else
    the exception's class."""
    code = getattr(error, "code", None)
    if isinstance(code, str) and code:
        return code
    status = getattr(error, "status", None)
    return f"HTTP {status}" if isinstance(status, int) else type(error).__name__


def _not_a_failure(error: BaseException | None) -> bool:
    # A consumer that stops iterating a listing early is no failure at all.
    return error is None or isinstance(error, GeneratorExit)


#: Statuses that answer the question asked rather than report a fault: not found, a conflict
#: with an existing key, a failed condition, a range past the end.
_ANSWER_STATUSES = frozenset({404, 409, 412, 416})


def _is_fault(error: BaseException) -> bool:
    """Whether a failure says something is wrong (and so counts towards error rates and
    alerts): not an answer such as "not found", not the caller's own interrupt or cancel."""
    if isinstance(error, (FileNotFoundError, FileExistsError, KeyboardInterrupt, SystemExit,
                          TransferCancelledError)):
        return False
    return getattr(error, "status", None) not in _ANSWER_STATUSES


class OpenOperation:
    """An operation being recorded, which may span several calls (a file open for writing
    runs its parts from ``write`` and completes them in ``close``): :meth:`run` each call
    within it, :meth:`finish` it once."""

    def __init__(self, registry: MetricsRegistry, name: str, provider: str | None,
                 bucket: str | None, key: str | None, bulk: bool) -> None:
        parent = _OPERATION.get()
        self._parent = parent if parent is not None and parent.registry is registry else None
        # Inside an operation of the same registry that is not bulk: a step of it.
        self._step = self._parent is not None and not self._parent.bulk
        self.scope = self._parent if self._step else OperationScope(
            registry, name, provider, bucket, key, bulk)

    def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        token = _OPERATION.set(self.scope)
        try:
            return function(*args, **kwargs)
        finally:
            _OPERATION.reset(token)

    def finish(self, error: BaseException | None = None) -> None:
        if self._step:
            return
        scope = self.scope
        seconds = time.perf_counter() - scope.started
        failed = not _not_a_failure(error)
        scope.registry.record_operation(scope.name, seconds, scope.bytes, failed)
        if self._parent is not None:
            self._parent.absorb(scope)
        _log_operation(scope, seconds, error if failed else None)


@contextlib.contextmanager
def operation(registry: MetricsRegistry, name: str, *, provider: str | None = None,
              bucket: str | None = None, key: str | None = None,
              bulk: bool = False) -> Iterator[OperationScope]:
    """Record the block as operation ``name`` (see the module docstring)."""
    recording = OpenOperation(registry, name, provider, bucket, key, bulk)
    token = _OPERATION.set(recording.scope)
    error: BaseException | None = None
    try:
        yield recording.scope
    except BaseException as raised:
        error = raised
        raise
    finally:
        _OPERATION.reset(token)
        recording.finish(error)


def _log_operation(scope: OperationScope, seconds: float, error: BaseException | None) -> None:
    level = logging.WARNING if error is not None and _is_fault(error) else logging.DEBUG
    if not operations_logger.isEnabledFor(level):
        return
    fields = scope.fields(seconds, error)
    where = f"{scope.bucket}/{scope.key}" if scope.key else (scope.bucket or "-")
    outcome = "ok" if error is None else f"failed ({fields['error']}: {fields['error_code']})"
    operations_logger.log(
        level, "%s %s %s %s: %d bytes in %.3f s, %d requests, %d retries, HTTP %s, "
        "request id %s", scope.name, scope.provider, where, outcome, scope.bytes, seconds,
        scope.attempts, scope.retries, scope.status, scope.request_id,
        extra={"fsspec_unified": fields},
    )


@contextlib.contextmanager
def observed_request(provider: str, name: str, bucket: str | None, key: str | None,
                     size_bytes: int = 0) -> Iterator[None]:
    """Record the block as one driver request of ``size_bytes`` (the body it sends)."""
    scope = _OPERATION.get()
    note = _RequestNote()
    token = _REQUEST.set(note)
    started = time.perf_counter()
    error: BaseException | None = None
    try:
        yield
    except BaseException as raised:
        error = raised
        raise
    finally:
        _REQUEST.reset(token)
        _request_done(scope, note, provider, name, bucket, key, size_bytes,
                      time.perf_counter() - started, error)


def observed_iteration(provider: str, name: str, bucket: str | None, key: str | None,
                       items: Iterable[T]) -> Iterator[T]:
    """Record a listing (a generator over pages) as one request, timed from its first item
    to its last.

    The consumer's code runs between the items, possibly in another context (a generator
    left unfinished is closed by the garbage collector, anywhere), so the request's note is
    set only while each item is being fetched, and reset within that same step."""
    scope = _OPERATION.get()  # the consumer's operation: this runs at the first ``next``
    note = _RequestNote()
    started = time.perf_counter()
    error: BaseException | None = None
    iterator = iter(items)
    try:
        while True:
            token = _REQUEST.set(note)
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                _REQUEST.reset(token)
            yield item
    except BaseException as raised:
        error = raised
        raise
    finally:
        _request_done(scope, note, provider, name, bucket, key, 0,
                      time.perf_counter() - started, error)


def _request_done(scope: OperationScope | None, note: _RequestNote, provider: str, name: str,
                  bucket: str | None, key: str | None, size_bytes: int, seconds: float,
                  error: BaseException | None) -> None:
    code = None if _not_a_failure(error) else error_code(error)
    if code is not None:
        note.status = getattr(error, "status", None) or note.status
        note.request_id = getattr(error, "request_id", None) or note.request_id
    if scope is not None:
        scope.request_done(note)
        scope.registry.record_request(name, seconds, size_bytes, code,
                                      fault=code is not None and _is_fault(error))
        if code is None and size_bytes:
            scope.add_bytes(size_bytes)
            scope.registry.add_bytes(written=size_bytes)
    if requests_logger.isEnabledFor(logging.DEBUG):
        requests_logger.debug(
            "%s %s %s/%s: HTTP %s in %.3f s%s", name, provider, bucket, key or "",
            note.status, seconds, "" if code is None else f" ({code})",
            extra={"fsspec_unified": {
                "request": name, "provider": provider, "bucket": bucket, "key": key,
                "bytes": size_bytes, "duration_s": round(seconds, 6),
                "status": note.status, "request_id": note.request_id, "error_code": code,
                "operation": None if scope is None else scope.name,
            }},
        )


def note_response(status: int, request_id: str | None) -> None:
    """Called by the SDK hooks for every HTTP response (the SDKs' own retries included)."""
    note = _REQUEST.get()
    if note is not None:
        note.status = status
        note.request_id = request_id or note.request_id
    scope = _OPERATION.get()
    if scope is not None:
        scope.registry.record_response(status)


def note_retry(error: BaseException) -> None:
    """The engine is about to try again after ``error``."""
    scope = _OPERATION.get()
    if scope is not None:
        scope.retried()
        scope.registry.record_retry(error_code(error))


def byte_counter(direction: str) -> Callable[[int], None] | None:
    """A function adding bytes (``"read"`` or ``"written"``) to the current operation and
    its registry, bound now (a body is often read after the call that opened it returned);
    ``None`` outside any operation."""
    scope = _OPERATION.get()
    if scope is None:
        return None
    registry = scope.registry

    def count(size: int) -> None:
        scope.add_bytes(size)
        registry.add_bytes(**{direction: size})

    return count


def observed(name: str, *, target: str = "path", bulk: bool = False) -> Callable[[F], F]:
    """Record each call of the decorated method as operation ``name``.

    The method's object supplies the scope through ``_observe(name, client, what, bulk,
    kwargs)``, where ``what`` is the value of the method's argument named ``target`` (a path,
    an object name; ``None`` if not given), ``client`` that of its ``client`` argument, if
    any, and ``kwargs`` the call's keyword arguments."""
    def decorate(method: F) -> F:
        parameters = list(inspect.signature(method).parameters)
        position = parameters.index(target) - 1  # without self
        client_position = parameters.index("client") - 1 if "client" in parameters else None

        def argument(args: tuple, kwargs: dict, index: int | None, keyword: str) -> Any:
            if index is not None and index < len(args):
                return args[index]
            return kwargs.get(keyword)

        @functools.wraps(method)
        def run(self, *args: Any, **kwargs: Any) -> Any:
            what = argument(args, kwargs, position, target)
            client = argument(args, kwargs, client_position, "client")
            with self._observe(name, client, what, bulk, kwargs):
                return method(self, *args, **kwargs)

        return run  # type: ignore[return-value]

    return decorate
