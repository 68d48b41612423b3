"""The server killed (SIGKILL, no grace) in the middle of a transfer and started again on its
data directory: the transfer still finishes, with the right bytes, and leaves nothing behind
(no multipart upload on the server, no partial file under a final name, no checkpoint).

The server is private to this module (the session's shared one is never killed) and is
restarted on the same data directory and S3 port, as an operator's restart would be. Each
scenario kills it at a set point of its progress (from the progress callback, in the thread
that reports it) and starts it again in a background thread, measuring the downtime. A
restart on existing data answers within 3-4 s (a fresh server takes about 12 s), so the
first three scenarios keep the server down ``HELD_DOWN_S`` more: an outage of 11-12 s, well
beyond the default retries. Providers rotate across scenarios to keep the module near a
minute: s3 uploads, minio downloads, oss (its protocol through an ``OSSGateway`` in front of
the private server; the gateway stays up) puts a tree, minio resumes.

Retry budget or resume? The default ``RetryPolicy`` gives up after 5 attempts, a few
seconds: less than a restart. A user whose server restarts wants the call in progress to
finish, not to catch an error and call again, so the first three scenarios give the
filesystem a longer budget through its ``retry_policy`` storage option: every request keeps
trying for up to ``OUTAGE_BUDGET_S`` (``RetryPolicy.max_elapsed_s``), at most a second apart,
so the transfer goes on within about a second of the server's return. The budget is stated
in time because an outage is measured in seconds; with jittered waits, a number of attempts
lasts a random time. The last scenario shows the other way, for callers who keep the default
policy: the call fails cleanly (``UploadError``) some seconds after the kill (about 10 with
minio, whose SDK also retries a refused connection within each attempt) while the server is
kept down, keeps its multipart upload and checkpoint (``resumable=True``), and a second call
once the server is back sends only the parts the server does not have.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import fsspec
import pytest
from fsspec.callbacks import Callback

from fsspec_unified import RetryPolicy, exceptions
from fsspec_unified.driver.callbacks import ProgressCallback
from fsspec_unified.driver.types import KIB, MIB
from fsspec_unified.filesystem import UnifiedFileSystem
from fsspec_unified.local_server import LocalS3Server
from fsspec_unified.testing.oss_gateway import OSSGateway
from tests.conftest import OSS_REGION
from tests.helpers import pattern_bytes
from tests.reliability_tally import TALLY

logger = logging.getLogger(__name__)

OUTAGE_BUDGET_S = 60.0
#: What the first three scenarios give their filesystem: a minute of retries, a second apart.
OUTAGE_POLICY = RetryPolicy(max_attempts=10_000, base_delay_s=0.2, max_delay_s=1.0,
                            max_elapsed_s=OUTAGE_BUDGET_S)
PART_SIZE = 5 * MIB  # the smallest part S3 accepts: many parts for a modest file
BIG_SIZE = 40 * MIB
RESTART_WAIT_S = 120.0
#: How long the first three scenarios keep the server down before starting it again: with
#: the restart itself (3-4 s on existing data) well beyond what the default policy rides out.
HELD_DOWN_S = 8.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3Server]:
    """A server this module may kill; killed at the end too (a graceful stop takes 10-25 s
    and this one's data is thrown away)."""
    local = LocalS3Server(tmp_path_factory.mktemp("restarted-seaweedfs")).start()
    yield local
    local.kill()


@pytest.fixture
def running(server: LocalS3Server) -> LocalS3Server:
    """The private server, started again if an earlier scenario left it down."""
    return server.start()


class Outage:
    """Kills the server once, from whichever thread asks first, and starts it again in a
    background thread, on the same data directory and port, ``down_for_s`` later (``None``:
    when :meth:`restart` is called); measures the downtime."""

    def __init__(self, server: LocalS3Server, down_for_s: float | None = None) -> None:
        self.server = server
        self.down_for_s = down_for_s
        self.killed_at: float | None = None
        self.endpoint_at_kill: str | None = None
        self.restarted_at: float | None = None  # when the server was started again
        self.back_at: float | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def kill_once(self) -> None:
        with self._lock:
            if self.killed_at is not None:
                return
            self.endpoint_at_kill = self.server.endpoint_url
            self.server.kill()
            self.killed_at = time.monotonic()
        if self.down_for_s is not None:
            self.restart(after_s=self.down_for_s)

    def restart(self, after_s: float = 0.0) -> None:
        """Start the server again (in the background) ``after_s`` from now."""
        assert self.killed_at is not None and self._thread is None
        self._thread = threading.Thread(target=self._restart, args=(after_s,),
                                        name="restart-seaweedfs", daemon=True)
        self._thread.start()

    def _restart(self, after_s: float) -> None:
        try:
            time.sleep(after_s)
            self.restarted_at = time.monotonic()
            self.server.start()
            self.back_at = time.monotonic()
        except BaseException as error:  # reported by downtime_s, in the test's thread
            self._error = error

    def wait_for_restart(self) -> None:
        """Let a restart in progress finish (a failed scenario must not leave one running
        while the next starts the server)."""
        if self._thread is not None:
            self._thread.join(RESTART_WAIT_S)

    def downtime_s(self) -> float:
        """Wait for the restart to finish; seconds between the kill and the server answering."""
        assert self._thread is not None, "the kill never fired: the transfer gave no progress"
        self._thread.join(RESTART_WAIT_S)
        assert not self._thread.is_alive(), "the server did not come back"
        if self._error is not None:
            raise self._error
        assert self.killed_at is not None and self.back_at is not None
        assert self.server.endpoint_url == self.endpoint_at_kill  # clients keep their endpoint
        return self.back_at - self.killed_at


@pytest.fixture
def make_outage(running: LocalS3Server) -> Iterator[Callable[[float | None], Outage]]:
    """``make_outage(down_for_s)``: an :class:`Outage` of the private server; any restart it
    began has finished when the test ends."""
    made: list[Outage] = []

    def make(down_for_s: float | None) -> Outage:
        made.append(Outage(running, down_for_s))
        return made[-1]

    yield make
    for outage in made:
        outage.wait_for_restart()


class KillAtBytes(ProgressCallback):
    """Kills the server once ``threshold`` bytes of the transfer are done; notes how many
    bytes (of how many) were done at that moment."""

    def __init__(self, outage: Outage, threshold: int) -> None:
        self.outage = outage
        self.threshold = threshold
        self.done_at_kill: int | None = None
        self.total = 0

    def on_progress(self, bytes_transferred: int, total_bytes: int, start_time: datetime,
                    current_speed: float) -> None:
        self.total = total_bytes
        if bytes_transferred >= self.threshold and self.done_at_kill is None:
            self.done_at_kill = bytes_transferred
            self.outage.kill_once()


class KillAtFiles(Callback):
    """fsspec's callback of a multi-file ``put`` (it counts files): kills the server when
    ``threshold`` files are done, in the thread that finished the last of them."""

    def __init__(self, outage: Outage, threshold: int) -> None:
        super().__init__()
        self.outage = outage
        self.threshold = threshold
        self.done_at_kill: int | None = None

    def call(self, hook_name: str | None = None, **kwargs: object) -> None:
        if self.size and self.value >= self.threshold and self.done_at_kill is None:
            self.done_at_kill = self.value
            self.outage.kill_once()


def filesystem(server: LocalS3Server, provider: str, endpoint_url: str | None = None,
               region: str = "us-east-1", **options: object) -> UnifiedFileSystem:
    """A filesystem of its own (not from fsspec's instance cache), closed by the caller."""
    return fsspec.filesystem(
        "unified", skip_instance_cache=True, provider=provider,
        endpoint_url=endpoint_url or server.endpoint_url, key=server.access_key,
        secret=server.secret_key, region=region, block_size=PART_SIZE, **options,
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def uploads_left(fs: UnifiedFileSystem, bucket: str) -> list:
    return list(fs.client.list_multipart_uploads(bucket))


def test_multipart_put_file_finishes_across_a_server_kill_and_restart(
    running, make_outage, tmp_path
):
    """s3: 40 MiB in 8 parts, the server killed once 15 MiB are up; the parts in flight and
    those not sent yet wait for it, and the upload completes in the same call."""
    data = pattern_bytes(BIG_SIZE, seed=61)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    fs = filesystem(running, "s3", retry_policy=OUTAGE_POLICY, max_workers=4,
                    rate_limit_bytes_per_s=16 * MIB)
    try:
        fs.mkdir("restart-put")
        outage = make_outage(HELD_DOWN_S)
        trigger = KillAtBytes(outage, 15 * MIB)
        started = time.monotonic()
        fs.put_file(str(source), "restart-put/big.bin", callback=trigger)
        finished = time.monotonic()
        downtime = outage.downtime_s()

        assert trigger.done_at_kill is not None and trigger.done_at_kill < len(data)
        assert finished > outage.restarted_at  # it outlived the time the server was down
        assert sha256(fs.cat_file("restart-put/big.bin")) == sha256(data)
        assert uploads_left(fs, "restart-put") == []
        assert fs.ls("restart-put") == ["restart-put/big.bin"]
    finally:
        fs.close()
    logger.info("put_file across a restart: %.1f s, downtime %.1f s", finished - started,
                downtime)
    TALLY.add("restarts_survived", kind="multipart put_file")
    TALLY.add("bytes_verified", len(data))


def test_multi_range_get_file_finishes_across_a_server_kill_and_restart(
    running, make_outage, tmp_path
):
    """minio: a 40 MiB object in 8 ranges, the server killed once 15 MiB are down; ranges cut
    mid-body resume where they stopped (pinned to the same ETag) and the file appears whole
    under its name, with no partial file beside it."""
    data = pattern_bytes(BIG_SIZE, seed=62)
    fs = filesystem(running, "minio", retry_policy=OUTAGE_POLICY, max_workers=4)
    try:
        fs.mkdir("restart-get")
        fs.pipe_file("restart-get/big.bin", data)
        limited = filesystem(running, "minio", retry_policy=OUTAGE_POLICY, max_workers=4,
                             rate_limit_bytes_per_s=16 * MIB)
        target_dir = tmp_path / "downloads"
        target_dir.mkdir()
        outage = make_outage(HELD_DOWN_S)
        trigger = KillAtBytes(outage, 15 * MIB)
        started = time.monotonic()
        try:
            limited.get_file("restart-get/big.bin", str(target_dir / "big.bin"),
                             callback=trigger)
        finally:
            limited.close()
        finished = time.monotonic()
        downtime = outage.downtime_s()

        assert trigger.done_at_kill is not None and trigger.done_at_kill < len(data)
        assert finished > outage.restarted_at
        assert os.listdir(target_dir) == ["big.bin"]
        assert sha256((target_dir / "big.bin").read_bytes()) == sha256(data)
    finally:
        fs.close()
    logger.info("get_file across a restart: %.1f s, downtime %.1f s", finished - started,
                downtime)
    TALLY.add("restarts_survived", kind="multi-range get_file")
    TALLY.add("bytes_verified", len(data))


def write_tree(root: Path, count: int) -> dict[str, bytes]:
    """``count`` small files in a few directories; their contents by relative path."""
    files = {}
    for index in range(count):
        relative = f"d{index % 5}/f{index:03d}.bin"
        body = pattern_bytes(1 * KIB + (index * 997) % (64 * KIB), seed=1000 + index)
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        files[relative] = body
    return files


def test_recursive_put_of_many_small_files_finishes_across_a_server_kill_and_restart(
    running, make_outage, tmp_path
):
    """oss (through a gateway that stays up): 150 files, the server killed when 50 are up;
    the PUTs in flight and those still queued wait for it, and every file arrives."""
    files = write_tree(tmp_path / "tree", 150)
    with OSSGateway(running.endpoint_url, running.access_key, running.secret_key,
                    region=OSS_REGION) as gateway:
        fs = filesystem(running, "oss", endpoint_url=gateway.endpoint_url, region=OSS_REGION,
                        retry_policy=OUTAGE_POLICY)
        try:
            fs.mkdir("restart-tree")
            outage = make_outage(HELD_DOWN_S)
            trigger = KillAtFiles(outage, 50)
            started = time.monotonic()
            fs.put(str(tmp_path / "tree") + "/", "restart-tree/t", recursive=True,
                   callback=trigger)
            finished = time.monotonic()
            downtime = outage.downtime_s()

            assert trigger.done_at_kill is not None and trigger.done_at_kill < len(files)
            assert finished > outage.restarted_at
            expected = {f"restart-tree/t/{relative}": body for relative, body in files.items()}
            assert fs.find("restart-tree", refresh=True) == sorted(expected)
            stored = fs.cat(sorted(expected))
            assert {name: sha256(body) for name, body in stored.items()} == {
                name: sha256(body) for name, body in expected.items()}
            assert uploads_left(fs, "restart-tree") == []
        finally:
            fs.close()
    logger.info("put of %d files across a restart: %.1f s, downtime %.1f s", len(files),
                finished - started, downtime)
    TALLY.add("restarts_survived", kind="recursive put")
    TALLY.add("bytes_verified", sum(len(body) for body in files.values()))


def test_a_put_file_that_outlives_the_default_retries_resumes_after_the_restart(
    running, make_outage, tmp_path, monkeypatch
):
    """minio, default retry policy, resumable: the server killed once 15 MiB are up fails the
    call after a few seconds with ``UploadError``, keeping the multipart upload and the
    checkpoint; once the server is back, a second call sends only the missing parts."""
    data = pattern_bytes(BIG_SIZE, seed=64)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    checkpoints = tmp_path / "checkpoints"
    fs = filesystem(running, "minio", max_workers=4, resumable=True,
                    checkpoint_dir=str(checkpoints), rate_limit_bytes_per_s=16 * MIB)
    try:
        fs.mkdir("restart-resume")
        outage = make_outage(None)
        trigger = KillAtBytes(outage, 15 * MIB)
        with pytest.raises(exceptions.UploadError):
            fs.put_file(str(source), "restart-resume/big.bin", callback=trigger)
        assert outage.killed_at is not None
        failed_after = time.monotonic() - outage.killed_at
        outage.restart()  # only now: the call has failed, the server was down all along
        downtime = outage.downtime_s()
        assert trigger.done_at_kill is not None
        assert [path.suffix for path in checkpoints.iterdir()] == [".jsonl"]
        (kept,) = uploads_left(fs, "restart-resume")
        kept_parts = {part.part_number for part in
                      fs.client.list_parts("restart-resume", "big.bin", kept.upload_id)}
        assert kept_parts  # the server kept what it had before the crash

        sent: list[int] = []
        upload_part = fs.client.upload_part

        def counting_upload_part(bucket, key, upload_id, part_number, *args, **kwargs):
            assert upload_id == kept.upload_id  # the same upload, continued
            sent.append(part_number)
            return upload_part(bucket, key, upload_id, part_number, *args, **kwargs)

        monkeypatch.setattr(fs.client, "upload_part", counting_upload_part)
        resumed_at = time.monotonic()
        fs.put_file(str(source), "restart-resume/big.bin")
        resumed_for = time.monotonic() - resumed_at

        part_count = BIG_SIZE // PART_SIZE
        assert sorted(set(sent) | kept_parts) == list(range(1, part_count + 1))
        assert len(sent) < part_count
        assert sha256(fs.cat_file("restart-resume/big.bin")) == sha256(data)
        assert uploads_left(fs, "restart-resume") == []
        assert list(checkpoints.iterdir()) == []
    finally:
        fs.close()
    logger.info("put_file failed %.1f s after the kill, resumed in %.1f s (%d of %d "
                "parts sent again); downtime %.1f s", failed_after, resumed_for, len(sent),
                part_count, downtime)
    TALLY.add("restarts_survived", kind="put_file resumed")
    TALLY.add("bytes_verified", len(data))
