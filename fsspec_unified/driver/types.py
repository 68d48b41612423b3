"""Records the driver interface returns: the project's own types, never SDK objects.

Drivers convert what their SDK returns into these at the boundary, so the filesystem, the
transfer manager and user code see the same shapes whatever the backend.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


@dataclass(frozen=True)
class ObjectInfo:
    """One object, or one common prefix (``is_prefix``) from a delimited listing.

    ``etag`` has its surrounding quotes removed. ``metadata`` holds user metadata with the
    provider prefix (``x-amz-meta-``, ``x-oss-meta-``) stripped and keys in lower case; listings
    do not return it (only :meth:`BaseOSSClient.head_object` does).

    ``version_id`` is filled when the server names a version (a versioned bucket).
    ``is_latest`` and ``is_delete_marker`` come from
    :meth:`BaseOSSClient.list_object_versions`: ``is_latest`` is ``None`` where the server did
    not say (ordinary listings, HEAD), and a delete marker has no size and no ETag.
    """

    key: str
    size: int = 0
    etag: str | None = None
    last_modified: datetime | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    storage_class: str | None = None
    version_id: str | None = None
    is_prefix: bool = False
    is_latest: bool | None = None
    is_delete_marker: bool = False


@dataclass(frozen=True)
class BucketInfo:
    name: str
    creation_date: datetime | None = None


@dataclass(frozen=True)
class WriteResult:
    """What a write (put, copy, completed multipart upload) produced."""

    bucket: str
    key: str
    etag: str | None = None
    version_id: str | None = None


@dataclass(frozen=True)
class PartInfo:
    """An uploaded part; the pair (``part_number``, ``etag``) is what completing an upload needs."""

    part_number: int
    etag: str
    size: int | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True)
class MultipartUploadInfo:
    """A multipart upload that was started and neither completed nor aborted."""

    key: str
    upload_id: str
    initiated: datetime | None = None


@dataclass(frozen=True)
class DeleteFailure:
    key: str
    code: str | None
    message: str


@dataclass
class DeleteResult:
    """Outcome of a batch delete: which keys went, and which failed with the server's reason.

    Deleting a key that does not exist counts as deleted, as on S3 and OSS.
    """

    deleted: list[str] = field(default_factory=list)
    failures: list[DeleteFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class DriverCapabilities:
    """Per-provider limits, as data rather than ``if provider == ...`` branches.

    The transfer manager sizes parts from ``min_part_size_bytes``, ``max_part_size_bytes`` and
    ``max_parts``; batch deletes split at ``max_delete_batch``; copies above
    ``max_single_copy_bytes`` go through multipart copy; bucket names are checked against
    ``bucket_name_pattern`` before any request is sent. ``supports_versioning`` says whether
    the provider keeps object versions (bucket versioning, ``version_id`` on reads,
    :meth:`BaseOSSClient.list_object_versions`).
    """

    min_part_size_bytes: int = 5 * MIB
    max_part_size_bytes: int = 5 * GIB
    max_parts: int = 10_000
    max_delete_batch: int = 1000
    max_list_page: int = 1000
    max_single_put_bytes: int = 5 * GIB
    max_single_copy_bytes: int = 5 * GIB
    max_key_bytes: int = 1024
    max_presign_expiry_s: int = 7 * 24 * 3600
    supports_versioning: bool = True
    bucket_name_pattern: re.Pattern[str] = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
    bucket_name_rule: str = (
        "3-63 characters of lower-case letters, digits, '.' and '-', starting and ending with a "
        "letter or digit, no '..', not an IP address"
    )
