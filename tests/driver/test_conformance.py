"""The driver conformance suite: every provider's driver must pass it unchanged.

Runs against the real SeaweedFS server over HTTP, once per provider (see ``PROVIDERS`` in
conftest). Assertions are what a user would check: bytes round-trip, digests, error types,
nothing left behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from fsspec_unified import OSSConfig, create_client, exceptions
from fsspec_unified.driver.base_oss import content_md5
from fsspec_unified.driver.types import MIB, ObjectInfo
from tests.helpers import pattern_bytes

SPECIAL_KEYS = ["with space.txt", "plus+sign", "percent%25and%", "ünï/日本語 ключ", "a+b c/d"]


def uploads_under(client, bucket: str, prefix: str) -> list:
    return list(client.list_multipart_uploads(bucket, prefix))


class OneByteAtATime(io.RawIOBase):
    """A non-seekable stream that returns short reads, like a socket or a pipe."""

    def __init__(self, data: bytes, chunk: int = 777_777):
        self._data = memoryview(data)
        self._chunk = chunk

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = min(self._chunk, len(self._data) if size < 0 else size)
        piece, self._data = bytes(self._data[:size]), self._data[size:]
        return piece


@pytest.fixture
def offline_client(provider):
    """A client whose endpoint has nothing listening (port 9, discard, is never served here)."""
    config = OSSConfig(
        provider=provider, endpoint="http://127.0.0.1:9", access_key="AK", secret_key="SK",
        max_retries=0, connect_timeout_s=2, read_timeout_s=2,
    )
    with create_client(config) as offline:
        yield offline


# -- objects ---------------------------------------------------------------------------------


def test_put_get_head_round_trip_with_metadata(client, bucket, prefix):
    key = prefix + "hello.bin"
    data = pattern_bytes(100_000)
    written = client.put_object(
        bucket, key, data, content_type="application/x-test", metadata={"Owner": "alice"}
    )
    assert written.etag == hashlib.md5(data).hexdigest()
    assert client.get_object(bucket, key) == data
    info = client.head_object(bucket, key)
    assert (info.key, info.size, info.etag) == (key, len(data), written.etag)
    assert info.content_type == "application/x-test"
    assert info.metadata == {"owner": "alice"}
    assert info.last_modified is not None
    assert client.object_exists(bucket, key)
    assert not client.object_exists(bucket, prefix + "missing")


def test_get_ranges_follow_python_slicing(client, bucket, prefix):
    key = prefix + "range.bin"
    data = pattern_bytes(10_000)
    client.put_object(bucket, key, data)
    assert client.get_object(bucket, key, 2, 5) == data[2:5]
    assert client.get_object(bucket, key, 9_000) == data[9_000:]
    assert client.get_object(bucket, key, None, 10) == data[:10]
    assert client.get_object(bucket, key, 9_990, 20_000) == data[9_990:]
    assert client.get_object(bucket, key, 10_000) == b""
    assert client.get_object(bucket, key, 50_000, 60_000) == b""
    assert client.get_object(bucket, key, 5, 5) == b""


@pytest.mark.parametrize(("start", "end"), [(-1, None), (5, 2), (0, -3), (1.5, 4)])
def test_invalid_ranges_are_rejected_before_any_request(client, bucket, start, end):
    with pytest.raises(exceptions.InvalidRangeError) as caught:
        client.get_object(bucket, "never-fetched", start, end)
    assert isinstance(caught.value, ValueError)


def test_get_object_stream_reads_in_chunks(client, bucket, prefix):
    key = prefix + "stream.bin"
    data = pattern_bytes(3 * MIB + 17)
    client.put_object(bucket, key, data)
    pieces = []
    with client.get_object_stream(bucket, key) as stream:
        while chunk := stream.read(100_000):
            pieces.append(chunk)
    assert b"".join(pieces) == data
    with client.get_object_stream(bucket, key, 1000, 2000) as stream:
        assert stream.read() == data[1000:2000]


def test_get_file_writes_atomically(client, bucket, prefix, tmp_path):
    key = prefix + "download.bin"
    data = pattern_bytes(2 * MIB + 5)
    client.put_object(bucket, key, data)
    target = tmp_path / "out.bin"
    assert client.get_file(bucket, key, target) == len(data)
    assert target.read_bytes() == data

    missing_target = tmp_path / "missing.bin"
    with pytest.raises(exceptions.ObjectNotFoundError):
        client.get_file(bucket, prefix + "missing", missing_target)
    assert sorted(os.listdir(tmp_path)) == ["out.bin"]  # no partial or temporary file


def test_put_stream_of_unknown_length_small_and_multipart(client, bucket, prefix):
    small = pattern_bytes(1234, seed=1)
    client.put_stream(bucket, prefix + "small", OneByteAtATime(small), part_size=5 * MIB)
    assert client.get_object(bucket, prefix + "small") == small

    large = pattern_bytes(12 * MIB + 3, seed=2)
    written = client.put_stream(bucket, prefix + "large", OneByteAtATime(large), part_size=5 * MIB)
    assert client.get_object(bucket, prefix + "large") == large
    assert written.etag.endswith("-3")  # three parts: a real server-side multipart upload
    assert uploads_under(client, bucket, prefix) == []


def test_put_stream_failure_aborts_the_upload(client, bucket, prefix):
    class Broken(OneByteAtATime):
        def read(self, size=-1):
            if self._data.nbytes < 3 * MIB:
                raise OSError("disk went away")
            return super().read(size)

    with pytest.raises(OSError, match="disk went away"):
        client.put_stream(bucket, prefix + "broken", Broken(pattern_bytes(16 * MIB)),
                          part_size=5 * MIB)
    assert not client.object_exists(bucket, prefix + "broken")
    assert uploads_under(client, bucket, prefix) == []


def test_put_file(client, bucket, prefix, tmp_path):
    source = tmp_path / "source.bin"
    data = pattern_bytes(11 * MIB, seed=3)
    source.write_bytes(data)
    client.put_file(bucket, prefix + "file.bin", source, part_size=5 * MIB)
    assert client.get_object(bucket, prefix + "file.bin") == data


def test_delete_object_and_missing_key_is_not_an_error(client, bucket, prefix):
    key = prefix + "doomed"
    client.put_object(bucket, key, b"x")
    client.delete_object(bucket, key)
    assert not client.object_exists(bucket, key)
    client.delete_object(bucket, key)


def test_delete_objects_batches_beyond_one_request(client, bucket, prefix, monkeypatch):
    count = client.capabilities.max_delete_batch + 5
    keys = [f"{prefix}many/{index:05d}" for index in range(count)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: client.put_object(bucket, key, b"."), keys))

    batch_sizes = []
    real_delete_batch = client._delete_batch

    def counting_delete_batch(bucket_name, batch):
        batch_sizes.append(len(batch))
        return real_delete_batch(bucket_name, batch)

    monkeypatch.setattr(client, "_delete_batch", counting_delete_batch)
    result = client.delete_objects(bucket, [*keys, prefix + "never-existed"])
    assert result.ok and result.failures == []
    assert sorted(result.deleted) == sorted([*keys, prefix + "never-existed"])
    assert batch_sizes == [client.capabilities.max_delete_batch, 6]
    assert [o for o in client.list_objects(bucket, prefix + "many/") if not o.is_prefix] == []


def test_copy_object_is_server_side_and_keeps_or_replaces_metadata(client, bucket, prefix):
    data = pattern_bytes(50_000)
    client.put_object(bucket, prefix + "src", data, metadata={"colour": "blue"})
    client.copy_object(bucket, prefix + "src", bucket, prefix + "dst")
    assert client.get_object(bucket, prefix + "dst") == data
    assert client.head_object(bucket, prefix + "dst").metadata == {"colour": "blue"}
    client.copy_object(bucket, prefix + "src", bucket, prefix + "dst2", metadata={"colour": "red"})
    assert client.head_object(bucket, prefix + "dst2").metadata == {"colour": "red"}
    with pytest.raises(exceptions.ObjectNotFoundError):
        client.copy_object(bucket, prefix + "nothing", bucket, prefix + "dst3")


# -- listing ---------------------------------------------------------------------------------


def test_list_objects_paginates_and_is_a_generator(client, bucket, prefix):
    keys = [f"{prefix}k{index:02d}" for index in range(11)]
    for key in keys:
        client.put_object(bucket, key, key.encode())
    listing = client.list_objects(bucket, prefix, page_size=3)
    assert isinstance(listing, Iterator)
    entries = list(listing)
    assert [entry.key for entry in entries] == keys
    assert all(entry.size == len(entry.key) and entry.etag for entry in entries)
    after = list(client.list_objects(bucket, prefix, start_after=keys[7], page_size=2))
    assert [entry.key for entry in after] == keys[8:]


def test_list_objects_with_delimiter_gives_common_prefixes(client, bucket, prefix):
    for key in ["a/1", "a/2", "b/c/3", "top1", "top2"]:
        client.put_object(bucket, prefix + key, b"x")
    entries = list(client.list_objects(bucket, prefix, delimiter="/", page_size=2))
    assert [(e.key, e.is_prefix) for e in entries] == [
        (prefix + "a/", True),
        (prefix + "b/", True),
        (prefix + "top1", False),
        (prefix + "top2", False),
    ]


def test_list_page_size_is_validated(client, bucket):
    with pytest.raises(exceptions.InvalidArgumentError):
        client.list_objects(bucket, page_size=0)


# -- multipart -------------------------------------------------------------------------------


def test_multipart_three_full_parts_and_a_short_last_part(client, bucket, prefix):
    key = prefix + "multipart.bin"
    chunks = [pattern_bytes(5 * MIB, seed=n) for n in range(3)] + [pattern_bytes(1234, seed=9)]
    upload_id = client.create_multipart_upload(bucket, key, content_type="application/x-mp")
    assert [u.upload_id for u in uploads_under(client, bucket, prefix)] == [upload_id]
    with ThreadPoolExecutor(4) as pool:  # parts may arrive in any order
        parts = list(pool.map(
            lambda item: client.upload_part(bucket, key, upload_id, item[0] + 1, item[1]),
            enumerate(chunks),
        ))
    listed = list(client.list_parts(bucket, key, upload_id))
    assert [(p.part_number, p.etag, p.size) for p in listed] == [
        (n + 1, hashlib.md5(chunk).hexdigest(), len(chunk)) for n, chunk in enumerate(chunks)
    ]
    result = client.complete_multipart_upload(bucket, key, upload_id, list(reversed(parts)))
    digests = b"".join(hashlib.md5(chunk).digest() for chunk in chunks)
    assert result.etag == f"{hashlib.md5(digests).hexdigest()}-4"
    assert client.get_object(bucket, key) == b"".join(chunks)
    assert client.head_object(bucket, key).content_type == "application/x-mp"
    assert uploads_under(client, bucket, prefix) == []


def test_part_with_wrong_md5_is_rejected(client, bucket, prefix):
    key = prefix + "corrupt.bin"
    upload_id = client.create_multipart_upload(bucket, key)
    try:
        client.upload_part(bucket, key, upload_id, 1, pattern_bytes(5 * MIB))
        with pytest.raises(exceptions.IntegrityError):
            client.upload_part(bucket, key, upload_id, 2, b"body", md5=content_md5(b"not it"))
        assert [p.part_number for p in client.list_parts(bucket, key, upload_id)] == [1]
    finally:
        client.abort_multipart_upload(bucket, key, upload_id)


def test_abort_discards_the_upload(client, bucket, prefix):
    key = prefix + "aborted.bin"
    upload_id = client.create_multipart_upload(bucket, key)
    client.upload_part(bucket, key, upload_id, 1, pattern_bytes(5 * MIB))
    client.abort_multipart_upload(bucket, key, upload_id)
    assert uploads_under(client, bucket, prefix) == []
    assert not client.object_exists(bucket, key)
    with pytest.raises(exceptions.UploadNotFoundError) as caught:
        client.complete_multipart_upload(
            bucket, key, upload_id, [client.upload_part(bucket, key, upload_id, 1, b"x")]
        )
    assert isinstance(caught.value, FileNotFoundError)


def test_upload_part_copy_builds_an_object_from_ranges(client, bucket, prefix):
    source = pattern_bytes(6 * MIB + 100, seed=4)
    client.put_object(bucket, prefix + "copy-src", source)
    key = prefix + "copy-dst"
    upload_id = client.create_multipart_upload(bucket, key)
    parts = [
        client.upload_part_copy(bucket, key, upload_id, 1, bucket, prefix + "copy-src", 0, 5 * MIB),
        client.upload_part_copy(
            bucket, key, upload_id, 2, bucket, prefix + "copy-src", 5 * MIB, len(source)
        ),
    ]
    client.complete_multipart_upload(bucket, key, upload_id, parts)
    assert client.get_object(bucket, key) == source


def test_part_numbers_are_validated(client, bucket):
    with pytest.raises(exceptions.InvalidArgumentError):
        client.upload_part(bucket, "k", "id", 0, b"x")
    with pytest.raises(exceptions.InvalidArgumentError):
        client.upload_part(bucket, "k", "id", client.capabilities.max_parts + 1, b"x")


# -- special keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SPECIAL_KEYS)
def test_special_characters_in_keys_round_trip(client, bucket, prefix, name):
    key = prefix + name
    data = name.encode() * 3
    client.put_object(bucket, key, data)
    assert [e.key for e in client.list_objects(bucket, prefix)] == [key]
    assert client.head_object(bucket, key).size == len(data)
    assert client.get_object(bucket, key) == data
    client.copy_object(bucket, key, bucket, key + ".copy")
    assert client.get_object(bucket, key + ".copy") == data
    assert requests.get(client.presigned_url(bucket, key), timeout=10).content == data
    result = client.delete_objects(bucket, [key, key + ".copy"])
    assert result.ok
    assert not client.object_exists(bucket, key)


# -- URLs ------------------------------------------------------------------------------------


def test_presigned_get_and_put_work_with_a_plain_http_client(client, bucket, prefix):
    key = prefix + "signed.bin"
    client.put_object(bucket, key, b"signed content")
    response = requests.get(client.presigned_url(bucket, key, expires_s=60), timeout=10)
    assert response.status_code == 200 and response.content == b"signed content"

    put_url = client.presigned_url(bucket, prefix + "uploaded.bin", method="PUT")
    assert requests.put(put_url, data=b"via url", timeout=10).status_code == 200
    assert client.get_object(bucket, prefix + "uploaded.bin") == b"via url"

    unsigned = requests.get(client.public_url(bucket, key), timeout=10)
    assert unsigned.status_code == 403


@pytest.mark.parametrize(("method", "expires_s"), [("DELETE", 60), ("GET", 0), ("GET", 10**9)])
def test_presigned_url_arguments_are_validated(client, bucket, method, expires_s):
    with pytest.raises(exceptions.InvalidArgumentError):
        client.presigned_url(bucket, "key", method=method, expires_s=expires_s)


def test_public_url_names_endpoint_bucket_and_quoted_key(client, bucket, store):
    url = client.public_url(bucket, "dir/with space+plus")
    assert url == f"{store.endpoint_url}/{bucket}/dir/with%20space%2Bplus"


# -- buckets and policies --------------------------------------------------------------------


def test_bucket_lifecycle(client, new_bucket_name):
    assert not client.bucket_exists(new_bucket_name)
    client.create_bucket(new_bucket_name)
    assert client.bucket_exists(new_bucket_name)
    assert new_bucket_name in [b.name for b in client.list_buckets()]
    with pytest.raises(exceptions.BucketAlreadyExistsError) as exists:
        client.create_bucket(new_bucket_name)
    assert isinstance(exists.value, FileExistsError)

    client.put_object(new_bucket_name, "keep", b"x")
    with pytest.raises(exceptions.BucketNotEmptyError):
        client.delete_bucket(new_bucket_name)
    client.delete_object(new_bucket_name, "keep")
    client.delete_bucket(new_bucket_name)
    assert not client.bucket_exists(new_bucket_name)


def test_bucket_policy_round_trip(client, new_bucket_name):
    client.create_bucket(new_bucket_name)
    try:
        assert client.get_bucket_policy(new_bucket_name) is None
        policy = {
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{new_bucket_name}/*",
            }],
        }
        client.set_bucket_policy(new_bucket_name, json.dumps(policy))
        assert client.get_bucket_policy(new_bucket_name) == policy
        client.delete_bucket_policy(new_bucket_name)
        assert client.get_bucket_policy(new_bucket_name) is None
        with pytest.raises(exceptions.InvalidArgumentError):
            client.set_bucket_policy(new_bucket_name, "{not json")
    finally:
        client.delete_bucket(new_bucket_name)


# -- errors ----------------------------------------------------------------------------------


def test_missing_key_raises_object_not_found_with_context(client, bucket, prefix):
    key = prefix + "absent"
    for call in (client.get_object, client.head_object):
        with pytest.raises(exceptions.ObjectNotFoundError) as caught:
            call(bucket, key)
        error = caught.value
        assert isinstance(error, FileNotFoundError)
        assert (error.bucket, error.key, error.status) == (bucket, key, 404)
        assert error.operation in ("get_object", "head_object")
        assert error.__cause__ is not None
        assert "NoSuchKey" in str(error) or error.operation == "head_object"


def test_missing_bucket_raises_bucket_not_found(client, new_bucket_name):
    with pytest.raises(exceptions.BucketNotFoundError) as caught:
        client.get_object(new_bucket_name, "key")
    assert caught.value.code == "NoSuchBucket" and caught.value.request_id
    with pytest.raises(exceptions.BucketNotFoundError):
        list(client.list_objects(new_bucket_name))
    with pytest.raises(exceptions.BucketNotFoundError):
        client.delete_bucket(new_bucket_name)


def test_wrong_secret_raises_authentication_error(store, bucket):
    wrong = create_client(store.config(secret_key="not-the-secret"))
    with pytest.raises(exceptions.AuthenticationError) as caught:
        wrong.list_buckets()
    assert isinstance(caught.value, PermissionError)
    assert caught.value.status == 403
    with pytest.raises(exceptions.AuthenticationError):
        wrong.get_object(bucket, "anything")
    assert "not-the-secret" not in str(caught.value)


@pytest.mark.parametrize(
    "name", ["ab", "UPPER", "under_score", "-leading", "trailing-", "a..b", "192.168.1.1", "x" * 64]
)
def test_invalid_bucket_name_fails_before_any_request(offline_client, name):
    # Nothing listens there: a request would be a ConnectionError, not a name error.
    offline = offline_client
    with pytest.raises(exceptions.InvalidBucketNameError) as caught:
        offline.get_object(name, "key")
    assert isinstance(caught.value, ValueError)
    with pytest.raises(exceptions.InvalidBucketNameError):
        offline.create_bucket(name)


@pytest.mark.parametrize("key", ["", "k" * 1025, "ü" * 513])
def test_invalid_keys_fail_before_any_request(client, bucket, key):
    with pytest.raises(exceptions.InvalidKeyError):
        client.put_object(bucket, key, b"x")


def test_unreachable_endpoint_raises_connection_error(offline_client):
    with pytest.raises(exceptions.ConnectionError) as caught:
        offline_client.list_buckets()
    assert isinstance(caught.value, ConnectionError)  # the builtin


def test_client_pickles_and_rebuilds_its_connection(client, bucket, prefix):
    client.put_object(bucket, prefix + "p", b"pickled")
    clone = pickle.loads(pickle.dumps(client))
    assert clone is not client and clone.config == client.config
    assert clone.get_object(bucket, prefix + "p") == b"pickled"
    assert "secret" not in repr(clone).lower()


def test_listing_entries_are_project_types(client, bucket, prefix):
    client.put_object(bucket, prefix + "typed", b"x")
    (entry,) = client.list_objects(bucket, prefix)
    assert type(entry) is ObjectInfo
