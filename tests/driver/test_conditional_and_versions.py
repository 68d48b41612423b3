"""Conditional requests and object versions, for every provider, against the real server.

Reads and part copies pinned with ``if_match`` must refuse bytes of a replaced object; a
create-only multipart completion must not replace an object; versions are listed, read and
deleted by id. The oss provider reaches SeaweedFS through the OSS gateway, so these also pin
the gateway's dialect.
"""

from __future__ import annotations

import io
import uuid

import pytest

from fsspec_unified import BaseOSSClient, ConcurrentModificationError, create_client, exceptions
from fsspec_unified.driver.types import ObjectInfo

# -- reads pinned to an ETag -----------------------------------------------------------------


def test_read_pinned_to_the_current_etag_returns_the_bytes(client, bucket, prefix):
    key = prefix + "pinned"
    data = bytes(range(256)) * 40
    etag = client.put_object(bucket, key, data).etag
    assert client.get_object(bucket, key, if_match=etag) == data
    assert client.get_object(bucket, key, 100, 200, if_match=etag) == data[100:200]
    assert client.get_object(bucket, key, 100, if_match=f'"{etag}"') == data[100:]
    with client.get_object_stream(bucket, key, 10, 20, if_match=etag) as stream:
        assert stream.read() == data[10:20]


def test_read_pinned_to_a_replaced_object_raises_concurrent_modification(
    client, bucket, prefix
):
    key = prefix + "replaced"
    old_etag = client.put_object(bucket, key, b"version one").etag
    client.put_object(bucket, key, b"version two, longer")
    for start, end in ((None, None), (0, 5), (3, None)):
        with pytest.raises(ConcurrentModificationError) as info:
            client.get_object(bucket, key, start, end, if_match=old_etag)
        error = info.value
        assert isinstance(error, exceptions.PreconditionFailedError)
        assert isinstance(error, OSError)
        assert (error.bucket, error.key, error.status) == (bucket, key, 412)
        assert old_etag in str(error) and key in str(error)
    with pytest.raises(ConcurrentModificationError):
        client.get_object_stream(bucket, key, if_match=old_etag)


@pytest.mark.parametrize("value", ["", "   ", 5])
def test_if_match_and_version_id_are_validated(client, bucket, value):
    with pytest.raises(exceptions.InvalidArgumentError):
        client.get_object(bucket, "k", if_match=value)
    with pytest.raises(exceptions.InvalidArgumentError):
        client.get_object(bucket, "k", version_id=value)
    with pytest.raises(exceptions.InvalidArgumentError):
        client.head_object(bucket, "k", version_id=value)
    with pytest.raises(exceptions.InvalidArgumentError):
        client.upload_part_copy(bucket, "k", "upload", 1, bucket, "src", 0, 1, if_match=value)


# -- part copies pinned to the source's ETag -------------------------------------------------


def test_part_copy_pinned_to_the_current_etag_copies_the_range(client, bucket, prefix):
    source, target = prefix + "copy-src", prefix + "copy-dst"
    data = bytes(range(256)) * 64
    etag = client.put_object(bucket, source, data).etag
    upload_id = client.create_multipart_upload(bucket, target)
    try:
        for quoted in (etag, f'"{etag}"'):
            part = client.upload_part_copy(
                bucket, target, upload_id, 1, bucket, source, 100, 4196, if_match=quoted
            )
            assert (part.part_number, part.size) == (1, 4096) and part.etag
        # One part is also the last, which may be smaller than 5 MiB.
        client.complete_multipart_upload(bucket, target, upload_id, [part])
    except BaseException:
        client.abort_multipart_upload(bucket, target, upload_id)
        raise
    assert client.get_object(bucket, target) == data[100:4196]


def test_part_copy_pinned_to_a_replaced_source_raises_concurrent_modification(
    client, bucket, prefix
):
    source, target = prefix + "copy-src", prefix + "copy-dst"
    old_etag = client.put_object(bucket, source, b"version one " * 100).etag
    client.put_object(bucket, source, b"version two " * 100)
    upload_id = client.create_multipart_upload(bucket, target)
    try:
        # The server refuses only a condition it received: the refusal proves the header went.
        with pytest.raises(ConcurrentModificationError) as info:
            client.upload_part_copy(
                bucket, target, upload_id, 1, bucket, source, 0, 600, if_match=old_etag
            )
        error = info.value
        assert isinstance(error, exceptions.PreconditionFailedError)
        assert isinstance(error, OSError)
        assert (error.bucket, error.key, error.status) == (bucket, source, 412)
        assert error.operation == "upload_part_copy"
        assert old_etag in str(error) and source in str(error)
        assert list(client.list_parts(bucket, target, upload_id)) == []
    finally:
        client.abort_multipart_upload(bucket, target, upload_id)


# -- create-only multipart completion --------------------------------------------------------


def _one_part_upload(client: BaseOSSClient, bucket: str, key: str, data: bytes):
    upload_id = client.create_multipart_upload(bucket, key)
    return upload_id, [client.upload_part(bucket, key, upload_id, 1, data)]


def test_create_only_completion_refuses_an_existing_key(client, bucket, prefix):
    key = prefix + "taken"
    client.put_object(bucket, key, b"already here")
    upload_id, parts = _one_part_upload(client, bucket, key, b"newcomer")
    with pytest.raises(exceptions.ObjectExistsError) as info:
        client.complete_multipart_upload(bucket, key, upload_id, parts, overwrite=False)
    assert isinstance(info.value, FileExistsError)
    assert (info.value.bucket, info.value.key) == (bucket, key)
    assert client.get_object(bucket, key) == b"already here"
    # The refused upload stays open; completing it without the condition replaces the key.
    client.complete_multipart_upload(bucket, key, upload_id, parts)
    assert client.get_object(bucket, key) == b"newcomer"


def test_create_only_completion_creates_a_new_key(client, bucket, prefix):
    key = prefix + "fresh"
    upload_id, parts = _one_part_upload(client, bucket, key, b"first writer")
    result = client.complete_multipart_upload(bucket, key, upload_id, parts, overwrite=False)
    assert result.etag
    assert client.get_object(bucket, key) == b"first writer"


# -- versions --------------------------------------------------------------------------------


def test_every_driver_declares_versioning_support(client):
    assert client.capabilities.supports_versioning is True


def test_bucket_versioning_round_trip(client, new_bucket_name):
    client.create_bucket(new_bucket_name)
    assert client.get_bucket_versioning(new_bucket_name) is False
    client.set_bucket_versioning(new_bucket_name, True)
    assert client.get_bucket_versioning(new_bucket_name) is True
    client.set_bucket_versioning(new_bucket_name, False)
    assert client.get_bucket_versioning(new_bucket_name) is False
    with pytest.raises(exceptions.InvalidArgumentError):
        client.set_bucket_versioning(new_bucket_name, "yes")


def test_old_versions_are_read_by_version_id(client, versioned_bucket, prefix):
    key = prefix + "doc.txt"
    first = client.put_object(versioned_bucket, key, b"first version")
    second = client.put_object(versioned_bucket, key, b"second version!")
    assert first.version_id and second.version_id and first.version_id != second.version_id
    assert client.get_object(versioned_bucket, key) == b"second version!"
    assert client.get_object(versioned_bucket, key, version_id=first.version_id) == (
        b"first version"
    )
    assert client.get_object(versioned_bucket, key, 6, 13, version_id=first.version_id) == (
        b"version"
    )
    old = client.head_object(versioned_bucket, key, version_id=first.version_id)
    assert (old.size, old.version_id, old.etag) == (13, first.version_id, first.etag)
    assert client.head_object(versioned_bucket, key).version_id == second.version_id
    # A version id and the ETag of that version pin the same bytes.
    assert client.get_object(
        versioned_bucket, key, version_id=first.version_id, if_match=first.etag
    ) == b"first version"


def test_missing_version_raises_not_found(client, versioned_bucket, prefix):
    key = prefix + "one"
    client.put_object(versioned_bucket, key, b"x")
    missing = "0" * 32
    with pytest.raises(exceptions.ObjectNotFoundError):
        client.get_object(versioned_bucket, key, version_id=missing)


def test_list_object_versions_lists_versions_and_delete_markers(
    client, versioned_bucket, prefix
):
    key, other = prefix + "a/file", prefix + "b+c d"
    v1 = client.put_object(versioned_bucket, key, b"1")
    v2 = client.put_object(versioned_bucket, key, b"22")
    v3 = client.put_object(versioned_bucket, other, b"333")
    client.delete_object(versioned_bucket, key)  # adds a delete marker on top
    entries = list(client.list_object_versions(versioned_bucket, prefix))
    assert all(isinstance(entry, ObjectInfo) for entry in entries)
    assert [entry.key for entry in entries] == [key, key, key, other]
    marker, newer, older, single = entries
    assert marker.is_delete_marker and marker.is_latest and marker.etag is None
    assert marker.version_id not in (v1.version_id, v2.version_id)
    assert (newer.version_id, newer.size, newer.etag, newer.is_latest) == (
        v2.version_id, 2, v2.etag, False)
    assert (older.version_id, older.size, older.is_latest) == (v1.version_id, 1, False)
    assert not newer.is_delete_marker and not older.is_delete_marker
    assert (single.version_id, single.size, single.is_latest) == (v3.version_id, 3, True)
    assert all(entry.last_modified is not None for entry in entries)
    # The bytes of a version still exist under a delete marker.
    assert client.get_object(versioned_bucket, key, version_id=v2.version_id) == b"22"


def test_deleting_a_version_by_id_removes_only_that_version(client, versioned_bucket, prefix):
    key = prefix + "k"
    v1 = client.put_object(versioned_bucket, key, b"one")
    v2 = client.put_object(versioned_bucket, key, b"two")
    client.delete_object(versioned_bucket, key, version_id=v2.version_id)
    versions = [entry.version_id for entry in client.list_object_versions(versioned_bucket, key)]
    assert versions == [v1.version_id]
    assert client.get_object(versioned_bucket, key) == b"one"


def test_unversioned_bucket_lists_each_object_once(client, bucket, prefix):
    client.put_object(bucket, prefix + "x", b"x")
    client.put_object(bucket, prefix + "x", b"xy")
    entries = list(client.list_object_versions(bucket, prefix))
    assert [(entry.key, entry.size, entry.is_delete_marker) for entry in entries] == [
        (prefix + "x", 2, False)
    ]


# -- the limited identity (write but not inspect) --------------------------------------------


def test_limited_identity_writes_objects_but_cannot_inspect_the_bucket(
    client, limited_store, provider, prefix
):
    name = f"limited-{provider}-{uuid.uuid4().hex[:8]}"
    client.create_bucket(name)
    with create_client(limited_store.config(max_retries=0)) as limited:
        key = prefix + "obj"
        limited.put_object(name, key, b"payload")
        assert limited.get_object(name, key) == b"payload"
        assert limited.head_object(name, key).size == 7
        assert [entry.key for entry in limited.list_objects(name, prefix)] == [key]
        limited.copy_object(name, key, name, key + ".copy")
        assert limited.delete_objects(name, [key + ".copy"]).ok
        limited.delete_object(name, key)
        assert not limited.object_exists(name, key)
        with pytest.raises(exceptions.AuthenticationError):
            limited.bucket_exists(name)
        with pytest.raises(exceptions.AuthenticationError):
            limited.get_object("conformance-" + provider, "anything")


def test_the_file_helpers_report_the_version_they_created(client, versioned_bucket, prefix,
                                                          tmp_path):
    path = tmp_path / "v.bin"
    path.write_bytes(b"through put_file")
    written = client.put_file(versioned_bucket, prefix + "helper", path)
    streamed = client.put_stream(versioned_bucket, prefix + "helper", io.BytesIO(b"streamed"))
    assert written.version_id and streamed.version_id and written.version_id != (
        streamed.version_id)
    assert client.get_object(versioned_bucket, prefix + "helper",
                             version_id=written.version_id) == b"through put_file"
