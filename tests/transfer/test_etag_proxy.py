"""The test proxy itself: ETags seen by clients are not MD5s, conditions still work, and a
body corrupted in flight is rejected by the server (so it can prove integrity checks)."""

from __future__ import annotations

import hashlib

import pytest

from fsspec_unified import create_client
from fsspec_unified.driver.exceptions import OSSError


def test_clients_see_etags_that_are_not_md5s_and_nothing_else_changes(
        proxied_store, bucket, prefix, etag_proxy):
    data = b"not an md5 etag " * 1000
    with create_client(proxied_store.config(max_retries=0)) as client:
        written = client.put_object(bucket, prefix + "a", data)
        info = client.head_object(bucket, prefix + "a")
        listed = [entry for entry in client.list_objects(bucket, prefix)]
        assert client.get_object(bucket, prefix + "a") == data
    md5 = hashlib.md5(data).hexdigest()
    assert written.etag.strip('"').lower() != md5
    assert info.etag.strip('"').lower() != md5
    assert len(info.etag.strip('"')) == 32
    assert [entry.etag for entry in listed] == [info.etag]
    assert etag_proxy.requests["DELETE"] == 0


def test_a_body_corrupted_in_flight_is_rejected_by_the_server(
        proxied_store, bucket, prefix, etag_proxy):
    data = bytes(range(256)) * 512
    etag_proxy.corrupt_next_bodies(1, min_size_bytes=len(data))
    with create_client(proxied_store.config(max_retries=0)) as client:
        with pytest.raises(OSSError):
            client.put_object(bucket, prefix + "a", data)
        assert etag_proxy.corrupted_bodies == 1
        client.put_object(bucket, prefix + "a", data)
        assert client.get_object(bucket, prefix + "a") == data
