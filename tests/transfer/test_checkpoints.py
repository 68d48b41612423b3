"""Checkpoints are shared state (issue 8, item 4), the manager survives a fork, versions.

Locks: a second transfer of the same file (another thread, another process) gets a clear
error instead of sharing the record. A download checkpoint cannot make the manager use or
remove a file outside the destination's directory. Checkpoint writes grow linearly with the
number of parts.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from fsspec_unified import exceptions
from fsspec_unified.driver.callbacks import ProgressCallback
from fsspec_unified.driver.engine.checkpoint import CheckpointStore
from fsspec_unified.driver.engine.config import TransferConfig
from fsspec_unified.driver.engine.control import TransferControl
from fsspec_unified.driver.engine.operation import Operation
from fsspec_unified.driver.engine.retry import RetryPolicy
from fsspec_unified.driver.engine.scheduler import RequestScheduler
from fsspec_unified.driver.models import TransferProgress
from fsspec_unified.driver.transfer_manager import TransferManager
from fsspec_unified.driver.types import MIB
from tests.helpers import pattern_bytes

FAST_RETRIES = RetryPolicy(max_attempts=4, base_delay_s=0.05, max_delay_s=0.2)
PART = 5 * MIB
REPO_ROOT = Path(__file__).resolve().parents[2]


def _manager(checkpoints, **overrides) -> TransferManager:
    values = {"part_size_bytes": PART, "retry_policy": FAST_RETRIES, "resumable": True,
              "checkpoint_dir": checkpoints, **overrides}
    return TransferManager(**values)


# -- locks ---------------------------------------------------------------------------------


def test_a_second_upload_of_the_same_file_gets_a_clear_error_while_the_first_runs(
        client, bucket, prefix, tmp_path):
    path = tmp_path / "src.bin"
    data = pattern_bytes(2 * PART + 3, seed=51)
    path.write_bytes(data)
    first = _manager(tmp_path / "c", max_workers=1)
    entered, release = threading.Event(), threading.Event()

    def hold_part_1(part_number, body):
        if part_number == 1:
            entered.set()
            release.wait(30)
        return body

    first.part_body_hook = hold_part_1
    handle = first.submit_upload(client, path, prefix + "locked", bucket=bucket)
    try:
        assert entered.wait(30)
        with pytest.raises(exceptions.TransferInProgressError, match="already running") as caught:
            _manager(tmp_path / "c").upload_file(client, path, prefix + "locked",
                                                 bucket=bucket)
        assert str(os.getpid()) in str(caught.value)
        assert caught.value.holder_pid == os.getpid()
    finally:
        release.set()
    assert handle.result(timeout=60).size == len(data)
    assert client.get_object(bucket, prefix + "locked") == data
    first.shutdown()
    # The lock is released with the transfer: the same upload can run again at once.
    _manager(tmp_path / "c").upload_file(client, path, prefix + "locked", bucket=bucket)
    assert os.listdir(tmp_path / "c") == []


def test_a_second_download_to_the_same_file_gets_a_clear_error_while_the_first_runs(
        client, bucket, prefix, tmp_path):
    data = pattern_bytes(2 * PART, seed=52)
    client.put_object(bucket, prefix + "obj", data)
    entered, release = threading.Event(), threading.Event()

    class HoldAfterFirstRange(ProgressCallback):
        def on_progress(self, done, total, start_time, speed):
            if done and not entered.is_set():
                entered.set()
                release.wait(30)

    first = _manager(tmp_path / "c", max_workers=1)
    target = tmp_path / "out.bin"
    handle = first.submit_download(client, prefix + "obj", target, HoldAfterFirstRange(),
                                   bucket=bucket)
    try:
        assert entered.wait(30)
        with pytest.raises(exceptions.TransferError, match="already running"):
            _manager(tmp_path / "c").download_file(client, prefix + "obj", target,
                                                   bucket=bucket)
    finally:
        release.set()
    handle.result(timeout=60)
    assert target.read_bytes() == data
    first.shutdown()


def test_the_lock_holder_in_another_process_is_named(tmp_path):
    store = CheckpointStore(tmp_path / "c")
    checkpoint = store.path_for(kind="upload", key="k", local_path="/x")
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time\n"
            "from pathlib import Path\n"
            "from fsspec_unified.driver.engine.checkpoint import CheckpointStore\n"
            "store = CheckpointStore(sys.argv[1])\n"
            "with store.lock(Path(sys.argv[2])):\n"
            "    print('locked', flush=True)\n"
            "    sys.stdin.read()\n"
        ), str(store.directory), str(checkpoint)],
        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(exceptions.TransferError, match=f"process {holder.pid}") as caught, \
                store.lock(checkpoint):
            pass
        assert caught.value.holder_pid == holder.pid
    finally:
        holder.stdin.close()
        holder.wait(10)
    with store.lock(checkpoint):  # free again once the holder is gone
        pass


# -- a download checkpoint cannot point elsewhere -------------------------------------------


@pytest.mark.parametrize("record_state", ["matching", "stale"])
@pytest.mark.parametrize("where", ["other-directory", "same-directory-foreign-name"])
def test_a_download_checkpoint_whose_partial_file_is_not_its_own_leaves_that_file_alone(
        client, bucket, prefix, tmp_path, record_state, where):
    """A checkpoint that names another file as its partial download (tampered, or written
    by something else) must neither rename that file into place (a matching record) nor
    delete it (a stale record)."""
    data = pattern_bytes(PART + 10, seed=53)
    key = prefix + "obj"
    client.put_object(bucket, key, data)
    info = client.head_object(bucket, key)
    out = tmp_path / "out"
    out.mkdir()
    destination = out / "dl.bin"
    victim_dir = tmp_path / "elsewhere" if where == "other-directory" else out
    victim_dir.mkdir(exist_ok=True)
    victim = victim_dir / "precious.txt"
    precious = b"p" * len(data)  # the right size, so only its location gives it away
    victim.write_bytes(precious)

    store = CheckpointStore(tmp_path / "c")
    checkpoint = store.path_for(
        kind="download", provider=client.provider, endpoint=client.config.endpoint,
        bucket=bucket, key=key, local_path=str(destination),
    )
    store.save(checkpoint, TransferProgress(
        total_size=info.size, transferred=info.size, parts_completed={1: "", 2: ""},
        temp_file=str(victim), kind="download", provider=client.provider,
        endpoint=client.config.endpoint, bucket=bucket, key=key,
        local_path=str(destination), part_size=PART,
        remote_etag=info.etag if record_state == "matching" else "not-the-etag",
    ))
    result = _manager(store.directory).download_file(client, key, destination, bucket=bucket)
    assert victim.read_bytes() == precious
    assert destination.read_bytes() == data
    assert result.parts_resumed == 0


# -- the journal grows linearly --------------------------------------------------------------


def _bytes_written_by_this_process() -> int:
    with open("/proc/self/io") as io_stats:
        for line in io_stats:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise RuntimeError("no wchar in /proc/self/io")


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux /proc/self/io")
def test_checkpoint_writes_grow_linearly_with_the_number_of_parts(tmp_path):
    parts = 2000
    job = Operation(RequestScheduler(1),
                    TransferConfig(resumable=True, checkpoint_dir=tmp_path / "c"), None,
                    "bucket", "key", None, TransferControl())
    checkpoint = job.store.path_for(kind="upload", key="key", local_path="/x")
    progress = TransferProgress(total_size=parts * PART, kind="upload", bucket="bucket",
                                key="key", upload_id="u" * 64, part_size=PART)
    job.save_checkpoint(checkpoint, progress)
    before = _bytes_written_by_this_process()
    for number in range(1, parts + 1):
        job.record_part(checkpoint, progress, number, f'"{uuid.uuid4().hex}"', PART)
    written = _bytes_written_by_this_process() - before
    # About one 100-byte line per part; rewriting the record per part wrote ~100 MB here.
    assert written < parts * 200, f"{written} bytes written for {parts} parts"
    restored = job.store.load(checkpoint)
    assert restored.parts_completed == progress.parts_completed
    assert restored.transferred == parts * PART


def test_a_torn_last_journal_line_is_ignored_and_a_corrupt_one_discards_the_record(tmp_path):
    store = CheckpointStore(tmp_path)
    checkpoint = store.path_for(kind="upload", key="k")
    store.save(checkpoint, TransferProgress(total_size=10, part_size=5, upload_id="u"))
    store.append_part(checkpoint, 1, '"e1"', 5, "bWQ1")
    store.flush(checkpoint)
    with open(checkpoint, "a") as journal:
        journal.write('{"part": 2, "etag": "e2", "si')  # a crash mid-append
    record = store.load(checkpoint)
    assert record.parts_completed == {1: '"e1"'} and record.part_md5s == {1: "bWQ1"}
    with open(checkpoint, "a") as journal:
        journal.write('\nnot json\n{"part": 3, "etag": "e3", "size": 5}\n')
    assert store.load(checkpoint) is None and not checkpoint.exists()


# -- fork safety and versions -----------------------------------------------------------------


def _download_in_child(manager, client, bucket, key, target, status_path) -> None:
    try:
        handle = manager.submit_download(client, key, target, bucket=bucket)
        handle.result(timeout=30)
        status_path.write_text("ok")
    except BaseException as error:  # reported to the parent, which fails the test
        status_path.write_text(f"{type(error).__name__}: {error}")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_background_transfers_work_in_a_child_forked_after_use(client, bucket, prefix,
                                                               tmp_path):
    data = pattern_bytes(2 * PART + 7, seed=54)
    (tmp_path / "src").write_bytes(data)
    manager = TransferManager(part_size_bytes=PART, retry_policy=FAST_RETRIES)
    manager.submit_upload(client, tmp_path / "src", prefix + "forked", bucket=bucket).result(60)
    status = tmp_path / "status"
    child = multiprocessing.get_context("fork").Process(
        target=_download_in_child,
        args=(manager, client, bucket, prefix + "forked", tmp_path / "child.bin", status),
    )
    child.start()
    child.join(90)
    if child.is_alive():
        child.kill()
    assert status.read_text() == "ok"
    assert (tmp_path / "child.bin").read_bytes() == data
    # The parent's executor is untouched by the child.
    manager.submit_download(client, prefix + "forked", tmp_path / "parent.bin",
                            bucket=bucket).result(60)
    assert (tmp_path / "parent.bin").read_bytes() == data
    manager.shutdown()


def test_download_of_an_old_version(client, tmp_path, versioned_bucket):
    old, new = pattern_bytes(PART + 1, seed=55), pattern_bytes(PART + 2, seed=56)
    first = client.put_object(versioned_bucket, "k", old)
    client.put_object(versioned_bucket, "k", new)
    version = first.version_id or next(
        entry.version_id for entry in client.list_object_versions(versioned_bucket, "k")
        if not entry.is_latest)
    manager = _manager(tmp_path / "c", resumable=False)
    manager.download_file(client, "k", tmp_path / "old.bin", bucket=versioned_bucket,
                          version_id=version)
    manager.download_file(client, "k", tmp_path / "new.bin", bucket=versioned_bucket)
    assert (tmp_path / "old.bin").read_bytes() == old
    assert (tmp_path / "new.bin").read_bytes() == new
