"""``ls``, ``stat``, ``du``, ``cat`` and ``sign`` as a user reads their output."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from datetime import datetime

import pytest
from click.testing import CliRunner

from fsspec_unified.cli.app import cli
from fsspec_unified.cli.context import CLIContext
from fsspec_unified.cli.errors import EXIT_NOT_FOUND, EXIT_USAGE
from tests.cli.conftest import lines


@pytest.fixture
def populated(cli_s3, s3_remote, tmp_path):
    """``s3_remote`` holding a.txt (5 bytes), data/b.bin (2000), data/deep/c.bin (3000)."""
    files = {"a.txt": b"hello", "data/b.bin": os.urandom(2000),
             "data/deep/c.bin": os.urandom(3000)}
    for name, data in files.items():
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_bytes(data)
    cli_s3.ok("cp", "-r", str(tmp_path / "src") + "/", s3_remote)
    return s3_remote, files


def test_ls_shows_sizes_dates_and_directories(cli_s3, populated):
    remote, _ = populated
    rows = lines(cli_s3.ok("ls", remote).stdout)
    assert len(rows) == 2
    file_row = next(row for row in rows if row.endswith("a.txt"))
    assert "5 B" in file_row
    assert str(datetime.now().year) in file_row
    directory_row = next(row for row in rows if row.endswith("data/"))
    assert "DIR" in directory_row


def test_ls_recursive_json_lists_every_object(cli_s3, populated):
    remote, files = populated
    entries = cli_s3.json("ls", "-r", remote)
    prefix = remote.removeprefix("unified://")
    assert {entry["name"].removeprefix(prefix): entry["size"] for entry in entries} == {
        name: len(data) for name, data in files.items()}
    for entry in entries:
        assert entry["type"] == "file"
        assert entry["url"] == "unified://" + entry["name"]
        assert entry["etag"]
        assert datetime.fromisoformat(entry["last_modified"]).tzinfo is not None


def test_ls_of_the_root_lists_buckets(cli_s3, s3_bucket):
    assert any(row.endswith(f"{s3_bucket}/") and "BUCKET" in row
               for row in lines(cli_s3.ok("ls").stdout))
    buckets = cli_s3.json("ls", "unified://")
    assert {"name": s3_bucket, "type": "bucket"}.items() <= next(
        entry for entry in buckets if entry["name"] == s3_bucket).items()


def test_ls_of_a_missing_prefix_is_not_found(cli_s3, s3_remote):
    assert cli_s3.run("ls", s3_remote + "nothing-here/").returncode == EXIT_NOT_FOUND


def test_stat_of_an_object_and_a_directory(cli_s3, populated):
    remote, _ = populated
    record = cli_s3.json("stat", remote + "a.txt")
    assert record["type"] == "file" and record["size"] == 5
    assert record["etag"] == hashlib.md5(b"hello").hexdigest()
    assert record["content_type"] == "text/plain"
    assert datetime.fromisoformat(record["last_modified"])
    text = cli_s3.ok("stat", remote + "a.txt").stdout
    assert "5 bytes" in text and "text/plain" in text
    assert cli_s3.json("stat", remote + "data")["type"] == "directory"
    assert cli_s3.run("stat", remote + "nope").returncode == EXIT_NOT_FOUND


def test_du_totals_bytes_and_objects(cli_s3, populated):
    remote, files = populated
    usage = cli_s3.json("du", remote)
    assert usage["size"] == sum(len(data) for data in files.values())
    assert usage["objects"] == 3
    assert {child["name"]: (child["size"], child["objects"]) for child in usage["children"]} == {
        "a.txt": (5, 1), "data": (5000, 2)}
    summary = cli_s3.json("du", "-s", remote)
    assert "children" not in summary and summary["objects"] == 3
    assert len(lines(cli_s3.ok("du", "-s", remote).stdout)) == 1
    assert len(lines(cli_s3.ok("du", remote).stdout)) == 3


def test_cat_writes_exact_bytes_to_stdout(cli_s3, populated):
    remote, files = populated
    result = cli_s3.run("cat", remote + "a.txt", remote + "data/b.bin", input=b"")
    assert result.returncode == 0
    assert result.stdout == files["a.txt"] + files["data/b.bin"]
    assert cli_s3.run("cat", remote + "missing").returncode == EXIT_NOT_FOUND


def test_sign_gives_urls_that_work_without_credentials(cli_s3, populated):
    remote, files = populated
    url = cli_s3.ok("sign", remote + "data/b.bin", "--expires", "30m").stdout.strip()
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == files["data/b.bin"]
    put_url = cli_s3.ok("sign", remote + "uploaded.bin", "--method", "PUT").stdout.strip()
    request = urllib.request.Request(put_url, data=b"via presigned PUT", method="PUT")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    result = cli_s3.run("cat", remote + "uploaded.bin", input=b"")
    assert result.stdout == b"via presigned PUT"


def test_sign_rejects_a_bad_duration(cli_s3, s3_remote):
    result = cli_s3.run("sign", s3_remote + "x", "--expires", "soon")
    assert result.returncode == EXIT_USAGE and "duration" in result.stderr


def test_every_command_explains_itself():
    runner = CliRunner()
    for command in ("ls", "stat", "du", "cat", "sign", "cp", "mv", "rm", "sync", "mb", "rb"):
        result = runner.invoke(cli, [command, "--help"], obj=CLIContext())
        assert result.exit_code == 0, (command, result.output)
        assert "Example" in result.output and "Usage:" in result.output, command


def test_stat_of_a_bucket_says_bucket_as_ls_does(cli_s3, s3_bucket):
    assert cli_s3.json("stat", f"unified://{s3_bucket}")["type"] == "bucket"
    assert {entry["name"]: entry["type"] for entry in cli_s3.json("ls")}[s3_bucket] == "bucket"
    rows = lines(cli_s3.ok("stat", f"unified://{s3_bucket}/").stdout)
    assert rows[1].split() == ["type:", "bucket"]
