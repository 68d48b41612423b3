"""``RetryPolicy``: which failures a transfer retries, how often, and how long it waits.

The drivers' SDKs already retry single requests a little (``OSSConfig.max_retries``). This
policy is the transfer manager's outer loop around whole units of work (one part, one range),
which can re-read their data from the source, so they survive failures an SDK cannot replay:
a corrupted body rejected by the server, a connection dropped mid-stream, a server restart.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ...observability.scope import note_retry
from .. import exceptions as errors

logger = logging.getLogger("fsspec_unified.transfer")

T = TypeVar("T")

#: Transient by nature: the same request may well succeed later.
DEFAULT_RETRYABLE: tuple[type[BaseException], ...] = (
    errors.ConnectionError,  # resets, refused connections, timeouts
    errors.ServiceError,  # 5xx, including throttling (SlowDown, 503)
    errors.IntegrityError,  # the server saw a corrupted body (BadDigest)
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped.

    Attempt ``n`` (from 1) that fails with a retryable error waits a random time between 0 and
    ``min(max_delay_s, base_delay_s * 2 ** (n - 1))`` before attempt ``n + 1``. Errors that
    cannot improve by waiting (authentication, validation, missing objects, failed conditions
    such as ``ConcurrentModificationError`` and ``ObjectExistsError``) are never retried,
    whatever ``retryable`` says.

    ``max_elapsed_s`` adds a budget in time: a failure that comes that many seconds after the
    first attempt is not retried, and no wait goes past that moment (one last attempt is made
    there); retrying stops at whichever limit comes first. The default (5 attempts) rides out
    a few seconds of failures; to ride out an outage of known length (a server restart), give
    that length here and a ``max_attempts`` high enough not to run out first: with jittered
    waits, a number of attempts says little about how long they last.
    """

    max_attempts: int = 5
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0
    retryable: tuple[type[BaseException], ...] = DEFAULT_RETRYABLE
    max_elapsed_s: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise errors.ConfigurationError("max_attempts: must be 1 or more")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise errors.ConfigurationError("base_delay_s/max_delay_s: must not be negative")
        if self.max_elapsed_s is not None and not self.max_elapsed_s > 0:
            raise errors.ConfigurationError("max_elapsed_s: must be positive (or None)")

    def is_retryable(self, error: BaseException) -> bool:
        never = (errors.AuthenticationError, errors.InvalidArgumentError, FileNotFoundError,
                 errors.PreconditionFailedError)  # a failed condition fails the same way again
        return isinstance(error, self.retryable) and not isinstance(error, never)

    def delay_s(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)

    def call(
        self,
        operation: Callable[[], T],
        *,
        description: str,
        sleep: Callable[[float], object] = time.sleep,
    ) -> T:
        """Run ``operation`` until it succeeds, fails for good, or attempts run out.

        ``sleep`` is how waiting happens; a transfer passes one that wakes early on cancel.
        The last error propagates, after a log line saying how many attempts it took; the
        project's errors also say it in their message ("... (after 5 attempts)").
        """
        attempt = 1
        started = time.monotonic()
        while True:
            try:
                return operation()
            except Exception as error:
                left_s = (None if self.max_elapsed_s is None
                          else self.max_elapsed_s - (time.monotonic() - started))
                if (not self.is_retryable(error) or attempt >= self.max_attempts
                        or (left_s is not None and left_s <= 0)):
                    if attempt > 1:
                        logger.error(
                            "%s failed after %d attempts: %s: %s",
                            description, attempt, type(error).__name__, error,
                        )
                        _say_attempts(error, attempt)
                    raise
                delay = self.delay_s(attempt)
                if left_s is not None:
                    delay = min(delay, left_s)
                logger.warning(
                    "%s failed (attempt %d of %d, %s: %s); retrying in %.2f s",
                    description, attempt, self.max_attempts, type(error).__name__, error, delay,
                )
                note_retry(error)
                sleep(delay)
                attempt += 1


def _say_attempts(error: BaseException, attempts: int) -> None:
    """Add to the message of an error that ended a retried request how often it was tried
    (its ``str`` already says which request, on what), once."""
    if isinstance(error, errors.OSSError) and not error.message.endswith(" attempts)"):
        error.message = f"{error.message} (after {attempts} attempts)"
