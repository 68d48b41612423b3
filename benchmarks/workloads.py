"""What is timed, and how each result is verified.

A workload times one operation of a client (:meth:`Workload.operate`), then checks the result
(:meth:`Workload.verify`): data the client read is compared with what the reference stored,
data the client wrote is read back through the reference. Only the operation is timed. A
sample whose operation raised, or whose result is wrong, carries the error instead of a value,
and the report shows its figure as FAILED.

Each workload's :meth:`Workload.seed` stores what it reads in every client's bucket once,
before the first round, so that reads never depend on the client's own writes.
"""

from __future__ import annotations

import gc
import hashlib
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from benchmarks.clients import StorageClient, describe_error
from benchmarks.reference import Reference, sha256_of_file

KIB = 1024
MIB = 1024 * KIB
MB = 1_000_000  # throughput is reported in MB/s, as disks and networks are
_RANDOM_CHUNK_BYTES = 8 * MIB


@dataclass(frozen=True)
class Plan:
    """Sizes and counts of one run."""

    large_file_bytes: int
    small_object_count: int
    small_object_bytes: int
    listing_object_count: int
    rounds: int


DEFAULT_PLAN = Plan(
    large_file_bytes=256 * MIB,
    small_object_count=200,
    small_object_bytes=16 * KIB,
    listing_object_count=2000,
    rounds=3,
)
# Small enough to finish in a few minutes on two cores, large enough that a 64 MiB file
# still goes through every client's multipart path.
QUICK_PLAN = Plan(
    large_file_bytes=64 * MIB,
    small_object_count=100,
    small_object_bytes=16 * KIB,
    listing_object_count=500,
    rounds=2,
)


@dataclass
class Sample:
    """One measurement of one client on one workload: a value, or the error instead."""

    round_number: int
    seconds: float | None = None
    cpu_s: float | None = None  # this process's CPU time, all threads, during the operation
    value: float | None = None  # in the workload's unit
    error: str | None = None


class VerificationError(Exception):
    """A client's result differs from what was stored or expected."""


class Workload(ABC):
    """One timed operation with its verification."""

    name: ClassVar[str]
    unit: ClassVar[str]
    higher_is_better: ClassVar[bool] = True

    def seed(self, reference: Reference) -> None:  # noqa: B027 - optional hook
        """Store what :meth:`operate` reads; the default stores nothing."""

    def measure(self, client: StorageClient, reference: Reference, round_number: int) -> Sample:
        """Time the operation and verify its result; any error becomes a failed sample.

        A collection first, untimed, so that garbage left by earlier work (other clients, the
        verification) is not collected, and paid for, inside this client's timing.
        """
        gc.collect()
        try:
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            outcome = self.operate(client)
            seconds = time.perf_counter() - wall_start
            cpu_s = time.process_time() - cpu_start
            self.verify(reference, outcome)
        except Exception as error:  # a client's failure is a result to report, not a crash
            return Sample(round_number, error=describe_error(error))
        return Sample(round_number, seconds, cpu_s, self.value(seconds))

    @abstractmethod
    def operate(self, client: StorageClient) -> Any:
        """The timed part; returns whatever :meth:`verify` needs to check."""

    @abstractmethod
    def verify(self, reference: Reference, outcome: Any) -> None:
        """Raise :class:`VerificationError` unless the operation's result is right."""

    @abstractmethod
    def value(self, seconds: float) -> float:
        """The figure in ``unit`` for an operation that took ``seconds``."""


@dataclass(frozen=True)
class LocalFile:
    path: str
    size_bytes: int
    sha256: str


def write_random_file(path: Path, size_bytes: int) -> LocalFile:
    """Incompressible content, so no layer can shortcut the transfer."""
    digest = hashlib.sha256()
    with open(path, "wb") as target:
        remaining = size_bytes
        while remaining:
            chunk = os.urandom(min(remaining, _RANDOM_CHUNK_BYTES))
            target.write(chunk)
            digest.update(chunk)
            remaining -= len(chunk)
    return LocalFile(str(path), size_bytes, digest.hexdigest())


class LargeFileWorkload(Workload):
    unit = "MB/s"

    def __init__(self, source: LocalFile) -> None:
        self.source = source

    def value(self, seconds: float) -> float:
        return self.source.size_bytes / seconds / MB

    def check_digest(self, actual_sha256: str, what: str) -> None:
        if actual_sha256 != self.source.sha256:
            raise VerificationError(
                f"{what} has sha256 {actual_sha256[:16]}..., the source "
                f"{self.source.sha256[:16]}..."
            )


class LargeUpload(LargeFileWorkload):
    """One large local file uploaded with the client's file-upload API."""

    name = "large upload"
    key = "upload/large.bin"

    def operate(self, client: StorageClient) -> None:
        client.upload_file(self.source.path, self.key)

    def verify(self, reference: Reference, outcome: Any) -> None:
        self.check_digest(reference.object_sha256(self.key), "the stored object")


class LargeDownload(LargeFileWorkload):
    """One large object downloaded to a local file with the client's file-download API."""

    name = "large download"
    key = "seed/large.bin"

    def __init__(self, source: LocalFile, scratch_dir: Path) -> None:
        super().__init__(source)
        self.scratch_dir = scratch_dir

    def seed(self, reference: Reference) -> None:
        reference.upload_file(self.source.path, self.key)

    def operate(self, client: StorageClient) -> str:
        destination = str(self.scratch_dir / f"{client.bucket}.download")
        client.download_file(self.key, destination)
        return destination

    def verify(self, reference: Reference, outcome: Any) -> None:
        try:
            self.check_digest(sha256_of_file(outcome), "the downloaded file")
        finally:
            os.unlink(outcome)


class SmallObjectWorkload(Workload):
    """Many small objects, each with its own content, so a mixed-up key is caught."""

    unit = "ops/s"
    prefix: ClassVar[str]

    def __init__(self, payloads: list[bytes]) -> None:
        self.items = {f"{self.prefix}{index:05d}": data for index, data in enumerate(payloads)}

    def value(self, seconds: float) -> float:
        return len(self.items) / seconds

    def check_contents(self, contents: list[bytes]) -> None:
        if len(contents) != len(self.items):
            raise VerificationError(f"{len(contents)} objects returned, {len(self.items)} stored")
        wrong = [
            key
            for (key, expected), actual in zip(self.items.items(), contents, strict=True)
            if actual != expected
        ]
        if wrong:
            raise VerificationError(
                f"{len(wrong)} of {len(self.items)} objects differ, the first {wrong[0]!r}"
            )


class SmallPut(SmallObjectWorkload):
    name = "small put"
    prefix = "put/small/"

    def operate(self, client: StorageClient) -> None:
        client.put_small(self.items)

    def verify(self, reference: Reference, outcome: Any) -> None:
        self.check_contents(reference.get_small(self.items))


class SmallGet(SmallObjectWorkload):
    name = "small get"
    prefix = "seed/small/"

    def seed(self, reference: Reference) -> None:
        reference.put_small(self.items)

    def operate(self, client: StorageClient) -> list[bytes]:
        return client.get_small(self.items)

    def verify(self, reference: Reference, outcome: Any) -> None:
        self.check_contents(outcome)


class Listing(Workload):
    """Listing every object under one prefix; the count must match what was seeded."""

    name = "list"
    unit = "ms"
    higher_is_better = False
    prefix = "listing/"

    def __init__(self, object_count: int) -> None:
        self.object_count = object_count

    def seed(self, reference: Reference) -> None:
        keys = (f"{self.prefix}{index:06d}" for index in range(self.object_count))
        reference.put_small(dict.fromkeys(keys, b"x"))

    def operate(self, client: StorageClient) -> int:
        return client.list_prefix(self.prefix)

    def verify(self, reference: Reference, outcome: Any) -> None:
        if outcome != self.object_count:
            raise VerificationError(f"listed {outcome} objects, {self.object_count} stored")

    def value(self, seconds: float) -> float:
        return seconds * 1000


def build_workloads(plan: Plan, scratch_dir: Path) -> list[Workload]:
    """The workloads in the order each round runs them, with their local data written."""
    source = write_random_file(scratch_dir / "large.bin", plan.large_file_bytes)
    payloads = [os.urandom(plan.small_object_bytes) for _ in range(plan.small_object_count)]
    return [
        LargeUpload(source),
        LargeDownload(source, scratch_dir),
        SmallPut(payloads),
        SmallGet(payloads),
        Listing(plan.listing_object_count),
    ]
