"""The reference client: seeds what the benchmarked clients read and checks what they wrote.

It works untimed, between measurements, and goes through boto3 straight to the S3 endpoint
(also for clients measured through the OSS gateway): the most widely used S3 client, and
independent of the code under test, so a wrong result is caught whichever client produced
it. Every benchmarked client reads data the reference wrote and writes data the reference
reads back, so a read and a write are verified separately.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace

from benchmarks.clients import Boto3Client, Target

HASH_CHUNK_BYTES = 8 * 1024 * 1024
_DELETE_BATCH = 1000  # DeleteObjects' limit


def sha256_of_chunks(chunks: Iterable[bytes]) -> str:
    """Hex SHA-256 of a stream of chunks, so large objects are hashed without holding them."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def sha256_of_file(path: str) -> str:
    with open(path, "rb") as source:
        return sha256_of_chunks(iter(lambda: source.read(HASH_CHUNK_BYTES), b""))


class Reference(Boto3Client):
    """A boto3 client that reads and writes one bucket, with what seeding and verification
    need."""

    def __init__(self, target: Target, bucket: str) -> None:
        super().__init__(replace(target, bucket=bucket, seed_bucket=bucket))

    def create_bucket(self) -> None:
        self.s3.create_bucket(Bucket=self.bucket)

    def object_sha256(self, key: str) -> str:
        """Hex SHA-256 of the stored object, streamed from the server."""
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        return sha256_of_chunks(body.iter_chunks(HASH_CHUNK_BYTES))

    def delete(self, keys: list[str]) -> None:
        """Delete the objects (missing ones are no error), so that the next round's
        verification sees only what that round wrote."""
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start:start + _DELETE_BATCH]
            self.s3.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
