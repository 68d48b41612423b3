"""A first run with no account anywhere: an embedded server, a real multipart round trip.

``python -m fsspec_unified`` starts SeaweedFS on loopback (a temporary data directory), then
for each provider's driver uploads a generated file as a server-side multipart upload,
downloads it again, verifies its SHA-256, and prints the throughput. The server is stopped and
its data removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from .driver import create_client
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
            for provider in DEMO_PROVIDERS:
                with create_client(server.config(provider)) as client:
                    bucket = f"demo-{provider}"
                    client.create_bucket(bucket)
                    started = time.perf_counter()
                    written = client.put_file(bucket, "sample.bin", source)
                    upload_s = time.perf_counter() - started
                    target = work / f"back-{provider}.bin"
                    started = time.perf_counter()
                    client.get_file(bucket, "sample.bin", target)
                    download_s = time.perf_counter() - started
                    verdict = "verified" if _sha256_of(target) == expected else "MISMATCH"
                    print(
                        f"{provider:>5}: {size_mib} MiB up {size_mib / upload_s:7.1f} MiB/s "
                        f"(etag {written.etag}), down {size_mib / download_s:7.1f} MiB/s, "
                        f"sha256 {verdict}"
                    )
                    if verdict != "verified":
                        raise SystemExit(1)
            print("stopping the server ...")
    print("done.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fsspec_unified", description=__doc__)
    parser.add_argument("--size-mib", type=int, default=64, help="size of the sample file")
    run_demo(parser.parse_args(argv).size_mib)
