"""A first run with no account anywhere: an embedded server, real multipart transfers.

``fsspec-unified demo`` (also what ``python -m fsspec_unified`` runs without a command)
starts SeaweedFS on loopback in a temporary directory and puts an Aliyun OSS protocol gateway
in front of it. Then, for each provider's driver (S3, MinIO and OSS), it uploads a generated
file through the transfer manager (a concurrent multipart upload), downloads it again with
parallel ranged reads and verifies its SHA-256. It writes a pandas DataFrame as Parquet to a
``unified://`` URL and reads it back (when pandas and pyarrow are installed), writes and reads
a text file with plain ``fsspec.open``, and returns what each provider did (the command
prints it as a table). The server is stopped and its data removed at the end.

Everything this module prints goes to stderr: progress bars, the endpoints, and a line per
check that passed. The summary table is left to the caller (the command prints it on stdout,
alone, so ``fsspec-unified demo > summary.txt`` keeps just the table). A failed check raises
:class:`DemoCheckFailed`.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec

from .driver import create_client
from .driver.callbacks import ConsoleProgressCallback
from .driver.models import OSSConfig
from .driver.transfer_manager import TransferManager
from .driver.types import MIB
from .local_server import LocalS3Server

OSS_REGION = "cn-hangzhou"
PART_SIZE_BYTES = 5 * MIB  # the smallest S3 allows: even 8 MiB makes two parts
MAX_WORKERS = 4
PARQUET_ROWS = 10_000
SUMMARY_HEADER = ("PROVIDER", "SIZE", "PARTS", "UPLOAD MiB/s", "DOWNLOAD MiB/s", "TIME")


class DemoCheckFailed(RuntimeError):
    """What the demo read back differs from what it wrote."""


@dataclass(frozen=True)
class ProviderRun:
    """What one provider's round trip did: a row of the summary table (its columns are
    :data:`SUMMARY_HEADER`)."""

    provider: str
    size_bytes: int
    parts: int
    upload_s: float
    download_s: float
    total_s: float

    def summary_row(self) -> tuple[str, ...]:
        size_mib = self.size_bytes / MIB
        return (self.provider, f"{size_mib:.0f} MiB", str(self.parts),
                f"{size_mib / self.upload_s:.1f}", f"{size_mib / self.download_s:.1f}",
                f"{self.total_s:.2f} s")


def _status(message: str) -> None:
    """A progress or check line: stderr (see the module docstring)."""
    print(message, file=sys.stderr, flush=True)


def _write_sample(path: Path, size_bytes: int) -> str:
    """Write ``size_bytes`` of random data and return its SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        for offset in range(0, size_bytes, 4 * MIB):
            chunk = os.urandom(min(4 * MIB, size_bytes - offset))
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def run_demo(size_mib: int) -> list[ProviderRun]:
    """Run the demo (see the module docstring); returns each provider's round trip."""
    # Imported here, not at the top: the command line imports this module on every start,
    # and the gateway loads oss2 (a quarter of a second).
    from .testing.oss_gateway import OSSGateway

    with tempfile.TemporaryDirectory(prefix="fsspec-unified-demo-") as workdir:
        work = Path(workdir)
        _status(f"starting SeaweedFS on loopback (data in {work / 'server'}) ...")
        with LocalS3Server(work / "server") as server, OSSGateway(
                server.endpoint_url, server.access_key, server.secret_key,
                region=OSS_REGION) as gateway:
            _status(f"S3 endpoint {server.endpoint_url}, OSS endpoint {gateway.endpoint_url}, "
                    f"access key {server.access_key}")
            configs = {
                "s3": server.config("s3"),
                "minio": server.config("minio"),
                "oss": server.config("oss", endpoint=gateway.endpoint_url, region=OSS_REGION),
            }
            source = work / "sample.bin"
            expected = _write_sample(source, size_mib * MIB)
            runs = [_round_trip(provider, config, source, expected, work)
                    for provider, config in configs.items()]
            options = {"endpoint_url": server.endpoint_url, "key": server.access_key,
                       "secret": server.secret_key}
            _parquet_round_trip("unified://demo-s3/frame.parquet", options)
            _text_round_trip("unified://demo-s3/hello.txt", options)
            _status("stopping the server ...")
            server.kill()  # its data is deleted next: a graceful stop (~20 s) gains nothing
    return runs


def _round_trip(provider: str, config: OSSConfig, source: Path, expected_sha256: str,
                work: Path) -> ProviderRun:
    """Upload ``source`` through ``provider``'s driver, download it, check the bytes."""
    manager = TransferManager(part_size_bytes=PART_SIZE_BYTES, max_workers=MAX_WORKERS)
    started = time.monotonic()
    with create_client(config) as client:
        bucket = f"demo-{provider}"
        client.create_bucket(bucket)
        up = manager.upload_file(client, source, "sample.bin",
                                 ConsoleProgressCallback(label=f"{provider} upload"),
                                 bucket=bucket)
        target = work / f"back-{provider}.bin"
        down = manager.download_file(client, "sample.bin", target,
                                     ConsoleProgressCallback(label=f"{provider} download"),
                                     bucket=bucket)
    if _sha256_of(target) != expected_sha256:
        raise DemoCheckFailed(f"{provider}: the downloaded file differs from the uploaded one")
    _status(f"{provider:>5}: uploaded in {up.parts_total} part(s), downloaded, sha256 verified")
    return ProviderRun(provider, up.size, up.parts_total, up.duration_s,
                       down.duration_s, time.monotonic() - started)


def _parquet_round_trip(url: str, storage_options: dict[str, Any]) -> None:
    """A DataFrame to Parquet at ``url`` and back through pandas, compared."""
    try:
        import pandas as pd
        import pyarrow  # noqa: F401  (pandas' Parquet engine)
    except ImportError:
        _status("parquet: skipped (needs pandas and pyarrow: pip install pandas pyarrow)")
        return
    frame = pd.DataFrame({
        "id": range(PARQUET_ROWS),
        "value": [index * 0.5 for index in range(PARQUET_ROWS)],
        "label": [f"row-{index}" for index in range(PARQUET_ROWS)],
    })
    frame.to_parquet(url, storage_options=storage_options)
    back = pd.read_parquet(url, storage_options=storage_options)
    if not back.equals(frame):
        raise DemoCheckFailed(f"parquet: the frame read back from {url} differs")
    _status(f"parquet: {len(frame)} rows written to {url} with pandas, read back identical")


def _text_round_trip(url: str, storage_options: dict[str, Any]) -> None:
    with fsspec.open(url, "w", **storage_options) as handle:
        handle.write("hello from fsspec-unified\n")
    with fsspec.open(url, "r", **storage_options) as handle:
        _status(f"fsspec.open({url!r}) reads back: {handle.read().strip()!r}")
