"""Info dicts of ``UnifiedFileSystem``: fsspec's keys and, beside them, s3fs's.

fsspec code reads ``name``, ``size`` and ``type``; code written for s3fs reads ``Key``,
``Size``, ``LastModified``, ``ETag``, ``VersionId``, ``ContentType`` and ``StorageClass``
(``Key`` is the full ``bucket/key`` path, as in s3fs). Directories and buckets carry
``StorageClass`` ``"DIRECTORY"`` / ``"BUCKET"`` as in s3fs. A key ending in ``/`` (a directory
marker) is a directory entry, never a zero-byte file. ``ETag`` has no surrounding quotes
(s3fs keeps them; ``etag.strip('"')`` works on both).
"""

from __future__ import annotations

from datetime import datetime

from .driver.types import ObjectInfo


def directory_entry(name: str) -> dict:
    return {"name": name, "size": 0, "type": "directory", "Key": name, "Size": 0,
            "StorageClass": "DIRECTORY"}


def bucket_entry(name: str, created: datetime | None) -> dict:
    entry = directory_entry(name)
    entry["StorageClass"] = "BUCKET"
    entry["CreationDate"] = created
    return entry


def object_entry(bucket: str, item: ObjectInfo) -> dict:
    """The entry of one listed or HEADed object (or common prefix, or marker)."""
    name = f"{bucket}/{item.key}".rstrip("/")
    if item.is_prefix or item.key.endswith("/"):  # a common prefix or a directory marker
        return directory_entry(name)
    return {
        "name": name,
        "size": item.size,
        "type": "file",
        "Key": name,
        "Size": item.size,
        "ETag": item.etag,
        "LastModified": item.last_modified,
        "ContentType": item.content_type,
        "StorageClass": item.storage_class or "STANDARD",
        "VersionId": item.version_id,
        "metadata": dict(item.metadata),
    }
