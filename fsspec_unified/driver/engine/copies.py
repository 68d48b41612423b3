"""Server-side copies: one request up to the provider's single-copy limit, parts above it.

No bytes pass through the client. A large copy is a :class:`~.uploads.MultipartWrite` whose
parts are UploadPartCopy requests, each pinned to the source's ETag (a source replaced midway
fails the copy with ``ConcurrentModificationError`` instead of mixing two versions), sent
concurrently within the scheduler's budget, and aborted if anything fails. The copy keeps the
source's content type and metadata.
"""

from __future__ import annotations

from .. import exceptions as errors
from ..types import ObjectInfo
from .config import TransferResult
from .part_sizes import GROWN_PART_CAP_BYTES, choose_part_size
from .uploads import MultipartWrite, UploadOperation


def copy_object(op: UploadOperation, src_bucket: str, source: ObjectInfo) -> TransferResult:
    """Copy ``source`` (as a HEAD of ``src_bucket/source.key`` returned it) to the
    operation's bucket and key."""
    op.start_tracking(source.size)
    if source.size <= op.client.capabilities.max_single_copy_bytes:
        written = op.request(
            lambda: op.client.copy_object(src_bucket, source.key, op.bucket, op.key),
            "copy_object",
        )
        op.tracker.update(source.size)
        return op.result(source.size, written.etag, 1, 1, 0)
    op.content_type = source.content_type
    op.metadata = dict(source.metadata) or None
    # Copy parts cost the client nothing, so they are as large as the engine allows.
    part_size = choose_part_size(source.size, max(op.config.part_size_bytes,
                                                  GROWN_PART_CAP_BYTES),
                                 op.client.capabilities)
    writer = MultipartWrite(op)
    with op.reported_as("copy", errors.UploadError, cleanup=writer.abort):
        for start in range(0, source.size, part_size):
            writer.add_copy(src_bucket, source.key, start, min(start + part_size, source.size),
                            source.etag or None)
        return writer.complete()
