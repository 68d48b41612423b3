"""Soak: 16 threads share ONE filesystem and mix every kind of operation for a while; every
byte read is checked, no thread may see an exception, and once the filesystem is closed the
process holds no more threads, file descriptors or connections than before it was created.

What each thread does, at random (seeded per thread): ``pipe_file``, ``put_file`` (sometimes a
multipart file), ``open("wb")`` written in uneven chunks (sometimes past one part),
``get_file``, ``cat_file`` (whole, a range, or several paths at once), ``open("rb")`` with a
seek, ``ls`` and ``info``, ``rm``, and reads of objects every thread reads at once. Each
thread works in a directory of its own and knows what it wrote, so every read is compared
byte for byte with what was written, and every listing with the names it should show; at the
end each directory is listed and read back whole.

"After" means after :meth:`UnifiedFileSystem.close` (which releases the worker threads and
the connection pools) and, for ``oss``, after the test's own OSS gateway has stopped; the
counts are then given a few seconds to settle (a server thread notices a closed connection
when it next reads). Counted: ``threading.enumerate()``, the entries of ``/proc/self/fd``,
the sockets among them, and the process's TCP connections to the endpoint the filesystem
talks to (from ``/proc/net/tcp``).

CI runs the short form (``UNIFIED_SOAK_S`` seconds per provider, 8 by default). The
full form is a minute per provider::

    UNIFIED_SOAK_S=60 python -m pytest -m soak tests/faults/test_soak.py

(Not ``FSSPEC_UNIFIED_SOAK_S``: fsspec turns every ``FSSPEC_UNIFIED_<NAME>`` variable into a
storage option of the ``unified`` filesystem, which would reject it as unknown.)
"""

from __future__ import annotations

import gc
import logging
import os
import random
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import fsspec
import pytest

from fsspec_unified.driver.types import KIB, MIB
from fsspec_unified.filesystem import UnifiedFileSystem
from fsspec_unified.local_server import LocalS3Server
from fsspec_unified.testing.oss_gateway import OSSGateway
from tests.conftest import OSS_REGION
from tests.reliability_tally import TALLY

logger = logging.getLogger(__name__)

SOAK_S = float(os.environ.get("UNIFIED_SOAK_S", "8"))
THREADS = 16
PART_SIZE = 5 * MIB  # the smallest part S3 takes: a file of 6-8 MiB is a multipart upload
MAX_OBJECTS_PER_THREAD = 12
SHARED_OBJECTS = 6
SETTLE_S = 10.0
JOIN_GRACE_S = 120.0  # an operation started just before the deadline may still run


@dataclass
class Resources:
    """What the process holds at one moment."""

    threads: list[str]
    fds: int
    sockets: set[str]
    connections: int  # TCP connections of this process to the endpoint's port

    @classmethod
    def now(cls, port: int | None) -> Resources:
        fds = os.listdir("/proc/self/fd")
        targets = []
        for fd in fds:
            try:
                targets.append(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:  # the fd listdir itself used, closed since
                continue
        sockets = {target for target in targets if target.startswith("socket:[")}
        return cls(
            threads=sorted(thread.name for thread in threading.enumerate()),
            fds=len(targets),
            sockets=sockets,
            connections=_connections_to(port, sockets) if port else 0,
        )


def _connections_to(port: int, sockets: set[str]) -> int:
    """This process's TCP connections whose remote end is ``port`` (any state)."""
    inodes = {target[len("socket:["):-1] for target in sockets}
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[9] in inodes:
                count += 1
    return count


@dataclass
class Worker:
    """One soak thread: its directory, what it stored there, what it did."""

    fs: UnifiedFileSystem
    root: str  # this thread's directory
    shared: dict[str, bytes]
    local_dir: Path
    seed: int
    stored: dict[str, bytes] = field(default_factory=dict)
    operations: int = 0
    bytes_verified: int = 0
    bytes_written: int = 0
    error: str | None = None
    counter: int = 0

    def run(self, deadline: float) -> None:
        random_ = random.Random(self.seed)
        actions: list[tuple[Callable[[random.Random], None], int]] = [
            (self.pipe, 12), (self.put, 8), (self.write_file, 8), (self.get, 8),
            (self.cat, 14), (self.read_file, 14), (self.listing, 10), (self.remove, 8),
            (self.read_shared, 10),
        ]
        functions = [action for action, _ in actions]
        weights = [weight for _, weight in actions]
        try:
            self.pipe(random_)  # every listing then has something to show
            while time.monotonic() < deadline:
                action = random_.choices(functions, weights)[0]
                if action in (self.pipe, self.put, self.write_file) and (
                        len(self.stored) >= MAX_OBJECTS_PER_THREAD):
                    action = self.remove
                action(random_)
                self.operations += 1
        except BaseException:
            self.error = traceback.format_exc()

    # -- writes --------------------------------------------------------------------------

    def new_path(self) -> str:
        self.counter += 1
        return f"{self.root}/o{self.counter:05d}.bin"

    def body(self, random_: random.Random) -> bytes:
        """Mostly small; one write in eight spans two parts (6-8 MiB)."""
        if random_.random() < 0.125:
            return random_.randbytes(random_.randint(6 * MIB, 8 * MIB))
        size = random_.choice([0, 1, 100, 4 * KIB, random_.randint(1, 256 * KIB)])
        return random_.randbytes(size)

    def pipe(self, random_: random.Random) -> None:
        path, data = self.new_path(), self.body(random_)
        self.fs.pipe_file(path, data)
        self.stored[path] = data
        self.bytes_written += len(data)

    def put(self, random_: random.Random) -> None:
        path, data = self.new_path(), self.body(random_)
        local = self.local_dir / "up.bin"
        local.write_bytes(data)
        self.fs.put_file(str(local), path)
        local.unlink()
        self.stored[path] = data
        self.bytes_written += len(data)

    def write_file(self, random_: random.Random) -> None:
        path, data = self.new_path(), self.body(random_)
        with self.fs.open(path, "wb") as handle:
            position = 0
            while position < len(data):
                step = random_.randint(1, 2 * MIB)
                handle.write(data[position:position + step])
                position += step
        self.stored[path] = data
        self.bytes_written += len(data)

    def remove(self, random_: random.Random) -> None:
        if len(self.stored) <= 1:
            return
        path = random_.choice(sorted(self.stored))
        self.fs.rm(path)
        del self.stored[path]
        assert not self.fs.exists(path), path

    # -- reads ---------------------------------------------------------------------------

    def check(self, path: str, got: bytes, expected: bytes) -> None:
        assert got == expected, f"{path}: {len(got)} bytes read differ from the {len(expected)}"
        self.bytes_verified += len(got)

    def pick(self, random_: random.Random) -> tuple[str, bytes]:
        path = random_.choice(sorted(self.stored))
        return path, self.stored[path]

    def get(self, random_: random.Random) -> None:
        path, data = self.pick(random_)
        local = self.local_dir / "down.bin"
        self.fs.get_file(path, str(local))
        self.check(path, local.read_bytes(), data)
        local.unlink()
        assert os.listdir(self.local_dir) == []  # no partial file left beside it

    def cat(self, random_: random.Random) -> None:
        path, data = self.pick(random_)
        kind = random_.random()
        if kind < 0.4:
            self.check(path, self.fs.cat_file(path), data)
        elif kind < 0.8:
            start = random_.randint(0, len(data))
            end = random_.randint(start, len(data))
            self.check(path, self.fs.cat_file(path, start=start, end=end), data[start:end])
        else:
            paths = random_.sample(sorted(self.stored), min(3, len(self.stored)))
            for name, got in self.fs.cat(paths).items():
                self.check(name, got, self.stored[name])

    def read_file(self, random_: random.Random) -> None:
        path, data = self.pick(random_)
        start = random_.randint(0, len(data))
        length = random_.randint(0, 3 * MIB)
        with self.fs.open(path, "rb") as handle:
            handle.seek(start)
            self.check(path, handle.read(length), data[start:start + length])

    def listing(self, random_: random.Random) -> None:
        names = self.fs.ls(self.root, refresh=random_.random() < 0.5)
        assert sorted(names) == sorted(self.stored), self.root
        path, data = self.pick(random_)
        assert self.fs.info(path)["size"] == len(data)

    def read_shared(self, random_: random.Random) -> None:
        path = random_.choice(sorted(self.shared))
        data = self.shared[path]
        if random_.random() < 0.5:
            self.check(path, self.fs.cat_file(path), data)
        else:
            with self.fs.open(path, "rb", block_size=256 * KIB) as handle:
                start = random_.randint(0, len(data))
                handle.seek(start)
                self.check(path, handle.read(512 * KIB), data[start:start + 512 * KIB])


def soak_filesystem(server: LocalS3Server, provider: str, endpoint_url: str,
                    region: str) -> UnifiedFileSystem:
    return fsspec.filesystem(
        "unified", skip_instance_cache=True, provider=provider, endpoint_url=endpoint_url,
        key=server.access_key, secret=server.secret_key, region=region, block_size=PART_SIZE,
    )


@pytest.mark.soak
def test_sixteen_threads_on_one_filesystem_verify_every_byte_and_leak_nothing(
    provider: str, s3_server: LocalS3Server, tmp_path: Path
):
    # For oss, a gateway of this test's own, started after the first count and stopped
    # before the last: its threads and upstream connections are not the filesystem's.
    gc.collect()
    before = Resources.now(None if provider == "oss" else s3_server.s3_port)
    gateway = None
    if provider == "oss":
        gateway = OSSGateway(s3_server.endpoint_url, s3_server.access_key,
                             s3_server.secret_key, region=OSS_REGION).start()
        endpoint, region = gateway.endpoint_url, OSS_REGION
        port = int(endpoint.rsplit(":", 1)[1])
    else:
        endpoint, region, port = s3_server.endpoint_url, "us-east-1", s3_server.s3_port
    fs = soak_filesystem(s3_server, provider, endpoint, region)
    try:
        bucket = f"soak-{provider}"
        if not fs.exists(bucket):
            fs.mkdir(bucket)
        run = f"{bucket}/{uuid.uuid4().hex[:10]}"
        shared_random = random.Random(7)
        shared = {f"{run}/shared/s{index}.bin":
                  shared_random.randbytes(shared_random.randint(1, 3 * MIB))
                  for index in range(SHARED_OBJECTS)}
        fs.pipe(shared)
        workers = []
        for index in range(THREADS):
            local_dir = tmp_path / f"w{index}"
            local_dir.mkdir()
            workers.append(Worker(fs, f"{run}/w{index:02d}", shared, local_dir, seed=index))

        started = time.monotonic()
        deadline = started + SOAK_S
        threads = [threading.Thread(target=worker.run, args=(deadline,), name=f"soak-{i}")
                   for i, worker in enumerate(workers)]
        for thread in threads:
            thread.start()
        time.sleep(SOAK_S / 2)
        during = Resources.now(port)  # mid-soak, for the record
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()) + JOIN_GRACE_S)
        elapsed = time.monotonic() - started
        assert not any(thread.is_alive() for thread in threads), "a soak thread hung"
        errors = [worker.error for worker in workers if worker.error]
        assert errors == [], "\n".join(errors)

        final_bytes = 0
        for worker in workers:  # the final state: every object, every byte, nothing else
            assert fs.find(worker.root, refresh=True) == sorted(worker.stored)
            contents = fs.cat(sorted(worker.stored))
            for path, data in worker.stored.items():
                assert contents[path] == data, path
                final_bytes += len(data)
        assert list(fs.client.list_multipart_uploads(bucket, run.split("/", 1)[1])) == []
        fs.rm(run, recursive=True)
        assert fs.find(run, refresh=True) == []
    finally:
        fs.close()
        if gateway is not None:
            gateway.stop()

    settle_until = time.monotonic() + SETTLE_S
    while True:
        gc.collect()
        after = Resources.now(port)
        if (len(after.threads) <= len(before.threads) and after.fds <= before.fds
                and after.connections <= before.connections) or (
                time.monotonic() > settle_until):
            break
        time.sleep(0.1)

    operations = sum(worker.operations for worker in workers)
    written = sum(worker.bytes_written for worker in workers)
    verified = final_bytes + sum(worker.bytes_verified for worker in workers)
    leaked = {
        "threads": max(0, len(after.threads) - len(before.threads)),
        "fds": max(0, after.fds - before.fds),
        "connections": max(0, after.connections - before.connections),
    }
    for kind, count in leaked.items():
        TALLY.add("leaks", count, kind=kind)
    TALLY.add("bytes_verified", verified)
    logger.info(
        "soak %s: %d threads, %.1f s, %d operations, %.1f MiB written, %.1f MiB verified; "
        "threads %d/%d/%d, fds %d/%d/%d, sockets %d/%d/%d, connections %d/%d/%d "
        "(before/during/after)", provider, THREADS, elapsed, operations, written / MIB,
        verified / MIB, len(before.threads), len(during.threads), len(after.threads),
        before.fds, during.fds, after.fds, len(before.sockets), len(during.sockets),
        len(after.sockets), before.connections, during.connections, after.connections,
    )
    assert operations > THREADS
    assert leaked == {"threads": 0, "fds": 0, "connections": 0}, (
        f"new threads: {sorted(set(after.threads) - set(before.threads))}; "
        f"new sockets: {sorted(after.sockets - before.sockets)}")
