"""What a transfer may be told (``TransferConfig``) and what it reports back (``TransferResult``).

Kept apart from the manager so that the upload and download strategies, the filesystem and a
command line can all build and read these without importing each other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ...observability.alerts import AlertPolicy
from ..exceptions import ConfigurationError
from ..types import MIB
from .retry import RetryPolicy

DEFAULT_PART_SIZE_BYTES = 8 * MIB
DEFAULT_MAX_WORKERS = 8


@dataclass(frozen=True)
class TransferConfig:
    """Tuning and behaviour of transfers.

    - ``part_size_bytes``: the smallest part (and download range); parts grow with the object
      (to 64 MiB, and beyond when the provider's part count needs it), never below the
      provider's minimum (see ``part_sizes.py``).
    - ``max_workers``: the most requests in flight at once for the whole manager (or
      filesystem), and the most parts of one transfer held in memory; memory stays near
      ``(max_workers + 1)`` parts.
    - ``adaptive_concurrency``: let the number of requests in flight move between 2 and
      ``max_workers`` with the measured throughput and throttling (``adaptive.py``); off, it
      stays at ``max_workers``. ``initial_concurrency`` is where it starts (default
      ``max_workers``).
    - ``rate_limit_bytes_per_s``: one limit on every byte the manager (or filesystem) moves
      (``None``: none); ``rate_limit_scope="process"`` shares it with every manager of the
      process that has the same limit.
    - ``resumable``: keep a checkpoint (and, on failure, the multipart upload or the partial
      download) so that a rerun continues where this one stopped. Off by default: then a
      failed transfer leaves nothing behind, neither parts on the server nor local files.
    - ``checkpoint_dir``: where checkpoints live (default: the user's cache directory).
    - ``verify``: after a multipart upload, check the size the server reports (a mismatch
      raises ``UploadError``; nothing is deleted). Bodies are always verified by the server
      (Content-MD5 per request, CRC64 on OSS) and downloads always check their size; an ETag
      is never taken for an MD5.
    - ``alert_policy``: when the manager's metrics call an ``on_alert`` hook (error or retry
      rate over a window; see :class:`~fsspec_unified.observability.AlertPolicy`).
    """

    part_size_bytes: int = DEFAULT_PART_SIZE_BYTES
    max_workers: int = DEFAULT_MAX_WORKERS
    rate_limit_bytes_per_s: float | None = None
    rate_limit_scope: str = "filesystem"
    adaptive_concurrency: bool = True
    initial_concurrency: int | None = None
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    resumable: bool = False
    checkpoint_dir: str | os.PathLike[str] | None = None
    verify: bool = True
    alert_policy: AlertPolicy | None = None

    def __post_init__(self) -> None:
        # bool is an int in Python; True is not a part size or a worker count.
        if (not isinstance(self.part_size_bytes, int) or isinstance(self.part_size_bytes, bool)
                or self.part_size_bytes < 1):
            raise ConfigurationError("part_size_bytes: must be a positive whole number of bytes")
        if (not isinstance(self.max_workers, int) or isinstance(self.max_workers, bool)
                or self.max_workers < 1):
            raise ConfigurationError("max_workers: must be a whole number, 1 or more")
        rate = self.rate_limit_bytes_per_s
        if rate is not None and not (isinstance(rate, (int, float))
                                     and not isinstance(rate, bool) and rate > 0):
            raise ConfigurationError("rate_limit_bytes_per_s: must be a positive number (or None)")
        if self.rate_limit_scope not in ("filesystem", "process"):
            raise ConfigurationError("rate_limit_scope: 'filesystem' or 'process'")
        if self.initial_concurrency is not None and not (
            isinstance(self.initial_concurrency, int) and self.initial_concurrency >= 1
        ):
            raise ConfigurationError("initial_concurrency: must be 1 or more (or None)")
        if not isinstance(self.alert_policy, (AlertPolicy, type(None))):
            raise ConfigurationError("alert_policy: must be an AlertPolicy (or None)")


@dataclass(frozen=True)
class TransferResult:
    """What a finished transfer did; ``parts_resumed`` counts parts a resume did not resend;
    ``version_id`` is the version an upload created in a versioned bucket."""

    bucket: str
    key: str
    size: int
    etag: str | None
    parts_total: int
    parts_transferred: int
    parts_resumed: int
    duration_s: float
    version_id: str | None = None
