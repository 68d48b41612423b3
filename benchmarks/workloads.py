"""What is timed, and how each result is verified.

A workload's :meth:`Workload.operate` runs in the client's own process (see
:mod:`benchmarks.worker`), which times it; its outcome crosses back as JSON through
:func:`fingerprint` (bytes become their SHA-256), and :meth:`Workload.verify` checks it in the
runner: data the client read is compared with what the reference stored, data the client
wrote is read back through the reference (then :meth:`Workload.clean` deletes it, so the next
round's verification sees only that round's writes). Only the operation is timed. A sample
whose operation raised, or whose result is wrong, carries the error instead of a value, and
the report shows its figure as FAILED.

Everything the workloads read is stored once, before the first round, in the seed bucket
(:meth:`Workload.seed`); the local files they upload are written once as well
(:meth:`Workload.write_local`). Both sides build the same workloads from the same
:class:`Plan`: small payloads and range offsets are generated from fixed seeds, and the large
file's path and digest are passed along.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from benchmarks.clients import COPY_CHUNK_BYTES, StorageClient, files_under
from benchmarks.reference import Reference, sha256_of_file

KIB = 1024
MIB = 1024 * KIB
MB = 1_000_000  # throughput is reported in MB/s, as disks and networks are
WRITE_CHUNK_BYTES = COPY_CHUNK_BYTES  # each write() of the streaming workload
TREE_DIRECTORIES = 10


@dataclass(frozen=True)
class Plan:
    """Sizes and counts of one run."""

    large_file_bytes: int
    range_count: int
    range_bytes: int
    small_object_count: int
    small_object_bytes: int
    listing_object_count: int
    tree_file_count: int
    rounds: int


DEFAULT_PLAN = Plan(
    large_file_bytes=512 * MIB,
    range_count=200,
    range_bytes=1 * MIB,
    small_object_count=500,
    small_object_bytes=16 * KIB,
    listing_object_count=5000,
    tree_file_count=300,
    rounds=3,
)
# Small enough to finish in a few minutes on two cores, large enough that a 64 MiB file
# still goes through every client's multipart path.
QUICK_PLAN = Plan(
    large_file_bytes=64 * MIB,
    range_count=50,
    range_bytes=1 * MIB,
    small_object_count=100,
    small_object_bytes=16 * KIB,
    listing_object_count=500,
    tree_file_count=60,
    rounds=2,
)


@dataclass
class Sample:
    """One measurement of one client on one workload: a value, or the error instead."""

    round_number: int
    seconds: float | None = None
    cpu_s: float | None = None  # the client process's CPU time, all threads, during the op
    peak_rss_mib: float | None = None  # the client process's peak resident memory during it
    rss_rise_mib: float | None = None  # that peak minus the resident memory just before
    value: float | None = None  # in the workload's unit
    error: str | None = None


class VerificationError(Exception):
    """A client's result differs from what was stored or expected."""


def fingerprint(outcome: Any) -> Any:
    """``outcome`` as JSON can carry it: bytes become their hex SHA-256, lists stay lists."""
    if isinstance(outcome, bytes | bytearray | memoryview):
        return hashlib.sha256(outcome).hexdigest()
    if isinstance(outcome, list | tuple):
        return [fingerprint(item) for item in outcome]
    return outcome


def payload(label: str, size_bytes: int) -> bytes:
    """Incompressible bytes that both processes derive from the same ``label``."""
    return random.Random(label).randbytes(size_bytes)


class Workload(ABC):
    """One timed operation with its verification."""

    name: ClassVar[str]
    unit: ClassVar[str]
    higher_is_better: ClassVar[bool] = True

    def write_local(self) -> None:  # noqa: B027 - optional hook
        """Write the local files :meth:`operate` uploads; the default writes none."""

    def seed(self, reference: Reference) -> None:  # noqa: B027 - optional hook
        """Store what :meth:`operate` reads; the default stores nothing."""

    @abstractmethod
    def operate(self, client: StorageClient) -> Any:
        """The timed part; returns what :meth:`verify` needs (after :func:`fingerprint`)."""

    @abstractmethod
    def verify(self, reference: Reference, outcome: Any) -> None:
        """Raise :class:`VerificationError` unless the operation's result is right."""

    def clean(self, reference: Reference) -> None:  # noqa: B027 - optional hook
        """Delete what :meth:`operate` wrote; the default wrote nothing."""

    @abstractmethod
    def value(self, seconds: float) -> float:
        """The figure in ``unit`` for an operation that took ``seconds``."""


def check_items(actual: list[Any], expected: list[Any], names: list[str], what: str) -> None:
    """Item-by-item comparison that names the first wrong item."""
    if len(actual) != len(expected):
        raise VerificationError(f"{len(actual)} {what} returned, {len(expected)} expected")
    wrong = [name for name, a, e in zip(names, actual, expected, strict=True) if a != e]
    if wrong:
        raise VerificationError(
            f"{len(wrong)} of {len(expected)} {what} differ, the first {wrong[0]!r}"
        )


def check_names(actual: list[str], expected: list[str], what: str) -> None:
    """The same names, each once, in any order."""
    missing, extra = set(expected) - set(actual), set(actual) - set(expected)
    if missing or extra or len(actual) != len(expected):
        raise VerificationError(
            f"{len(actual)} {what}, {len(expected)} expected; {len(missing)} missing, "
            f"{len(extra)} unexpected"
        )


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
            chunk = os.urandom(min(remaining, WRITE_CHUNK_BYTES))
            target.write(chunk)
            digest.update(chunk)
            remaining -= len(chunk)
    return LocalFile(str(path), size_bytes, digest.hexdigest())


def file_chunks(path: str, chunk_bytes: int) -> Iterator[bytes]:
    with open(path, "rb") as source:
        yield from iter(lambda: source.read(chunk_bytes), b"")


class SharedSeed:
    """Seed data that several workloads read, stored by whichever of them seeds first."""

    def __init__(self, store: Callable[[Reference], None]) -> None:
        self._store = store
        self._stored = False

    def seed(self, reference: Reference) -> None:
        if not self._stored:
            self._store(reference)
            self._stored = True


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


class LargeWrite(LargeFileWorkload):
    """A large object written by the client, read back whole by the reference."""

    key: ClassVar[str]

    def verify(self, reference: Reference, outcome: Any) -> None:
        self.check_digest(reference.object_sha256(self.key), "the stored object")

    def clean(self, reference: Reference) -> None:
        reference.delete([self.key])


class LargeUpload(LargeWrite):
    """One large local file uploaded with the client's file-upload API."""

    name = "large upload"
    key = "upload/large.bin"

    def operate(self, client: StorageClient) -> None:
        client.upload_file(self.source.path, self.key)


class StreamWrite(LargeWrite):
    """The large file written as a stream of ``WRITE_CHUNK_BYTES`` writes (file-like writer
    or the client's streaming upload), as a program producing data on the fly would."""

    name = "stream write"
    key = "stream/large.bin"

    def operate(self, client: StorageClient) -> None:
        client.stream_write(self.key, file_chunks(self.source.path, WRITE_CHUNK_BYTES))


class LargeDownload(LargeFileWorkload):
    """One large object downloaded to a local file with the client's file-download API."""

    name = "large download"

    def __init__(self, source: LocalFile, seeded: SharedSeed, key: str,
                 scratch_dir: Path) -> None:
        super().__init__(source)
        self.seeded, self.key, self.scratch_dir = seeded, key, scratch_dir

    def seed(self, reference: Reference) -> None:
        self.seeded.seed(reference)

    def operate(self, client: StorageClient) -> str:
        destination = str(self.scratch_dir / f"{client.bucket}.download")
        client.download_file(self.key, destination)
        return destination

    def verify(self, reference: Reference, outcome: Any) -> None:
        try:
            self.check_digest(sha256_of_file(outcome), "the downloaded file")
        finally:
            os.unlink(outcome)


class RangeWorkload(Workload):
    """The same ``range_count`` random ranges of the seeded large object, every round and
    every client. Both range workloads hold all the ranges read at the end (``cat_ranges``
    must), so their memory figures compare."""

    unit = "MB/s"

    def __init__(self, source: LocalFile, seeded: SharedSeed, key: str, plan: Plan) -> None:
        self.source, self.seeded, self.key = source, seeded, key
        offsets = random.Random("ranges")
        last_start = source.size_bytes - plan.range_bytes
        self.starts = [offsets.randrange(last_start + 1) for _ in range(plan.range_count)]
        self.ends = [start + plan.range_bytes for start in self.starts]

    def seed(self, reference: Reference) -> None:
        self.seeded.seed(reference)

    @cached_property
    def expected(self) -> list[str]:
        with open(self.source.path, "rb") as source:
            return [fingerprint(os.pread(source.fileno(), end - start, start))
                    for start, end in zip(self.starts, self.ends, strict=True)]

    def verify(self, reference: Reference, outcome: Any) -> None:
        names = [f"bytes {start}-{end}" for start, end in zip(self.starts, self.ends,
                                                               strict=True)]
        check_items(outcome, self.expected, names, "ranges")

    def value(self, seconds: float) -> float:
        return sum(end - start for start, end in zip(self.starts, self.ends,
                                                     strict=True)) / seconds / MB


class RangeReads(RangeWorkload):
    """The ranges read one by one (``cat_file(path, start, end)`` for fsspec clients)."""

    name = "range reads"

    def operate(self, client: StorageClient) -> list[bytes]:
        return [client.read_range(self.key, start, end)
                for start, end in zip(self.starts, self.ends, strict=True)]


class CatRanges(RangeWorkload):
    """The ranges in one batched call (``cat_ranges`` for fsspec clients)."""

    name = "cat_ranges"

    def operate(self, client: StorageClient) -> list[bytes]:
        return client.read_ranges(self.key, self.starts, self.ends)


class SmallObjectWorkload(Workload):
    """Many small objects, each with its own content, so a mixed-up key is caught."""

    unit = "ops/s"
    prefix: ClassVar[str]

    def __init__(self, plan: Plan) -> None:
        self.items = {
            f"{self.prefix}{index:05d}": payload(f"small-{index}", plan.small_object_bytes)
            for index in range(plan.small_object_count)
        }

    def value(self, seconds: float) -> float:
        return len(self.items) / seconds

    def check_contents(self, contents: list[str]) -> None:
        check_items(contents, fingerprint(list(self.items.values())), list(self.items),
                    "objects")


class SmallPut(SmallObjectWorkload):
    """The objects stored in one bulk call (``pipe`` of a dict for fsspec clients)."""

    name = "small put"
    prefix = "put/small/"

    def operate(self, client: StorageClient) -> None:
        client.put_small(self.items)

    def verify(self, reference: Reference, outcome: Any) -> None:
        self.check_contents(fingerprint(reference.get_small(self.items)))

    def clean(self, reference: Reference) -> None:
        reference.delete(list(self.items))


class SmallGet(SmallObjectWorkload):
    """The objects read in one bulk call (``cat`` of a list for fsspec clients)."""

    name = "small get"
    prefix = "seed/small/"

    def seed(self, reference: Reference) -> None:
        reference.put_small(self.items)

    def operate(self, client: StorageClient) -> list[bytes]:
        return client.get_small(self.items)

    def verify(self, reference: Reference, outcome: Any) -> None:
        self.check_contents(outcome)


class ListingWorkload(Workload):
    """Listing the seeded prefix of ``listing_object_count`` objects; the names must be the
    seeded keys, no more and no fewer."""

    unit = "ms"
    higher_is_better = False

    def __init__(self, seeded: SharedSeed, keys: list[str], prefix: str) -> None:
        self.seeded, self.keys, self.prefix = seeded, keys, prefix

    def seed(self, reference: Reference) -> None:
        self.seeded.seed(reference)

    def verify(self, reference: Reference, outcome: Any) -> None:
        check_names(outcome, self.keys, "names listed")

    def value(self, seconds: float) -> float:
        return seconds * 1000


class ListDirectory(ListingWorkload):
    """One level under the prefix (``ls`` for fsspec clients, a delimited listing for the
    SDKs); the prefix is flat, so that is every object."""

    name = "ls"

    def operate(self, client: StorageClient) -> list[str]:
        return client.list_directory(self.prefix)


class FindPrefix(ListingWorkload):
    """Everything under the prefix, recursively (``find`` for fsspec clients, a listing
    without delimiter for the SDKs)."""

    name = "find"

    def operate(self, client: StorageClient) -> list[str]:
        return client.list_prefix(self.prefix)


class LocalTree:
    """A local directory of small files in ``TREE_DIRECTORIES`` sub-directories."""

    def __init__(self, root: Path, plan: Plan) -> None:
        self.root = root
        self.files = {
            f"d{index % TREE_DIRECTORIES}/f{index:04d}.bin": payload(
                f"tree-{index}", plan.small_object_bytes
            )
            for index in range(plan.tree_file_count)
        }

    def write(self) -> None:
        for name, data in self.files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def keys(self, prefix: str) -> list[str]:
        return [prefix + name for name in self.files]

    def check(self, names: list[str], contents: list[str]) -> None:
        """``contents`` (fingerprints) of the files called ``names`` are this tree's."""
        check_names(names, list(self.files), "files")
        expected = dict(zip(self.files, fingerprint(list(self.files.values())), strict=True))
        check_items(contents, [expected[name] for name in names], names, "files")

    def files_per_second(self, seconds: float) -> float:
        return len(self.files) / seconds


class TreePut(Workload):
    """The local tree uploaded recursively (``put(dir, remote, recursive=True)`` for fsspec
    clients, a ``SMALL_OBJECT_WORKERS``-thread loop of file uploads for the others)."""

    name = "tree put"
    unit = "files/s"
    prefix = "tree-put/"

    def __init__(self, tree: LocalTree) -> None:
        self.tree = tree

    def write_local(self) -> None:
        self.tree.write()

    def operate(self, client: StorageClient) -> None:
        client.put_tree(str(self.tree.root), self.prefix)

    def verify(self, reference: Reference, outcome: Any) -> None:
        keys = reference.list_prefix(self.prefix)
        names = [key.removeprefix(self.prefix) for key in keys]
        self.tree.check(names, fingerprint(reference.get_small(keys)))

    def clean(self, reference: Reference) -> None:
        reference.delete(self.tree.keys(self.prefix))

    def value(self, seconds: float) -> float:
        return self.tree.files_per_second(seconds)


class TreeGet(Workload):
    """The seeded copy of the tree downloaded recursively (``get(remote, dir,
    recursive=True)`` for fsspec clients, a listing then a thread loop for the others),
    checked file by file."""

    name = "tree get"
    unit = "files/s"
    prefix = "seed/tree/"

    def __init__(self, tree: LocalTree, scratch_dir: Path) -> None:
        self.tree, self.scratch_dir = tree, scratch_dir

    def seed(self, reference: Reference) -> None:
        keys = self.tree.keys(self.prefix)
        reference.put_small(dict(zip(keys, self.tree.files.values(), strict=True)))

    def operate(self, client: StorageClient) -> str:
        destination = str(self.scratch_dir / f"{client.bucket}.tree")
        client.get_tree(self.prefix, destination)
        return destination

    def verify(self, reference: Reference, outcome: Any) -> None:
        try:
            files = files_under(outcome)
            names = list(files)
            self.tree.check(names, [sha256_of_file(files[name]) for name in names])
        finally:
            shutil.rmtree(outcome, ignore_errors=True)

    def value(self, seconds: float) -> float:
        return self.tree.files_per_second(seconds)


def build_workloads(plan: Plan, scratch_dir: Path, source: LocalFile) -> list[Workload]:
    """The workloads in the order each round runs them (no I/O: see ``write_local``)."""
    large_key = "seed/large.bin"
    large_object = SharedSeed(lambda reference: reference.upload_file(source.path, large_key))
    listing_prefix = "seed/listing/"
    listing_keys = [f"{listing_prefix}{index:06d}" for index in range(plan.listing_object_count)]
    listing = SharedSeed(lambda reference: reference.put_small(dict.fromkeys(listing_keys, b"x")))
    tree = LocalTree(scratch_dir / "tree", plan)
    return [
        LargeUpload(source),
        LargeDownload(source, large_object, large_key, scratch_dir),
        StreamWrite(source),
        RangeReads(source, large_object, large_key, plan),
        CatRanges(source, large_object, large_key, plan),
        SmallPut(plan),
        SmallGet(plan),
        ListDirectory(listing, listing_keys, listing_prefix),
        FindPrefix(listing, listing_keys, listing_prefix),
        TreePut(tree),
        TreeGet(tree, scratch_dir),
    ]
