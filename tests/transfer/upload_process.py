"""A separate process that uploads one file resumably, so a test can SIGKILL it mid-way.

Usage: ``python -m tests.transfer.upload_process`` with the job in the environment variable
``UPLOAD_JOB`` (JSON: provider, endpoint, access_key, secret_key, region, bucket, key, path,
checkpoint_dir, part_size, rate_limit).
"""

from __future__ import annotations

import json
import os

from fsspec_unified import OSSConfig, create_client
from fsspec_unified.driver.transfer_manager import TransferManager


def main() -> None:
    job = json.loads(os.environ["UPLOAD_JOB"])
    config = OSSConfig(
        provider=job["provider"], endpoint=job["endpoint"], access_key=job["access_key"],
        secret_key=job["secret_key"], region=job["region"],
    )
    manager = TransferManager(
        part_size_bytes=job["part_size"], max_workers=2, resumable=True,
        checkpoint_dir=job["checkpoint_dir"], rate_limit_bytes_per_s=job["rate_limit"],
    )
    manager.upload_file(create_client(config), job["path"], job["key"], bucket=job["bucket"])


if __name__ == "__main__":
    main()
