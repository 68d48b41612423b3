"""A first run with no account anywhere: an embedded server, real multipart transfers.

``python -m fsspec_unified`` starts SeaweedFS on loopback (a temporary data directory), then
for each provider's driver uploads a generated file through the transfer manager (concurrent
server-side multipart upload, with a progress line), downloads it again with parallel ranged
reads, verifies its SHA-256, and prints the throughput; finally it writes and reads a file
through a ``unified://`` URL with plain ``fsspec.open``. The server is stopped and its data
removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from pathlib import Path

import fsspec

from .driver import create_client
from .driver.callbacks import ConsoleProgressCallback
from .driver.transfer_manager import TransferManager
from .driver.types import MIB
from .local_server import LocalS3Server

DEMO_PROVIDERS = ("s3", "minio")


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


def run_demo(size_mib: int) -> None:
    with tempfile.TemporaryDirectory(prefix="fsspec-unified-demo-") as workdir:
        work = Path(workdir)
        print(f"starting SeaweedFS on loopback (data in {work / 'server'}) ...")
        with LocalS3Server(work / "server") as server:
            print(f"S3 endpoint {server.endpoint_url}, access key {server.access_key}")
            source = work / "sample.bin"
            expected = _write_sample(source, size_mib * MIB)
            manager = TransferManager(part_size_bytes=8 * MIB, max_workers=4)
            for provider in DEMO_PROVIDERS:
                with create_client(server.config(provider)) as client:
                    bucket = f"demo-{provider}"
                    client.create_bucket(bucket)
                    up = manager.upload_file(
                        client, source, "sample.bin", ConsoleProgressCallback(label="upload"),
                        bucket=bucket,
                    )
                    target = work / f"back-{provider}.bin"
                    down = manager.download_file(
                        client, "sample.bin", target, ConsoleProgressCallback(label="download"),
                        bucket=bucket,
                    )
                    verdict = "verified" if _sha256_of(target) == expected else "MISMATCH"
                    print(
                        f"{provider:>5}: {size_mib} MiB in {up.parts_total} parts, "
                        f"up {size_mib / up.duration_s:7.1f} MiB/s, "
                        f"down {size_mib / down.duration_s:7.1f} MiB/s, sha256 {verdict}"
                    )
                    if verdict != "verified":
                        raise SystemExit(1)
            url = "unified://demo-s3/hello.txt"
            options = {"endpoint_url": server.endpoint_url, "key": server.access_key,
                       "secret": server.secret_key}
            with fsspec.open(url, "w", **options) as handle:
                handle.write("hello from fsspec-unified\n")
            with fsspec.open(url, "r", **options) as handle:
                print(f"fsspec.open({url!r}) reads back: {handle.read().strip()!r}")
            print("stopping the server ...")
    print("done.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fsspec_unified", description=__doc__)
    parser.add_argument("--size-mib", type=int, default=64, help="size of the sample file")
    run_demo(parser.parse_args(argv).size_mib)
