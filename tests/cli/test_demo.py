"""``demo``: the first run works on a fresh data directory and ends with its summary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.conftest import CLI, lines, weed_processes_of


@pytest.mark.slow
def test_demo_round_trips_every_provider_and_prints_a_summary(tmp_path: Path) -> None:
    cli = CLI(tmp_path)
    result = cli.ok("demo", "--size-mib", "8")

    output = lines(result.stdout)
    assert "parquet: 10000 rows written to unified://demo-s3/frame.parquet with pandas, " \
           "read back identical" in output
    assert "fsspec.open('unified://demo-s3/hello.txt') reads back: " \
           "'hello from fsspec-unified'" in output
    header = output.index("PROVIDER   SIZE  PARTS  UPLOAD MiB/s  DOWNLOAD MiB/s    TIME")
    table = [line.split() for line in output[header + 1:header + 4]]
    assert [row[0] for row in table] == ["s3", "minio", "oss"]
    assert all(row[1:4] == ["8", "MiB", "2"] for row in table)  # 5 MiB parts
    assert output[-1] == "done."
    assert "s3 upload 100.0%" in result.stderr  # progress goes to stderr
    started = re.search(r"starting SeaweedFS on loopback \(data in (.+)\) \.\.\.",
                        result.stderr)
    server_dir = Path(started.group(1))
    assert "stopping the server" in result.stderr
    assert weed_processes_of(server_dir) == []
    assert not server_dir.exists()  # its temporary data is gone too
