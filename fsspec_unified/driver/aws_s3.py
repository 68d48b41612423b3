"""``AWSS3Client``: the boto3 backend, for AWS S3 and any S3-compatible endpoint.

Hot path: with an endpoint configured, GET, HEAD, PUT, UploadPart and ListObjectsV2 do not go
through boto3's request machinery but through :mod:`.s3_signed_requests`: the same requests,
signed by botocore's SigV4 signer with the boto3 session's credentials, on one urllib3 pool of
``max_pool_connections``, sent once each (the transfer engine above owns retries for
byte-moving work), failing with the very botocore exceptions boto3 would raise. Everything
else, and everything on AWS's own endpoints (virtual-hosted addressing, region redirects),
goes through the boto3 client. The pool is built with the boto3 client, once per process.

Decisions: a custom endpoint uses path-style addressing (what S3-compatible servers expect);
AWS itself uses boto3's automatic choice. Checksums beyond Content-MD5 are computed only when
an operation requires them (``when_required``), because many S3-compatible servers do not
understand the newer trailing-checksum uploads. boto3's "standard" retry mode retries
connection errors, 5xx and throttling ``max_retries`` times (on the hot path: not at all).
Keys or a ``credentials_provider`` in the config sit at the head of boto3's credential
chain, read at each signature; without them boto3's own chain (environment, ``aws_profile`` or
the default profile, SSO, instance role) applies, to the hot path too. ``anonymous`` sends
unsigned requests, all through boto3.

Integrity: every PUT and part carries Content-MD5, which the server verifies. A read of a
whole object asks for the stored checksum (``ChecksumMode=ENABLED``): when the object has one
(it was uploaded with an ``x-amz-checksum-*``), the server sends it and the bytes received are
checked against it at the end of the body, as botocore checks them (a mismatch is an
:class:`~.exceptions.IntegrityError`); when it has none nothing is sent and nothing costs more.
Ranged reads do not ask: S3 returns no checksum for a range. SeaweedFS accepts the header and
answers as AWS does (tried on 4.48). ETags are never compared with MD5s.

Conditions: ``If-Match`` pins reads (``IfMatch=``), ``x-amz-copy-source-if-match`` pins the
source of a part copy (``CopySourceIfMatch=``), ``If-None-Match: *`` makes a PUT or a
CompleteMultipartUpload create-only (``IfNoneMatch="*"``);
SeaweedFS enforces all three (412 PreconditionFailed).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions as boto_errors
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.credentials import CredentialProvider, ReadOnlyCredentials
from botocore.credentials import Credentials as BotoCredentials
from botocore.httpsession import ProxyConfiguration, get_cert_path
from botocore.utils import get_environ_proxies

from ..observability.scope import note_response
from . import exceptions as errors
from .base_oss import BaseOSSClient, ObjectResponse, in_version_order, object_size
from .credentials import CredentialSource, configured_credentials
from .s3_signed_requests import S3SignedRequests
from .types import (
    BucketInfo,
    DeleteFailure,
    DeleteResult,
    MultipartUploadInfo,
    ObjectInfo,
    PartInfo,
    WriteResult,
)

DEFAULT_REGION = "us-east-1"

_TIMEOUT_ERRORS = (boto_errors.ConnectTimeoutError, boto_errors.ReadTimeoutError)
_TRANSPORT_ERRORS = (
    boto_errors.EndpointConnectionError,
    boto_errors.ConnectionClosedError,
    boto_errors.ConnectionError,
    boto_errors.HTTPClientError,
    boto_errors.IncompleteReadError,
    boto_errors.ResponseStreamingError,
)
_CREDENTIAL_ERRORS = (boto_errors.NoCredentialsError, boto_errors.PartialCredentialsError)
_VERSIONING_STATUS = {True: "Enabled", False: "Suspended"}


class _SourceCredentials(BotoCredentials):
    """A botocore credentials object reading :mod:`.credentials`' current keys at each
    signature (botocore signs with ``get_frozen_credentials()``)."""

    method = "fsspec-unified"

    def __init__(self, source: CredentialSource) -> None:  # no keys of its own to store
        self._source = source

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        current = self._source.current()
        return ReadOnlyCredentials(current.access_key, current.secret_key, current.token)

    @property
    def access_key(self) -> str:
        return self._source.current().access_key

    @property
    def secret_key(self) -> str:
        return self._source.current().secret_key

    @property
    def token(self) -> str | None:
        return self._source.current().token


class _SourceProvider(CredentialProvider):
    """Puts a :class:`_SourceCredentials` at the head of boto3's credential chain."""

    METHOD = CANONICAL_NAME = "fsspec-unified"

    def __init__(self, credentials: _SourceCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> _SourceCredentials:
        return self._credentials


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else value


class AWSS3Client(BaseOSSClient):
    """S3 through boto3 (see the module docstring for the choices made)."""

    provider = "s3"

    def _forget_sdk_client(self) -> None:
        super()._forget_sdk_client()
        # The hot-path pool of each boto3 client this object built (in this process).
        self._signed_requests: weakref.WeakKeyDictionary[Any, S3SignedRequests] = (
            weakref.WeakKeyDictionary()
        )

    def _create_sdk_client(self) -> Any:
        config = self.config
        proxies = {"http": config.proxy, "https": config.proxy} if config.proxy else None
        boto_config = BotoConfig(
            region_name=config.region or DEFAULT_REGION,
            signature_version="s3v4",
            connect_timeout=config.connect_timeout_s,
            read_timeout=config.read_timeout_s,
            retries={"mode": "standard", "total_max_attempts": config.max_retries + 1},
            max_pool_connections=config.max_pool_connections,
            proxies=proxies,
            s3={"addressing_style": "path" if config.endpoint else "auto"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        if config.anonymous:
            boto_config = boto_config.merge(BotoConfig(signature_version=botocore.UNSIGNED))
        # A private session: boto3's default session is not safe to share across threads.
        core_session = botocore.session.Session(profile=config.aws_profile)
        if config.aws_profile and config.aws_profile not in core_session.available_profiles:
            raise errors.ConfigurationError(
                f"aws_profile: no profile {config.aws_profile!r} in the AWS config files")
        source = configured_credentials(config, environment=False)
        if source is not None:
            # Ahead of boto3's chain: the client and the hot path sign with whatever keys the
            # source holds at the time of each request.
            core_session.get_component("credential_provider").insert_before(
                "env", _SourceProvider(_SourceCredentials(source)))
        session = boto3.session.Session(botocore_session=core_session)
        client = session.client("s3", endpoint_url=config.endpoint_url, config=boto_config)
        client.meta.events.register("response-received.s3", _note_response)
        if config.endpoint_url and not config.anonymous:
            self._signed_requests[client] = self._create_signed_requests(core_session, client)
        return client

    def _create_signed_requests(self, core_session: Any, client: Any) -> S3SignedRequests:
        """The hot path's pool and signer, configured as boto3 configures ``client``: the same
        credentials object, region, timeouts, pool size, proxy and CA bundle."""
        config = self.config
        credentials = core_session.get_credentials()  # the object the client signs with
        endpoint_url = client.meta.endpoint_url
        proxies = (
            {"http": config.proxy, "https": config.proxy} if config.proxy
            else get_environ_proxies(endpoint_url)
        )
        proxy_config = ProxyConfiguration(proxies=proxies)
        proxy_url = proxy_config.proxy_url_for(endpoint_url)
        verify = (
            core_session.get_config_variable("ca_bundle")
            or os.environ.get("REQUESTS_CA_BUNDLE")
            or True
        )
        return S3SignedRequests(
            endpoint_url,
            client.meta.region_name,
            credentials,
            client,
            connect_timeout_s=config.connect_timeout_s,
            read_timeout_s=config.read_timeout_s,
            max_pool_connections=config.max_pool_connections,
            proxy_url=proxy_url,
            proxy_headers=proxy_config.proxy_headers_for(proxy_url) if proxy_url else None,
            ca_certs=get_cert_path(verify),
        )

    def _close_sdk_client(self, client: Any) -> None:
        client.close()
        signed = self._signed_requests.pop(client, None)
        if signed is not None:
            signed.close()

    @property
    def _signed(self) -> S3SignedRequests | None:
        """The hot path of this process's SDK client, or ``None`` without an endpoint or
        signature (anonymous requests all go through boto3)."""
        if not self.config.endpoint or self.config.anonymous:
            return None
        while True:
            signed = self._signed_requests.get(self.sdk)
            if signed is not None:
                return signed
            # close() ran between creating the client and this lookup: build afresh.

    def _error_details(self, exc: Exception) -> errors.ErrorDetails | None:
        if isinstance(exc, boto_errors.ClientError):
            error = exc.response.get("Error", {})
            meta = exc.response.get("ResponseMetadata", {})
            return errors.ErrorDetails(
                message=error.get("Message") or str(exc),
                code=error.get("Code"),
                status=meta.get("HTTPStatusCode"),
                request_id=meta.get("RequestId"),
            )
        if isinstance(exc, _TIMEOUT_ERRORS):
            return errors.ErrorDetails(str(exc), error_class=errors.RequestTimeoutError)
        if isinstance(exc, _TRANSPORT_ERRORS):
            return errors.ErrorDetails(str(exc), error_class=errors.ConnectionError)
        if isinstance(exc, _CREDENTIAL_ERRORS):
            return errors.ErrorDetails(str(exc), error_class=errors.AuthenticationError)
        if isinstance(exc, boto_errors.FlexibleChecksumError):
            return errors.ErrorDetails(str(exc), error_class=errors.IntegrityError)
        if isinstance(exc, boto_errors.ParamValidationError):
            return errors.ErrorDetails(str(exc), error_class=errors.InvalidArgumentError)
        return None

    def _bucket_url(self, bucket: str) -> str:
        if self.config.endpoint:
            return super()._bucket_url(bucket)
        region = self.config.region or DEFAULT_REGION
        return f"https://{bucket}.s3.{region}.amazonaws.com"

    # -- objects -------------------------------------------------------------------------

    def _put_object(
        self, bucket, key, data, content_type, metadata, md5, overwrite
    ) -> WriteResult:
        signed = self._signed
        if signed is not None:
            return signed.put_object(bucket, key, data, content_type, metadata, md5, overwrite)
        extra = {"ContentType": content_type} if content_type else {}
        if not overwrite:
            extra["IfNoneMatch"] = "*"
        response = self.sdk.put_object(
            Bucket=bucket, Key=key, Body=bytes(data), ContentMD5=md5, Metadata=metadata, **extra
        )
        return WriteResult(bucket, key, _etag(response.get("ETag")), response.get("VersionId"))

    def _open_object(self, bucket, key, start, end, if_match, version_id) -> ObjectResponse:
        signed = self._signed
        if signed is not None:
            return signed.get_object(bucket, key, start, end, if_match, version_id)
        extra = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        else:
            extra["ChecksumMode"] = "ENABLED"
        if if_match is not None:
            extra["IfMatch"] = f'"{if_match}"'
        if version_id is not None:
            extra["VersionId"] = version_id
        response = self.sdk.get_object(Bucket=bucket, Key=key, **extra)
        return ObjectResponse(
            response["Body"],
            object_size(response.get("ContentRange"), response.get("ContentLength")),
            _etag(response.get("ETag")),
            response.get("VersionId"),
        )

    def _head_object(self, bucket, key, version_id) -> ObjectInfo:
        signed = self._signed
        if signed is not None:
            return signed.head_object(bucket, key, version_id)
        extra = {} if version_id is None else {"VersionId": version_id}
        response = self.sdk.head_object(Bucket=bucket, Key=key, **extra)
        return ObjectInfo(
            key=key,
            size=response["ContentLength"],
            etag=_etag(response.get("ETag")),
            last_modified=response.get("LastModified"),
            content_type=response.get("ContentType"),
            metadata={name.lower(): value for name, value in response["Metadata"].items()},
            storage_class=response.get("StorageClass", "STANDARD"),
            version_id=response.get("VersionId"),
        )

    def _delete_object(self, bucket, key, version_id) -> None:
        extra = {} if version_id is None else {"VersionId": version_id}
        self.sdk.delete_object(Bucket=bucket, Key=key, **extra)

    def _delete_batch(self, bucket, keys) -> DeleteResult:
        response = self.sdk.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
        failures = [
            DeleteFailure(item["Key"], item.get("Code"), item.get("Message", ""))
            for item in response.get("Errors", [])
        ]
        failed = {failure.key for failure in failures}
        return DeleteResult([key for key in keys if key not in failed], failures)

    def _copy_object(self, src_bucket, src_key, dst_bucket, dst_key, metadata) -> WriteResult:
        extra: dict[str, Any] = {"MetadataDirective": "COPY"}
        if metadata is not None:
            extra = {"MetadataDirective": "REPLACE", "Metadata": metadata}
        response = self.sdk.copy_object(
            Bucket=dst_bucket,
            Key=dst_key,
            CopySource={"Bucket": src_bucket, "Key": src_key},
            **extra,
        )
        return WriteResult(
            dst_bucket,
            dst_key,
            _etag(response.get("CopyObjectResult", {}).get("ETag")),
            response.get("VersionId"),
        )

    def _list_objects_page(self, bucket, prefix, delimiter, start_after, page_size, token):
        signed = self._signed
        if signed is not None:
            return signed.list_objects_page(bucket, prefix, delimiter, start_after, page_size,
                                            token)
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
        if delimiter:
            request["Delimiter"] = delimiter
        if start_after:
            request["StartAfter"] = start_after
        if token:
            request["ContinuationToken"] = token
        page = self.sdk.list_objects_v2(**request)
        entries = [
            ObjectInfo(key=item["Prefix"], is_prefix=True)
            for item in page.get("CommonPrefixes", [])
        ]
        entries.extend(
            ObjectInfo(
                key=item["Key"],
                size=item["Size"],
                etag=_etag(item.get("ETag")),
                last_modified=item.get("LastModified"),
                storage_class=item.get("StorageClass"),
            )
            for item in page.get("Contents", [])
        )
        following = page.get("NextContinuationToken")
        return entries, following if page.get("IsTruncated") and following else None

    def _list_object_versions(self, bucket, prefix) -> Iterator[ObjectInfo]:
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while True:
            page = self.sdk.list_object_versions(**request)
            entries = [
                ObjectInfo(
                    key=item["Key"],
                    size=item.get("Size", 0),
                    etag=_etag(item.get("ETag")),
                    last_modified=item.get("LastModified"),
                    storage_class=item.get("StorageClass"),
                    version_id=item.get("VersionId"),
                    is_latest=item.get("IsLatest"),
                )
                for item in page.get("Versions", [])
            ]
            entries.extend(
                ObjectInfo(
                    key=item["Key"],
                    last_modified=item.get("LastModified"),
                    version_id=item.get("VersionId"),
                    is_latest=item.get("IsLatest"),
                    is_delete_marker=True,
                )
                for item in page.get("DeleteMarkers", [])
            )
            yield from in_version_order(entries)
            if not page.get("IsTruncated") or not page.get("NextKeyMarker"):
                return
            request["KeyMarker"] = page["NextKeyMarker"]
            request["VersionIdMarker"] = page.get("NextVersionIdMarker", "")

    # -- multipart -----------------------------------------------------------------------

    def _create_multipart_upload(self, bucket, key, content_type, metadata) -> str:
        extra = {"ContentType": content_type} if content_type else {}
        response = self.sdk.create_multipart_upload(
            Bucket=bucket, Key=key, Metadata=metadata, **extra
        )
        return response["UploadId"]

    def _upload_part(self, bucket, key, upload_id, part_number, data, md5) -> PartInfo:
        signed = self._signed
        if signed is not None:
            return signed.upload_part(bucket, key, upload_id, part_number, data, md5)
        response = self.sdk.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=part_number,
            Body=bytes(data),
            ContentMD5=md5,
        )
        return PartInfo(part_number, _etag(response["ETag"]), len(data))

    def _upload_part_copy(
        self, bucket, key, upload_id, part_number, src_bucket, src_key, start, end, if_match
    ) -> PartInfo:
        extra = {} if if_match is None else {"CopySourceIfMatch": f'"{if_match}"'}
        response = self.sdk.upload_part_copy(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=part_number,
            CopySource={"Bucket": src_bucket, "Key": src_key},
            CopySourceRange=f"bytes={start}-{end - 1}",
            **extra,
        )
        result = response["CopyPartResult"]
        return PartInfo(part_number, _etag(result["ETag"]), end - start, result.get("LastModified"))

    def _complete_multipart_upload(
        self, bucket, key, upload_id, parts, overwrite
    ) -> WriteResult:
        extra = {} if overwrite else {"IfNoneMatch": "*"}
        response = self.sdk.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": p.part_number, "ETag": f'"{p.etag}"'} for p in parts]
            },
            **extra,
        )
        return WriteResult(bucket, key, _etag(response.get("ETag")), response.get("VersionId"))

    def _abort_multipart_upload(self, bucket, key, upload_id) -> None:
        self.sdk.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)

    def _list_parts(self, bucket, key, upload_id) -> Iterator[PartInfo]:
        request: dict[str, Any] = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
        while True:
            page = self.sdk.list_parts(**request)
            for item in page.get("Parts", []):
                yield PartInfo(
                    item["PartNumber"], _etag(item["ETag"]), item.get("Size"),
                    item.get("LastModified"),
                )
            if not page.get("IsTruncated"):
                return
            request["PartNumberMarker"] = page["NextPartNumberMarker"]

    def _list_multipart_uploads(self, bucket, prefix) -> Iterator[MultipartUploadInfo]:
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while True:
            page = self.sdk.list_multipart_uploads(**request)
            for item in page.get("Uploads", []):
                yield MultipartUploadInfo(item["Key"], item["UploadId"], item.get("Initiated"))
            # A truncated page without NextKeyMarker (SeaweedFS sends them) ends the listing.
            if not page.get("IsTruncated") or not page.get("NextKeyMarker"):
                return
            request["KeyMarker"] = page["NextKeyMarker"]
            request["UploadIdMarker"] = page.get("NextUploadIdMarker", "")

    # -- URLs and buckets ----------------------------------------------------------------

    def _presigned_url(self, bucket, key, method, expires_s) -> str:
        operation = {"GET": "get_object", "PUT": "put_object"}[method]
        return self.sdk.generate_presigned_url(
            operation, Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
        )

    def _list_buckets(self) -> list[BucketInfo]:
        response = self.sdk.list_buckets()
        return [BucketInfo(item["Name"], item.get("CreationDate")) for item in response["Buckets"]]

    def _create_bucket(self, bucket, region) -> None:
        extra = {}
        if region and region != DEFAULT_REGION:
            extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
        self.sdk.create_bucket(Bucket=bucket, **extra)

    def _delete_bucket(self, bucket) -> None:
        self.sdk.delete_bucket(Bucket=bucket)

    def _bucket_exists(self, bucket) -> bool:
        try:
            self.sdk.head_bucket(Bucket=bucket)
        except boto_errors.ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            raise
        return True

    def _get_bucket_policy(self, bucket) -> str:
        return self.sdk.get_bucket_policy(Bucket=bucket)["Policy"]

    def _set_bucket_policy(self, bucket, policy_json) -> None:
        self.sdk.put_bucket_policy(Bucket=bucket, Policy=policy_json)

    def _delete_bucket_policy(self, bucket) -> None:
        self.sdk.delete_bucket_policy(Bucket=bucket)

    def _set_bucket_versioning(self, bucket, enabled) -> None:
        self.sdk.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": _VERSIONING_STATUS[enabled]}
        )

    def _get_bucket_versioning(self, bucket) -> bool:
        return self.sdk.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"


def _note_response(response_dict: dict | None = None, **_: Any) -> None:
    """botocore calls this for every HTTP response, its own retries included."""
    if response_dict is not None:
        note_response(response_dict["status_code"],
                      response_dict["headers"].get("x-amz-request-id"))
