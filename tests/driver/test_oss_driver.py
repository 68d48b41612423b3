"""What only the Aliyun OSS backend has: CRC64 checks, V1 and V4 signing, OSS policy grammar.

Runs through the OSS-protocol gateway in front of the session's SeaweedFS; the shared
conformance suite already covers everything the backends have in common.
"""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from fsspec_unified import OSSConfig, create_client, exceptions
from fsspec_unified.driver.oss_policy import from_oss, to_oss
from tests.helpers import pattern_bytes


@pytest.fixture(scope="module")
def oss_bucket(oss_gateway, s3_server):
    client = create_client(_config(oss_gateway, s3_server, "v4"))
    name = f"oss-only-{uuid.uuid4().hex[:8]}"
    client.create_bucket(name)
    return name


def _config(gateway, server, signature_version, **overrides) -> OSSConfig:
    values = {
        "provider": "oss", "endpoint": gateway.endpoint_url, "access_key": server.access_key,
        "secret_key": server.secret_key, "region": gateway.region,
        "signature_version": signature_version, **overrides,
    }
    return OSSConfig(**values)


@pytest.fixture(params=["v1", "v4"])
def oss_client(request, oss_gateway, s3_server):
    with create_client(_config(oss_gateway, s3_server, request.param)) as client:
        yield client


@pytest.fixture
def crc_mode(oss_gateway):
    """Set the gateway's CRC behaviour for one test and restore it afterwards."""
    def set_mode(mode: str) -> None:
        oss_gateway.crc_mode = mode

    yield set_mode
    oss_gateway.crc_mode = "correct"


def test_both_signature_versions_work_for_requests_and_presigned_urls(oss_client, oss_bucket):
    data = pattern_bytes(10_000, seed=31)
    key = f"sig/{oss_client.config.signature_version}/a b+c%d/日本"
    oss_client.put_object(oss_bucket, key, data)
    assert oss_client.get_object(oss_bucket, key) == data
    url = oss_client.presigned_url(oss_bucket, key, expires_s=60)
    assert requests.get(url, timeout=10).content == data
    put_url = oss_client.presigned_url(oss_bucket, key + ".put", method="PUT", expires_s=60)
    assert requests.put(put_url, data=b"via url", timeout=10).status_code == 200
    assert oss_client.get_object(oss_bucket, key + ".put") == b"via url"


def test_presigned_url_stops_working_after_expiry(oss_client, oss_bucket):
    oss_client.put_object(oss_bucket, "expiring", b"soon gone")
    url = oss_client.presigned_url(oss_bucket, "expiring", expires_s=1)
    time.sleep(2.2)
    assert requests.get(url, timeout=10).status_code == 403


def test_corrupted_crc_of_a_download_is_an_integrity_error(oss_client, oss_bucket, crc_mode):
    data = pattern_bytes(300_000, seed=32)
    oss_client.put_object(oss_bucket, "crc/object", data)
    crc_mode("corrupt")
    with pytest.raises(exceptions.IntegrityError):
        oss_client.get_object(oss_bucket, "crc/object")
    assert oss_client.get_object(oss_bucket, "crc/object", 10, 20) == data[10:20]  # no CRC
    crc_mode("omit")
    assert oss_client.get_object(oss_bucket, "crc/object") == data


def test_corrupted_crc_of_an_upload_is_an_integrity_error(oss_client, oss_bucket, crc_mode):
    crc_mode("corrupt")
    with pytest.raises(exceptions.IntegrityError):
        oss_client.put_object(oss_bucket, "crc/upload", b"payload")
    upload_id = oss_client.create_multipart_upload(oss_bucket, "crc/parts")
    try:
        with pytest.raises(exceptions.IntegrityError):
            oss_client.upload_part(oss_bucket, "crc/parts", upload_id, 1, b"part body")
    finally:
        oss_client.abort_multipart_upload(oss_bucket, "crc/parts", upload_id)


def test_wrong_secret_is_an_authentication_error_for_both_signatures(
    oss_gateway, s3_server, oss_bucket
):
    for version in ("v1", "v4"):
        wrong = create_client(_config(oss_gateway, s3_server, version, secret_key="wrong"))
        with pytest.raises(exceptions.AuthenticationError) as caught:
            wrong.get_object(oss_bucket, "anything")
        assert isinstance(caught.value, PermissionError) and caught.value.status == 403


def test_policies_are_translated_to_oss_grammar_and_back():
    s3_policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::bkt/*", "arn:aws:s3:::bkt"],
        }],
    }
    oss_policy = to_oss(s3_policy)
    assert oss_policy["Version"] == "1"
    statement = oss_policy["Statement"][0]
    assert statement["Action"] == ["oss:GetObject", "oss:ListBucket"]
    assert statement["Resource"] == ["acs:oss:*:*:bkt/*", "acs:oss:*:*:bkt"]
    assert from_oss(oss_policy) == s3_policy
