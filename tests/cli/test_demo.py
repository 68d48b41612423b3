"""``demo``: the first run works on a fresh data directory and ends with its summary; the
command line does not pay for the demo's imports when another command runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import CLI, lines, weed_processes_of


@pytest.mark.slow
def test_demo_round_trips_every_provider_and_prints_a_summary(tmp_path: Path) -> None:
    cli = CLI(tmp_path)
    result = cli.ok("demo", "--size-mib", "8")

    table = [line.split() for line in lines(result.stdout)]  # stdout: the table alone
    assert table[0] == ["PROVIDER", "SIZE", "PARTS", "UPLOAD", "MiB/s", "DOWNLOAD", "MiB/s",
                        "TIME"]
    assert [row[0] for row in table[1:]] == ["s3", "minio", "oss"]
    assert all(row[1:4] == ["8", "MiB", "2"] for row in table[1:])  # 5 MiB parts

    status = lines(result.stderr)
    assert "parquet: 10000 rows written to unified://demo-s3/frame.parquet with pandas, " \
           "read back identical" in status
    assert "fsspec.open('unified://demo-s3/hello.txt') reads back: " \
           "'hello from fsspec-unified'" in status
    assert status[-1] == "done."
    assert "s3 upload 100.0%" in result.stderr
    started = re.search(r"starting SeaweedFS on loopback \(data in (.+)\) \.\.\.",
                        result.stderr)
    server_dir = Path(started.group(1))
    assert "stopping the server" in result.stderr
    assert weed_processes_of(server_dir) == []
    assert not server_dir.exists()  # its temporary data is gone too


def test_starting_the_command_line_does_not_import_the_demo_gateway() -> None:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "fsspec_unified",
                             "--help"], capture_output=True, text=True, check=True,
                            timeout=60)
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "fsspec_unified.demo" in imported  # the demo command is registered ...
    assert "fsspec_unified.testing.oss_gateway" not in imported  # ... its gateway is not
    assert "pandas" not in imported
