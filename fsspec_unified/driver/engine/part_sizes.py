"""How big each part (upload) or range (download) is.

Small parts waste requests on large objects; large parts waste memory and parallelism on small
ones. So the size grows with the object: the configured ``part_size_bytes`` (8 MiB by default)
is the floor; an object that would need more than :data:`TARGET_PARTS` pieces gets fewer,
larger ones, up to :data:`GROWN_PART_CAP_BYTES` (64 MiB) unless the provider's part count
needs more. Memory stays near ``(max_workers + 1)`` pieces whatever the object's size.

A stream of unknown length cannot be planned: its parts start at the floor and double every
:data:`PARTS_PER_DOUBLING` parts, so 10,000 parts of at least 8 MiB reach about 8 TiB, more
than S3's 5 TiB object limit (OSS allows 48.8 TiB, which a stream reaches only with a larger
starting part size).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import UploadError
from ..types import MIB, DriverCapabilities

if TYPE_CHECKING:
    from .operation import Operation

TARGET_PARTS = 128
GROWN_PART_CAP_BYTES = 64 * MIB
PARTS_PER_DOUBLING = 1000
RANGES_PER_WORKER = 2


def choose_part_size(total_bytes: int, requested: int, capabilities: DriverCapabilities) -> int:
    """The part size for an upload of ``total_bytes`` (see the module docstring): at least
    ``requested`` and the provider's minimum, grown with the object, and as large as needed
    to fit the provider's maximum number of parts (rounded up to whole MiB)."""
    size = max(requested, capabilities.min_part_size_bytes, _grown(total_bytes, requested))
    needed = -(-total_bytes // capabilities.max_parts)
    if needed > size:
        size = -(-needed // MIB) * MIB
    if size > capabilities.max_part_size_bytes:
        raise UploadError(
            f"{total_bytes} bytes do not fit in {capabilities.max_parts} parts of at most "
            f"{capabilities.max_part_size_bytes} bytes"
        )
    return size


def choose_range_size(op: Operation, total_bytes: int | None) -> int:
    """The size of each ranged GET of a read of ``total_bytes`` (``None``: unknown, the
    floor)."""
    requested = op.config.part_size_bytes
    return requested if total_bytes is None else max(requested, _grown(total_bytes, requested))


def streamed_range_size(op: Operation, total_bytes: int) -> int:
    """The size of each ranged GET of a read whose bytes are not held per range (a download
    streams each range to disk through a 1 MiB buffer; a whole read is in memory anyway), so
    size costs no memory: about :data:`RANGES_PER_WORKER` ranges per worker, each at least
    the floor and at most :data:`GROWN_PART_CAP_BYTES`.

    Fewer, larger ranges matter: each GET costs the server a lookup before its first byte
    (on the loopback SeaweedFS, a 256 MiB download went from about 540 MB/s in 8 MiB ranges
    to 820 MB/s in 16 MiB ones, at any concurrency)."""
    requested = op.config.part_size_bytes
    share = -(-total_bytes // (RANGES_PER_WORKER * op.config.max_workers))
    if share <= requested:
        return requested
    return max(requested, min(-(-share // MIB) * MIB, GROWN_PART_CAP_BYTES))


def stream_part_size(part_number: int, base: int, capabilities: DriverCapabilities) -> int:
    """The size of part ``part_number`` (from 1) of a stream of unknown length: ``base``,
    doubled every :data:`PARTS_PER_DOUBLING` parts, within the provider's limits."""
    size = max(base, capabilities.min_part_size_bytes) << ((part_number - 1) // PARTS_PER_DOUBLING)
    return min(size, capabilities.max_part_size_bytes)


def _grown(total_bytes: int, requested: int) -> int:
    """``requested``, or, when that would make more than ``TARGET_PARTS`` pieces, the size
    of about ``TARGET_PARTS`` pieces in whole MiB, capped at ``GROWN_PART_CAP_BYTES``."""
    share = -(-total_bytes // TARGET_PARTS)
    if share <= requested:
        return requested
    return max(requested, min(-(-share // MIB) * MIB, GROWN_PART_CAP_BYTES))
