"""oss2 itself, run against the OSS gateway: every API the project relies on, both signatures.

These tests pin the gateway's OSS dialect to what the real SDK parses and raises, so the
project's oss driver can be tested against the gateway with confidence.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from collections.abc import Iterator

import oss2
import pytest
import requests
from oss2.exceptions import (
    BucketNotEmpty,
    InconsistentError,
    InvalidDigest,
    NoSuchBucket,
    NoSuchBucketPolicy,
    NoSuchKey,
    NoSuchUpload,
    PreconditionFailed,
    ServerError,
    SignatureDoesNotMatch,
)

from fsspec_unified.testing.oss_gateway import OSSGateway

MiB = 1024 * 1024
SPECIAL_KEYS = [
    "plain.txt",
    "sp ace/with space.txt",
    "plus+sign+key",
    "per%cent%2Fnot-a-slash",
    "deep/dir/tree/file.bin",
    "\u4e2d\u6587/\u6587\u4ef6 \u540d.txt",
]
POLICY = ('{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject"],'
          '"Principal":["*"],"Resource":["acs:oss:*:*:gw-bucket/*"]}]}')


def _auth(gateway: OSSGateway, version: str, secret: str | None = None):
    secret = secret or gateway._verifier.secret_key
    if version == "v4":
        return oss2.AuthV4(gateway.access_key, secret)
    return oss2.Auth(gateway.access_key, secret)


def _bucket(gateway: OSSGateway, name: str, version: str = "v1", **kwargs) -> oss2.Bucket:
    region = gateway.region if version == "v4" else None
    return oss2.Bucket(_auth(gateway, version, kwargs.pop("secret", None)),
                       gateway.endpoint_url, name, region=region, **kwargs)


def _empty_and_delete(bucket: oss2.Bucket) -> None:
    for upload in oss2.MultipartUploadIterator(bucket):
        bucket.abort_multipart_upload(upload.key, upload.upload_id)
    keys = [obj.key for obj in oss2.ObjectIteratorV2(bucket)]
    for start in range(0, len(keys), 1000):
        bucket.batch_delete_objects(keys[start:start + 1000])
    bucket.delete_bucket()


@pytest.fixture(scope="module")
def bucket_name(oss_gateway: OSSGateway) -> Iterator[str]:
    name = f"gw-{uuid.uuid4().hex[:8]}"
    bucket = _bucket(oss_gateway, name)
    bucket.create_bucket()
    yield name
    _empty_and_delete(bucket)


@pytest.fixture(params=["v1", "v4"])
def signing(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def bucket(oss_gateway: OSSGateway, bucket_name: str, signing: str) -> oss2.Bucket:
    return _bucket(oss_gateway, bucket_name, signing)


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:10]}/"


@pytest.fixture
def crc_mode(oss_gateway: OSSGateway) -> Iterator[None]:
    yield
    oss_gateway.crc_mode = "correct"


# -- objects -----------------------------------------------------------------------------
def test_objects_with_special_keys_round_trip(bucket: oss2.Bucket, prefix: str) -> None:
    for index, name in enumerate(SPECIAL_KEYS):
        key = prefix + name
        data = f"payload {index} {name}".encode()
        put = bucket.put_object(key, data, headers={"x-oss-meta-colour": "blue",
                                                    "Content-Type": "text/plain"})
        assert put.etag == hashlib.md5(data).hexdigest().upper()
        assert put.crc is not None and put.request_id
        assert bucket.get_object(key).read() == data
        head = bucket.head_object(key)
        assert head.content_length == len(data)
        assert head.etag == put.etag
        assert head.object_type == "Normal"
        assert head.headers["x-oss-meta-colour"] == "blue"
        assert head.content_type == "text/plain"
        meta = bucket.get_object_meta(key)
        assert meta.content_length == len(data)
        assert meta.etag == put.etag
        assert bucket.object_exists(key)
    for name in SPECIAL_KEYS:
        result = bucket.delete_object(prefix + name)
        assert result.status == 204
        assert not bucket.object_exists(prefix + name)


def test_missing_key_raises_no_such_key(bucket: oss2.Bucket, prefix: str) -> None:
    key = prefix + "missing \u4e2d"
    with pytest.raises(NoSuchKey):
        bucket.get_object(key)
    with pytest.raises(NoSuchKey):
        bucket.head_object(key)
    with pytest.raises(NoSuchKey):
        bucket.get_object_meta(key)
    assert bucket.object_exists(key) is False
    assert bucket.delete_object(key).status == 204


def test_missing_bucket_raises_no_such_bucket(oss_gateway: OSSGateway, signing: str) -> None:
    missing = _bucket(oss_gateway, f"gw-missing-{uuid.uuid4().hex[:8]}", signing)
    with pytest.raises(NoSuchBucket):
        missing.get_object("k")
    with pytest.raises(NoSuchBucket):
        missing.head_object("k")
    with pytest.raises(NoSuchBucket):
        missing.get_bucket_info()
    with pytest.raises(NoSuchBucket):
        missing.list_objects()
    with pytest.raises(NoSuchBucket):
        missing.put_object("k", b"x")


def test_wrong_secret_and_unsigned_requests_are_refused(
    oss_gateway: OSSGateway, bucket_name: str, signing: str
) -> None:
    impostor = _bucket(oss_gateway, bucket_name, signing, secret="not-the-secret")
    with pytest.raises(SignatureDoesNotMatch):
        impostor.get_object("anything")
    with pytest.raises(SignatureDoesNotMatch):
        impostor.put_object("anything", b"x")
    with pytest.raises(ServerError) as info:
        impostor.head_object("anything")
    assert info.value.status == 403
    anonymous = requests.get(f"{oss_gateway.endpoint_url}/{bucket_name}/anything", timeout=10)
    assert anonymous.status_code == 403
    assert b"<Code>AccessDenied</Code>" in anonymous.content
    assert anonymous.headers["x-oss-request-id"]


def test_put_with_wrong_content_md5_raises_invalid_digest(
    bucket: oss2.Bucket, prefix: str
) -> None:
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(InvalidDigest):
        bucket.put_object(prefix + "k", b"data", headers={"Content-MD5": wrong_md5})


def test_forbid_overwrite_raises_file_already_exists(bucket: oss2.Bucket, prefix: str) -> None:
    key = prefix + "once"
    headers = {"x-oss-forbid-overwrite": "true"}
    bucket.put_object(key, b"first", headers=headers)
    with pytest.raises(ServerError) as info:
        bucket.put_object(key, b"second", headers=headers)
    assert (info.value.status, info.value.code) == (409, "FileAlreadyExists")
    assert bucket.get_object(key).read() == b"first"
    with pytest.raises(ServerError) as info:
        bucket.copy_object(bucket.bucket_name, key, key, headers=headers)
    assert info.value.code == "FileAlreadyExists"


def test_chunked_upload_is_stored_whole(bucket: oss2.Bucket, prefix: str) -> None:
    pieces = [os.urandom(100_000) for _ in range(7)]
    bucket.put_object(prefix + "chunked", iter(pieces))
    assert bucket.get_object(prefix + "chunked").read() == b"".join(pieces)


def test_copy_object_and_replace_metadata(bucket: oss2.Bucket, prefix: str) -> None:
    source, target = prefix + "src +%/\u4e2d", prefix + "dst \u6587+%"
    data = os.urandom(4096)
    bucket.put_object(source, data, headers={"x-oss-meta-a": "1"})
    copied = bucket.copy_object(bucket.bucket_name, source, target)
    assert copied.etag == hashlib.md5(data).hexdigest().upper()
    assert bucket.get_object(target).read() == data
    assert bucket.head_object(target).headers["x-oss-meta-a"] == "1"
    bucket.update_object_meta(target, {"x-oss-meta-b": "2"})
    headers = bucket.head_object(target).headers
    assert headers["x-oss-meta-b"] == "2"
    assert "x-oss-meta-a" not in headers
    assert bucket.get_object(target).read() == data


def test_batch_delete_reports_exact_keys(bucket: oss2.Bucket, prefix: str) -> None:
    keys = [prefix + name for name in SPECIAL_KEYS]
    for key in keys:
        bucket.put_object(key, b"x")
    result = bucket.batch_delete_objects(keys)
    assert sorted(result.deleted_keys) == sorted(keys)
    assert [o.key for o in oss2.ObjectIteratorV2(bucket, prefix=prefix)] == []


# -- listings ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def listing(oss_gateway: OSSGateway, bucket_name: str) -> tuple[str, list[str]]:
    prefix = f"list-{uuid.uuid4().hex[:8]}/"
    bucket = _bucket(oss_gateway, bucket_name)
    keys = sorted(prefix + name for name in [*SPECIAL_KEYS, "sp ace/second", "z-last"])
    for key in keys:
        bucket.put_object(key, b"k")
    return prefix, keys


def test_list_v1_one_key_per_page(bucket: oss2.Bucket, listing) -> None:
    prefix, keys = listing
    found = [o.key for o in oss2.ObjectIterator(bucket, prefix=prefix, max_keys=1)]
    assert found == keys
    page = bucket.list_objects(prefix=prefix, max_keys=2)
    assert page.is_truncated and page.next_marker == keys[1]
    item = page.object_list[0]
    assert (item.key, item.size, item.type, item.storage_class) == (keys[0], 1, "Normal",
                                                                   "Standard")


def test_list_v1_with_delimiter(bucket: oss2.Bucket, listing) -> None:
    prefix, _keys = listing
    entries = list(oss2.ObjectIterator(bucket, prefix=prefix, delimiter="/", max_keys=1))
    dirs = [e.key for e in entries if e.is_prefix()]
    files = [e.key for e in entries if not e.is_prefix()]
    assert dirs == [prefix + d for d in ("deep/", "sp ace/", "\u4e2d\u6587/")]
    assert files == [prefix + n for n in ("per%cent%2Fnot-a-slash", "plain.txt",
                                          "plus+sign+key", "z-last")]


def test_list_v2_one_key_per_page(bucket: oss2.Bucket, listing) -> None:
    prefix, keys = listing
    found = [o.key for o in oss2.ObjectIteratorV2(bucket, prefix=prefix, max_keys=1)]
    assert found == keys
    entries = list(oss2.ObjectIteratorV2(bucket, prefix=prefix, delimiter="/", max_keys=1))
    assert [e.key for e in entries if e.is_prefix()] == [
        prefix + d for d in ("deep/", "sp ace/", "\u4e2d\u6587/")]
    after = bucket.list_objects_v2(prefix=prefix, start_after=keys[-2])
    assert [o.key for o in after.object_list] == keys[-1:]
    owned = bucket.list_objects_v2(prefix=prefix, max_keys=1, fetch_owner=True)
    assert owned.is_truncated and owned.next_continuation_token
    assert "%" not in owned.next_continuation_token and "+" not in owned.next_continuation_token


# -- presigned URLs ----------------------------------------------------------------------
def test_presigned_urls_work_and_expire(bucket: oss2.Bucket, prefix: str, signing: str) -> None:
    key = prefix + "signed \u4e2d+%.bin"
    data = os.urandom(1000)
    put_url = bucket.sign_url("PUT", key, 60)
    assert requests.put(put_url, data=data, timeout=10).status_code == 200
    get_url = bucket.sign_url("GET", key, 60)
    response = requests.get(get_url, timeout=10)
    assert response.status_code == 200 and response.content == data
    slash_url = bucket.sign_url("GET", key, 60, slash_safe=True)
    assert requests.get(slash_url, timeout=10).content == data
    short_url = bucket.sign_url("GET", key, 1)
    tampered = get_url.replace("signed", "signet")
    assert tampered != get_url
    assert requests.get(tampered, timeout=10).status_code == 403
    if signing == "v4":  # a header named in x-oss-additional-headers is signed too
        with_header = bucket.sign_url("GET", key, 60, headers={"X-Custom": "yes"},
                                      additional_headers=["x-custom"])
        assert "x-oss-additional-headers=x-custom" in with_header
        assert requests.get(with_header, headers={"X-Custom": "yes"}, timeout=10).content == data
        assert requests.get(with_header, headers={"X-Custom": "no"},
                            timeout=10).status_code == 403
    time.sleep(2.2)
    expired = requests.get(short_url, timeout=10)
    assert expired.status_code == 403
    assert b"<Code>AccessDenied</Code>" in expired.content


# -- ranges ------------------------------------------------------------------------------
def test_range_reads_both_behaviours(bucket: oss2.Bucket, prefix: str) -> None:
    key = prefix + "ranged"
    data = bytes(range(256)) * 4
    bucket.put_object(key, data)
    part = bucket.get_object(key, byte_range=(10, 19))
    assert (part.status, part.read()) == (206, data[10:20])
    assert bucket.get_object(key, byte_range=(1000, None)).read() == data[1000:]
    assert bucket.get_object(key, byte_range=(None, 24)).read() == data[-24:]
    # OSS default: a range past the end is ignored -> 200 with the whole object.
    past = bucket.get_object(key, byte_range=(1000, 5000))
    assert (past.status, past.read()) == (200, data)
    beyond = bucket.get_object(key, byte_range=(5000, 6000))
    assert (beyond.status, beyond.read()) == (200, data)
    standard = {"x-oss-range-behavior": "standard"}
    cut = bucket.get_object(key, byte_range=(1000, 5000), headers=standard)
    assert (cut.status, cut.read()) == (206, data[1000:])
    with pytest.raises(ServerError) as info:
        bucket.get_object(key, byte_range=(5000, 6000), headers=standard)
    assert (info.value.status, info.value.code) == (416, "InvalidRange")


# -- CRC-64 ------------------------------------------------------------------------------
def test_crc64_modes(oss_gateway: OSSGateway, bucket: oss2.Bucket, prefix: str, tmp_path,
                     crc_mode) -> None:
    data = os.urandom(300_000)
    key = prefix + "crc"
    target = tmp_path / "crc.bin"
    crc = oss2.utils.Crc64()
    crc.update(data)
    oss_gateway.crc_mode = "correct"
    put = bucket.put_object(key, data)
    assert put.crc == crc.crc
    bucket.get_object_to_file(key, str(target))
    assert target.read_bytes() == data
    assert bucket.get_object(key).server_crc == crc.crc
    oss_gateway.crc_mode = "omit"
    assert bucket.put_object(key, data).crc is None
    bucket.get_object_to_file(key, str(target))
    assert target.read_bytes() == data
    oss_gateway.crc_mode = "corrupt"
    with pytest.raises(InconsistentError):
        bucket.put_object(key, data)
    with pytest.raises(InconsistentError):
        bucket.get_object_to_file(key, str(target))


# -- multipart ---------------------------------------------------------------------------
def test_multipart_upload_list_and_complete(bucket: oss2.Bucket, prefix: str) -> None:
    key = prefix + "multi part \u4e2d+%.bin"
    parts_data = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1234)]
    upload_id = bucket.init_multipart_upload(key).upload_id
    parts = []
    for number, chunk in enumerate(parts_data, start=1):
        result = bucket.upload_part(key, upload_id, number, chunk)
        assert result.etag == hashlib.md5(chunk).hexdigest().upper()
        parts.append(oss2.models.PartInfo(number, result.etag))
    listed = bucket.list_parts(key, upload_id)
    assert [(p.part_number, p.size) for p in listed.parts] == [
        (1, 5 * MiB), (2, 5 * MiB), (3, 1234)]
    assert listed.is_truncated is False and listed.next_marker == "3"
    uploads = bucket.list_multipart_uploads(prefix=prefix)
    assert [(u.key, u.upload_id) for u in uploads.upload_list] == [(key, upload_id)]
    assert uploads.is_truncated is False
    assert [p.part_number for p in oss2.PartIterator(bucket, key, upload_id, max_parts=1)] == [
        1, 2, 3]
    second_id = bucket.init_multipart_upload(key).upload_id
    paged = list(oss2.MultipartUploadIterator(bucket, prefix=prefix, max_uploads=1))
    assert sorted(u.upload_id for u in paged) == sorted([upload_id, second_id])
    bucket.abort_multipart_upload(key, second_id)
    completed = bucket.complete_multipart_upload(key, upload_id, parts)
    assert completed.etag and completed.etag.endswith("-3")
    assert bucket.get_object(key).read() == b"".join(parts_data)
    head = bucket.head_object(key)
    assert head.object_type == "Multipart" and head.etag == completed.etag


def test_upload_part_copy_and_abort(bucket: oss2.Bucket, prefix: str) -> None:
    source, target = prefix + "copy source", prefix + "copy target/\u6587"
    data = os.urandom(5 * MiB + 777)
    bucket.put_object(source, data)
    upload_id = bucket.init_multipart_upload(target).upload_id
    first = bucket.upload_part_copy(bucket.bucket_name, source, (0, 5 * MiB - 1), target,
                                    upload_id, 1)
    second = bucket.upload_part_copy(bucket.bucket_name, source, (5 * MiB, len(data) - 1),
                                     target, upload_id, 2)
    bucket.complete_multipart_upload(target, upload_id, [
        oss2.models.PartInfo(1, first.etag), oss2.models.PartInfo(2, second.etag)])
    assert bucket.get_object(target).read() == data
    doomed = bucket.init_multipart_upload(prefix + "aborted").upload_id
    bucket.upload_part(prefix + "aborted", doomed, 1, b"short")
    assert bucket.abort_multipart_upload(prefix + "aborted", doomed).status == 204
    with pytest.raises(NoSuchUpload):
        bucket.list_parts(prefix + "aborted", doomed)
    assert bucket.list_multipart_uploads(prefix=prefix).upload_list == []


def test_upload_part_copy_pinned_to_the_source_etag(bucket: oss2.Bucket, prefix: str) -> None:
    """``x-oss-copy-source-if-match`` (OSS's upper-case ETag) reaches SeaweedFS as the S3
    condition on the lower-case one; a replaced source is OSS's 412 PreconditionFailed."""
    source, target = prefix + "pinned source", prefix + "pinned target"
    old = bucket.put_object(source, b"version one").etag
    current = bucket.put_object(source, b"version two").etag
    assert old.isupper() and current.isupper()
    upload_id = bucket.init_multipart_upload(target).upload_id
    try:
        part = bucket.upload_part_copy(bucket.bucket_name, source, (0, 6), target, upload_id,
                                       1, headers={"x-oss-copy-source-if-match": f'"{current}"'})
        assert part.etag
        with pytest.raises(PreconditionFailed) as info:
            bucket.upload_part_copy(bucket.bucket_name, source, (0, 6), target, upload_id, 2,
                                    headers={"x-oss-copy-source-if-match": f'"{old}"'})
        assert (info.value.status, info.value.code) == (412, "PreconditionFailed")
        assert [p.part_number for p in bucket.list_parts(target, upload_id).parts] == [1]
    finally:
        bucket.abort_multipart_upload(target, upload_id)


# -- buckets -----------------------------------------------------------------------------
def test_bucket_lifecycle_info_location_policy(oss_gateway: OSSGateway, signing: str) -> None:
    name = f"gw-{uuid.uuid4().hex[:8]}"
    bucket = _bucket(oss_gateway, name, signing)
    bucket.create_bucket()
    try:
        bucket.create_bucket()  # re-creating your own bucket is fine on OSS
        service = oss2.Service(_auth(oss_gateway, signing), oss_gateway.endpoint_url,
                               region=oss_gateway.region if signing == "v4" else None)
        listed = {b.name: b for b in oss2.BucketIterator(service)}
        assert listed[name].location == f"oss-{oss_gateway.region}"
        assert listed[name].storage_class == "Standard"
        assert [b.name for b in service.list_buckets(prefix=name).buckets] == [name]
        info = bucket.get_bucket_info()
        assert (info.name, info.location, info.storage_class) == (name, f"oss-{oss_gateway.region}",
                                                                  "Standard")
        assert bucket.get_bucket_location().location == f"oss-{oss_gateway.region}"
        with pytest.raises(NoSuchBucketPolicy):
            bucket.get_bucket_policy()
        bucket.put_bucket_policy(POLICY)
        assert bucket.get_bucket_policy().policy == POLICY
        bucket.delete_bucket_policy()
        with pytest.raises(NoSuchBucketPolicy):
            bucket.get_bucket_policy()
        bucket.put_object("keep/me", b"x")
        with pytest.raises(BucketNotEmpty):
            bucket.delete_bucket()
        bucket.delete_object("keep/me")
        upload_id = bucket.init_multipart_upload("pending").upload_id
        with pytest.raises(BucketNotEmpty):
            bucket.delete_bucket()
        bucket.abort_multipart_upload("pending", upload_id)
    except BaseException:
        _empty_and_delete(bucket)
        raise
    assert bucket.delete_bucket().status == 204
    with pytest.raises(NoSuchBucket):
        bucket.get_bucket_info()


def test_unknown_access_key_is_refused(oss_gateway: OSSGateway, bucket_name: str) -> None:
    other = oss2.Bucket(oss2.Auth("SOMEONE-ELSE", "secret"), oss_gateway.endpoint_url,
                        bucket_name)
    with pytest.raises(ServerError) as info:
        other.get_object("k")
    assert (info.value.status, info.value.code) == (403, "InvalidAccessKeyId")


def test_unimplemented_subresource_is_refused_not_misrouted(bucket: oss2.Bucket) -> None:
    with pytest.raises(oss2.exceptions.NotImplemented):
        bucket.get_bucket_acl()


def test_delete_multiple_requires_content_md5(bucket: oss2.Bucket, prefix: str) -> None:
    bucket.put_object(prefix + "kept", b"x")
    document = f"<Delete><Quiet>false</Quiet><Object><Key>{prefix}kept</Key></Object></Delete>"
    url = f"{bucket.endpoint}/{bucket.bucket_name}/"
    request = oss2.http.Request("POST", url, data=document.encode(), params={"delete": ""},
                                region=bucket.region, product="oss")
    bucket.auth._sign_request(request, bucket.bucket_name, "")  # signed, but no Content-MD5
    response = requests.post(url, params=request.params, headers=dict(request.headers),
                             data=document.encode(), timeout=10)
    assert response.status_code == 400
    assert b"<Code>InvalidDigest</Code>" in response.content
    assert bucket.object_exists(prefix + "kept")


# -- versions ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def versioned_bucket_name(oss_gateway: OSSGateway) -> str:
    name = f"gwv-{uuid.uuid4().hex[:8]}"
    bucket = _bucket(oss_gateway, name)
    bucket.create_bucket()
    config = oss2.models.BucketVersioningConfig(oss2.models.BUCKET_VERSIONING_ENABLE)
    bucket.put_bucket_versioning(config)
    return name


def test_bucket_versioning_configuration_round_trip(oss_gateway: OSSGateway,
                                                    signing: str) -> None:
    bucket = _bucket(oss_gateway, f"gwv-{uuid.uuid4().hex[:8]}", signing)
    bucket.create_bucket()
    assert bucket.get_bucket_versioning().status is None  # never versioned
    for status in (oss2.models.BUCKET_VERSIONING_ENABLE, oss2.models.BUCKET_VERSIONING_SUSPEND):
        bucket.put_bucket_versioning(oss2.models.BucketVersioningConfig(status))
        assert bucket.get_bucket_versioning().status == status


def test_version_ids_on_put_get_head_and_delete(oss_gateway: OSSGateway,
                                                versioned_bucket_name: str, signing: str,
                                                prefix: str) -> None:
    bucket = _bucket(oss_gateway, versioned_bucket_name, signing)
    key = prefix + "sp ace+\u4e2d"
    first = bucket.put_object(key, b"first")
    second = bucket.put_object(key, b"second!")
    assert first.versionid and second.versionid and first.versionid != second.versionid
    old = bucket.get_object(key, params={"versionId": first.versionid})
    assert old.read() == b"first" and old.versionid == first.versionid
    assert bucket.head_object(key).versionid == second.versionid
    head = bucket.head_object(key, params={"versionId": first.versionid})
    assert (head.content_length, head.versionid) == (5, first.versionid)
    marker = bucket.delete_object(key)
    assert marker.delete_marker and marker.versionid
    with pytest.raises(NoSuchKey):
        bucket.get_object(key)
    bucket.delete_object(key, params={"versionId": first.versionid})
    with pytest.raises(ServerError):
        bucket.get_object(key, params={"versionId": first.versionid})


def test_list_object_versions_one_entry_per_page(oss_gateway: OSSGateway,
                                                 versioned_bucket_name: str,
                                                 prefix: str) -> None:
    bucket = _bucket(oss_gateway, versioned_bucket_name)
    keys = [prefix + name for name in ("a+b c", "z\u4e2d")]
    written = {key: [bucket.put_object(key, data).versionid for data in (b"1", b"22")]
               for key in keys}
    bucket.delete_object(keys[0])
    whole = bucket.list_object_versions(prefix=prefix)
    assert not whole.is_truncated
    assert [(v.key, v.versionid, v.is_latest, v.size) for v in whole.versions] == [
        (keys[0], written[keys[0]][1], False, 2), (keys[0], written[keys[0]][0], False, 1),
        (keys[1], written[keys[1]][1], True, 2), (keys[1], written[keys[1]][0], False, 1)]
    assert [(m.key, m.is_latest) for m in whole.delete_marker] == [(keys[0], True)]
    version = whole.versions[0]
    assert version.etag == hashlib.md5(b"22").hexdigest().upper()
    assert (version.type, version.storage_class) == ("Normal", "Standard")
    paged, key_marker, version_marker = [], "", ""
    while True:
        page = bucket.list_object_versions(prefix=prefix, key_marker=key_marker,
                                           versionid_marker=version_marker, max_keys=1)
        paged += [(v.key, v.versionid) for v in page.versions]
        paged += [(m.key, m.versionid) for m in page.delete_marker]
        if not page.is_truncated:
            break
        key_marker, version_marker = page.next_key_marker, page.next_versionid_marker
    assert sorted(paged) == sorted(
        [(v.key, v.versionid) for v in whole.versions]
        + [(m.key, m.versionid) for m in whole.delete_marker])


# -- identities --------------------------------------------------------------------------
def test_an_added_identity_is_verified_and_forwarded_as_itself(
        oss_gateway: OSSGateway, s3_server, bucket_name: str) -> None:
    oss_gateway.add_identity(s3_server.limited_access_key, s3_server.limited_secret_key)
    owner = _bucket(oss_gateway, f"limited-{uuid.uuid4().hex[:8]}")
    owner.create_bucket()
    limited = oss2.Bucket(
        oss2.Auth(s3_server.limited_access_key, s3_server.limited_secret_key),
        oss_gateway.endpoint_url, owner.bucket_name)
    limited.put_object("k", b"limited")
    assert limited.get_object("k").read() == b"limited"
    # SeaweedFS refuses this identity bucket-level requests and other buckets.
    with pytest.raises(oss2.exceptions.AccessDenied):
        limited.get_bucket_info()
    other = oss2.Bucket(
        oss2.Auth(s3_server.limited_access_key, s3_server.limited_secret_key),
        oss_gateway.endpoint_url, bucket_name)
    with pytest.raises(oss2.exceptions.AccessDenied):
        other.get_object("k")
    wrong = oss2.Bucket(oss2.Auth(s3_server.limited_access_key, "wrong"),
                        oss_gateway.endpoint_url, owner.bucket_name)
    with pytest.raises(SignatureDoesNotMatch):
        wrong.get_object("k")
