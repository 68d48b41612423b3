"""What a transfer may be told (``TransferConfig``) and what it reports back (``TransferResult``).

Kept apart from the manager so that the upload and download strategies, the filesystem and a
command line can all build and read these without importing each other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..exceptions import ConfigurationError, UploadError
from ..types import MIB, DriverCapabilities
from .retry import RetryPolicy

DEFAULT_PART_SIZE_BYTES = 5 * MIB
DEFAULT_MAX_WORKERS = 4


@dataclass(frozen=True)
class TransferConfig:
    """Tuning and behaviour of transfers.

    - ``part_size_bytes``: size of each part (and download range); grows automatically when a
      file would need more parts than the provider allows, never below its minimum.
    - ``max_workers``: parts in flight at once; memory stays near ``(max_workers + 1)`` parts.
    - ``rate_limit_bytes_per_s``: one limit shared by all workers of a transfer (``None``: none).
    - ``resumable``: keep a checkpoint (and, on failure, the multipart upload or the partial
      download) so that a rerun continues where this one stopped. Off by default: then a
      failed transfer leaves nothing behind, neither parts on the server nor local files.
    - ``checkpoint_dir``: where checkpoints live (default: the user's cache directory).
    - ``verify``: after a multipart upload, check the size the server reports (a mismatch
      raises ``UploadError``; nothing is deleted). Bodies are always verified by the server
      (Content-MD5 per request, CRC64 on OSS) and downloads always check their size; an ETag
      is never taken for an MD5.
    """

    part_size_bytes: int = DEFAULT_PART_SIZE_BYTES
    max_workers: int = DEFAULT_MAX_WORKERS
    rate_limit_bytes_per_s: float | None = None
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    resumable: bool = False
    checkpoint_dir: str | os.PathLike[str] | None = None
    verify: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.part_size_bytes, int) or self.part_size_bytes < 1:
            raise ConfigurationError("part_size_bytes: must be a positive whole number of bytes")
        if not isinstance(self.max_workers, int) or self.max_workers < 1:
            raise ConfigurationError("max_workers: must be 1 or more")
        if self.rate_limit_bytes_per_s is not None and not self.rate_limit_bytes_per_s > 0:
            raise ConfigurationError("rate_limit_bytes_per_s: must be positive (or None)")


@dataclass(frozen=True)
class TransferResult:
    """What a finished transfer did; ``parts_resumed`` counts parts a resume did not resend."""

    bucket: str
    key: str
    size: int
    etag: str | None
    parts_total: int
    parts_transferred: int
    parts_resumed: int
    duration_s: float


def choose_part_size(total_bytes: int, requested: int, capabilities: DriverCapabilities) -> int:
    """The part size to use: ``requested``, raised to the provider's minimum and as far as
    needed to fit ``total_bytes`` into ``max_parts`` parts (rounded up to whole MiB)."""
    size = max(requested, capabilities.min_part_size_bytes)
    needed = -(-total_bytes // capabilities.max_parts)
    if needed > size:
        size = -(-needed // MIB) * MIB
    if size > capabilities.max_part_size_bytes:
        raise UploadError(
            f"{total_bytes} bytes do not fit in {capabilities.max_parts} parts of at most "
            f"{capabilities.max_part_size_bytes} bytes"
        )
    return size
