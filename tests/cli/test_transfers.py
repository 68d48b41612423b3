"""``transfers list|resume|abort`` after a ``cp`` interrupted with Ctrl-C (SIGINT).

A 40 MiB file goes in 5 MiB parts at 4 MB/s over two workers, so a copy takes about ten
seconds; it is interrupted once ``transfers list`` shows some parts done. The commands run
with a profile and data directory of this module's own, so the list holds only these tests'
transfers.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from fsspec_unified.driver.engine.checkpoint import CheckpointStore
from fsspec_unified.driver.models import TransferProgress
from tests.cli.conftest import CLI, write_store_profile

SIZE_BYTES = 40 * 1024 * 1024
PART_SIZE_BYTES = 5 * 1024 * 1024
PARTS = SIZE_BYTES // PART_SIZE_BYTES
SLOW_COPY = ("--part-size", "5MiB", "--rate-limit", "4MB/s", "--workers", "2", "--no-progress")
INTERRUPT_TIMEOUT_S = 60
STALE_ENDPOINT = "http://127.0.0.1:1"  # where a record says its transfer started; gone now


@pytest.fixture
def transfers_cli(tmp_path: Path, s3_server: Any) -> CLI:
    from tests.conftest import Store

    runner = CLI(tmp_path, profile="resumable")
    write_store_profile(runner, "resumable", Store(
        "s3", s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key, "us-east-1"))
    return runner


@pytest.fixture
def remote_dir(s3_bucket: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of a prefix no other test uses."""
    return s3_bucket, f"t-{uuid.uuid4().hex[:12]}/"


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(SIZE_BYTES))
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def interrupted_cp(cli: CLI, source: str, target: str) -> dict[str, Any]:
    """Run a slow ``cp``, SIGINT it once some parts are done, and return its entry in
    ``transfers list --json``."""
    def this_transfer() -> dict[str, Any] | None:
        found = [entry for entry in cli.json("transfers", "list")
                 if (entry["source"], entry["target"]) == (source, target)]
        return found[0] if found else None

    process = cli.popen("cp", source, target, *SLOW_COPY, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + INTERRUPT_TIMEOUT_S
        while (entry := this_transfer()) is None or entry["parts_done"] < 2:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no parts were recorded"
            time.sleep(0.2)
        assert entry["state"] == "running"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert stderr.strip().endswith("interrupted")
    entry = this_transfer()
    assert entry is not None
    return entry


def uploads_of(client: Any, bucket: str, prefix: str) -> list[Any]:
    return list(client.list_multipart_uploads(bucket, prefix))


@pytest.mark.slow
def test_an_interrupted_upload_resumes_sending_only_the_missing_parts(
        transfers_cli: CLI, remote_dir: tuple[str, str], big_file: Path, s3_client: Any) -> None:
    bucket, prefix = remote_dir
    target = f"unified://{bucket}/{prefix}big.bin"

    entry = interrupted_cp(transfers_cli, str(big_file), target)
    assert entry["kind"] == "upload" and entry["state"] == "interrupted"
    assert 2 <= entry["parts_done"] < PARTS == entry["parts_total"]
    assert entry["bytes_done"] == entry["parts_done"] * PART_SIZE_BYTES
    assert entry["bytes_total"] == SIZE_BYTES
    assert [upload.upload_id for upload in uploads_of(s3_client, bucket, prefix)] == [
        entry["upload_id"]]
    assert entry["id"] in transfers_cli.ok("transfers", "list").stdout

    [resumed] = transfers_cli.json("transfers", "resume", entry["id"][:6], "--no-progress")
    assert resumed["parts_done_before"] == entry["parts_done"]
    assert resumed["bytes_sent"] == SIZE_BYTES - entry["bytes_done"]  # the missing parts only

    assert sha256(s3_client.get_object(bucket, f"{prefix}big.bin")) == sha256(
        big_file.read_bytes())
    assert uploads_of(s3_client, bucket, prefix) == []
    assert transfers_cli.json("transfers", "list") == []
    assert not list((transfers_cli.data_dir / "transfers" / "resumable").glob("*.jsonl"))


@pytest.mark.slow
def test_an_interrupted_download_resumes_into_the_same_file(
        transfers_cli: CLI, remote_dir: tuple[str, str], big_file: Path, s3_client: Any,
        tmp_path: Path) -> None:
    bucket, prefix = remote_dir
    s3_client.put_file(bucket, f"{prefix}big.bin", big_file)
    destination = tmp_path / "downloaded.bin"

    entry = interrupted_cp(transfers_cli, f"unified://{bucket}/{prefix}big.bin",
                           str(destination))
    assert entry["kind"] == "download" and 2 <= entry["parts_done"] < PARTS
    assert not destination.exists()

    [resumed] = transfers_cli.json("transfers", "resume", "--all", "--no-progress")
    assert resumed["bytes_sent"] == SIZE_BYTES - entry["bytes_done"]
    assert sha256(destination.read_bytes()) == sha256(big_file.read_bytes())
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".partial")] == []
    assert transfers_cli.json("transfers", "list") == []


@pytest.mark.slow
def test_abort_discards_the_upload_on_the_server_and_the_partial_download(
        transfers_cli: CLI, remote_dir: tuple[str, str], big_file: Path, s3_client: Any,
        tmp_path: Path) -> None:
    bucket, prefix = remote_dir
    s3_client.put_file(bucket, f"{prefix}source.bin", big_file)
    upload = interrupted_cp(transfers_cli, str(big_file), f"unified://{bucket}/{prefix}up.bin")
    download = interrupted_cp(transfers_cli, f"unified://{bucket}/{prefix}source.bin",
                              str(tmp_path / "down.bin"))
    partial_files = [path for path in tmp_path.iterdir() if path.name.endswith(".partial")]
    assert len(partial_files) == 1
    assert len(uploads_of(s3_client, bucket, prefix)) == 1

    aborted = transfers_cli.ok("transfers", "abort", "--all")
    assert f"aborted {upload['id']}" in aborted.stdout
    assert f"aborted {download['id']}" in aborted.stdout
    assert uploads_of(s3_client, bucket, prefix) == []
    assert not partial_files[0].exists()
    assert not (tmp_path / "down.bin").exists()
    assert transfers_cli.json("transfers", "list") == []
    assert not list((transfers_cli.data_dir / "transfers" / "resumable").iterdir())


def test_naming_transfers(transfers_cli: CLI) -> None:
    neither = transfers_cli.run("transfers", "resume")
    assert neither.returncode == 2 and "--all" in neither.stderr
    unknown = transfers_cli.run("transfers", "abort", "0123abcd")
    assert unknown.returncode == 3
    assert unknown.stderr.startswith("error: no transfer '0123abcd'")
    refused = transfers_cli.run("transfers", "resume", "--all", "--part-size", "8MiB")
    assert refused.returncode == 2 and "part size it started with" in refused.stderr
    assert transfers_cli.ok("transfers", "list").stderr == "no unfinished transfers\n"


def stale_record(cli: CLI, kind: str, local_path: Path, started: datetime,
                 **fields: Any) -> str:
    """Write the checkpoint of a ``kind`` transfer started on :data:`STALE_ENDPOINT` (as if
    the profile's server had moved since) and return its id."""
    store = CheckpointStore(cli.data_dir / "transfers" / cli.profile)
    path = store.path_for(kind=kind, local_path=str(local_path), endpoint=STALE_ENDPOINT)
    store.save(path, TransferProgress(
        total_size=PART_SIZE_BYTES * 2, kind=kind, provider="s3", endpoint=STALE_ENDPOINT,
        bucket="gone", key="big.bin", local_path=str(local_path), part_size=PART_SIZE_BYTES,
        start_time=started, **fields))
    return path.stem.partition("-")[2][:12]


def test_abort_all_goes_on_past_a_stale_upload_and_forget_drops_it(
        transfers_cli: CLI, tmp_path: Path) -> None:
    earlier = datetime(2024, 1, 1, tzinfo=timezone.utc)
    upload = stale_record(transfers_cli, "upload", tmp_path / "up.bin", earlier,
                          upload_id="stale-upload-id")
    partial = tmp_path / ".down.bin.a1b2c3.partial"
    partial.write_bytes(b"partial")
    download = stale_record(transfers_cli, "download", tmp_path / "down.bin",
                            earlier + timedelta(hours=1), temp_file=str(partial))

    refused = transfers_cli.run("transfers", "abort", "--all")
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"error: {upload}: started on s3 at {STALE_ENDPOINT}")
    assert f"aborted {download}" in refused.stdout  # a download needs no store
    assert not partial.exists()
    assert [entry["id"] for entry in transfers_cli.json("transfers", "list")] == [upload]

    forgot = transfers_cli.ok("transfers", "abort", "--all", "--forget")
    assert forgot.stdout.startswith(f"forgot {upload}")
    assert transfers_cli.json("transfers", "list") == []
    assert "lifecycle rule" in transfers_cli.ok("transfers", "abort", "--help").stdout


def test_resume_all_reports_each_stale_transfer_and_fails_at_the_end(
        transfers_cli: CLI, tmp_path: Path) -> None:
    earlier = datetime(2024, 1, 1, tzinfo=timezone.utc)
    ids = [stale_record(transfers_cli, "upload", tmp_path / "up.bin", earlier),
           stale_record(transfers_cli, "download", tmp_path / "down.bin",
                        earlier + timedelta(hours=1))]

    result = transfers_cli.run("transfers", "resume", "--all", "--no-progress", "--json")
    assert result.returncode == 2
    assert [line.split(":")[1].strip() for line in result.stderr.splitlines()] == ids
    assert json.loads(result.stdout) == []
    assert len(transfers_cli.json("transfers", "list")) == 2
