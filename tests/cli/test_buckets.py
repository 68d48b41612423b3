"""``mb`` and ``rb``: a bucket made, refused while it holds objects, removed with --force."""

from __future__ import annotations

import uuid

import pytest

from fsspec_unified.cli.errors import EXIT_EXISTS, EXIT_USAGE
from fsspec_unified.cli.locations import parse_location


def test_mb_then_rb_of_an_empty_bucket(cli_s3, s3_client):
    name = f"mb-{uuid.uuid4().hex[:10]}"
    cli_s3.ok("mb", f"unified://{name}")
    assert name in {bucket.name for bucket in s3_client.list_buckets()}
    assert cli_s3.run("mb", f"unified://{name}").returncode == EXIT_EXISTS
    cli_s3.ok("rb", f"unified://{name}")
    assert name not in {bucket.name for bucket in s3_client.list_buckets()}


def test_rb_refuses_a_non_empty_bucket_unless_forced(cli_s3, s3_client, tmp_path):
    name = f"rb-{uuid.uuid4().hex[:10]}"
    cli_s3.ok("mb", f"unified://{name}")
    (tmp_path / "f.txt").write_bytes(b"content")
    cli_s3.ok("cp", str(tmp_path / "f.txt"), f"unified://{name}/dir/f.txt")
    s3_client.create_multipart_upload(name, "unfinished.bin")
    refused = cli_s3.run("rb", f"unified://{name}")
    assert refused.returncode == EXIT_EXISTS and "--force" in refused.stderr
    assert name in {bucket.name for bucket in s3_client.list_buckets()}
    cli_s3.ok("rb", "--force", f"unified://{name}")
    assert name not in {bucket.name for bucket in s3_client.list_buckets()}


def test_mb_needs_a_bucket_url(cli_s3):
    assert cli_s3.run("mb", "unified://bucket/key").returncode == EXIT_USAGE
    assert cli_s3.run("rb", "local-dir").returncode == EXIT_USAGE


@pytest.mark.parametrize("text, bucket, key, is_bucket", [
    ("unified://b", "b", "", True), ("unified://b/", "b", "", True),
    ("unified://b/k", "b", "k", False), ("unified://b/dir/k/", "b", "dir/k", False),
    ("unified://", "", "", False), ("b/k", "", "", False)])
def test_location_tells_a_bucket_from_a_key(text, bucket, key, is_bucket):
    location = parse_location(text)
    assert (location.bucket, location.key, location.is_bucket) == (bucket, key, is_bucket)


def test_rm_of_a_bucket_url_needs_recursive(cli_s3, s3_bucket):
    for url in (f"unified://{s3_bucket}", f"unified://{s3_bucket}/"):
        refused = cli_s3.run("rm", url)
        assert refused.returncode == EXIT_USAGE and "'rb' deletes it" in refused.stderr
