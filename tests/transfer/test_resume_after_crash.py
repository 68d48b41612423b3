"""Real crashes: the uploading process killed with SIGKILL, and the server killed mid-upload."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fsspec_unified import create_client, exceptions
from fsspec_unified.driver.callbacks import ProgressCallback
from fsspec_unified.driver.engine.checkpoint import CheckpointStore
from fsspec_unified.driver.engine.retry import RetryPolicy
from fsspec_unified.driver.transfer_manager import TransferManager
from fsspec_unified.driver.types import MIB
from fsspec_unified.local_server import LocalS3Server
from fsspec_unified.testing.oss_gateway import OSSGateway
from tests.conftest import OSS_REGION, PROVIDERS
from tests.helpers import pattern_bytes

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_sigkilled_upload_resumes_with_only_the_missing_parts(
    store, client, provider, bucket, prefix, tmp_path
):
    part_size, size = 5 * MIB, 64 * MIB
    path = tmp_path / "big.bin"
    data = pattern_bytes(size, seed=21)
    path.write_bytes(data)
    key = prefix + "killed.bin"
    checkpoints = tmp_path / "checkpoints"
    job = {
        "provider": provider, "endpoint": store.endpoint_url,
        "access_key": store.access_key, "secret_key": store.secret_key, "region": store.region,
        "bucket": bucket, "key": key, "path": str(path), "checkpoint_dir": str(checkpoints),
        "part_size": part_size, "rate_limit": 16 * MIB,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.transfer.upload_process"], cwd=REPO_ROOT,
        env={**os.environ, "UPLOAD_JOB": json.dumps(job)},
    )
    try:
        checkpoint_store = CheckpointStore(checkpoints)
        deadline = time.monotonic() + 60
        while True:
            files = list(checkpoints.glob("upload-*.jsonl")) if checkpoints.exists() else []
            record = checkpoint_store.load(files[0]) if files else None
            if record is not None and len(record.parts_completed) >= 5:
                checkpoint_text = files[0].read_text()
                checkpoint_mode = files[0].stat().st_mode & 0o777
                break
            assert process.poll() is None, "the uploader ended before it could be killed"
            assert time.monotonic() < deadline, "the uploader made no progress"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()

    assert store.secret_key not in checkpoint_text
    assert store.access_key not in checkpoint_text
    assert checkpoint_mode == 0o600
    (upload,) = client.list_multipart_uploads(bucket, prefix)
    on_server = len(list(client.list_parts(bucket, key, upload.upload_id)))
    total_parts = size // part_size + 1
    assert 5 <= on_server < total_parts

    recorded = len(checkpoint_store.load(files[0]).parts_completed)
    manager = TransferManager(part_size_bytes=part_size, resumable=True,
                              checkpoint_dir=checkpoints)
    result = manager.upload_file(client, path, key, bucket=bucket)
    # Parts the server has but the checkpoint had not recorded yet cannot be checked against
    # the local file, so they are sent again.
    assert 5 <= recorded <= result.parts_resumed <= on_server
    assert result.parts_transferred == total_parts - result.parts_resumed
    assert client.get_object(bucket, key) == data
    assert list(client.list_multipart_uploads(bucket, prefix)) == []
    assert list(checkpoints.glob("upload-*.jsonl")) == []


@pytest.mark.parametrize("provider_name", PROVIDERS)
def test_upload_survives_a_server_restart(tmp_path, provider_name):
    """A dedicated server is killed mid-upload and started again on its data directory
    (for OSS, behind a gateway that stays up: the store behind it restarts)."""
    data = pattern_bytes(40 * MIB, seed=22)
    path = tmp_path / "src.bin"
    path.write_bytes(data)
    server = LocalS3Server(tmp_path / "server").start()
    gateway = None
    try:
        overrides = {"max_retries": 0, "connect_timeout_s": 1}
        if provider_name == "oss":
            gateway = OSSGateway(server.endpoint_url, server.access_key, server.secret_key,
                                 region=OSS_REGION).start()
            overrides.update(endpoint=gateway.endpoint_url, region=OSS_REGION)
        client = create_client(server.config(provider_name, **overrides))
        client.create_bucket("restart")
        manager = TransferManager(
            part_size_bytes=5 * MIB, rate_limit_bytes_per_s=8 * MIB, resumable=True,
            checkpoint_dir=tmp_path / "c",
            retry_policy=RetryPolicy(max_attempts=40, base_delay_s=0.2, max_delay_s=1.0),
            max_workers=2,
        )
        progressed = threading.Event()

        class Watch(ProgressCallback):
            def on_progress(self, done, total, start_time, speed):
                if done >= 10 * MIB:
                    progressed.set()

        handle = manager.submit_upload(client, path, "big.bin", Watch(), bucket="restart")
        assert progressed.wait(60)
        server.stop(timeout_s=0)  # SIGKILL: a crash, not a shutdown
        time.sleep(1)
        server.start()
        try:
            result = handle.result(timeout=180)
        except (exceptions.TransferError, exceptions.UploadNotFoundError):
            # The server may lose the in-progress upload in the crash: then resume.
            result = manager.upload_file(client, path, "big.bin", bucket="restart")
        assert result.size == len(data)
        assert client.get_object("restart", "big.bin") == data
        assert list(client.list_multipart_uploads("restart")) == []
        manager.shutdown()
    finally:
        if gateway is not None:
            gateway.stop()
        server.stop(timeout_s=5)
