"""The OSS API, one method per operation, each implemented with S3 calls to SeaweedFS.

Conditions are the server's: ``If-Match`` on GET and ``x-oss-copy-source-if-match`` on
CopyObject and UploadPartCopy (as ``x-amz-copy-source-if-match``, the ETag in SeaweedFS's lower
case) are passed on, and SeaweedFS answers 412 PreconditionFailed, as OSS does.
``x-oss-forbid-overwrite: true`` becomes ``If-None-Match: *`` on PutObject and
CompleteMultipartUpload, so the check and the write are one request, and the 412 becomes OSS's
409 FileAlreadyExists. Versions: ``versionId`` is passed on for GET, HEAD and
DELETE and ``x-amz-version-id`` comes back as ``x-oss-version-id``; ``?versioning`` and
``?versions`` are translated to and from OSS's XML.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, unquote
from xml.etree import ElementTree

import requests
from oss2.auth import ProviderAuth
from requests.structures import CaseInsensitiveDict

from . import translate
from .body import BodyReader, iter_file, spool_with_crc
from .errors import OSSServiceError, from_upstream
from .upstream import Upstream

XML_CONTENT_TYPE = "application/xml"
OSS_DEFAULT_MAX_KEYS = "100"  # S3's default is 1000
SMALL_BODY_LIMIT_BYTES = 16 * 1024 * 1024  # XML and policy documents
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_SIMPLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CONTENT_RANGE_TOTAL = re.compile(r"/(\d+)$")

# Request headers passed to SeaweedFS unchanged (lower-case).
_PASSTHROUGH_REQUEST_HEADERS = (
    "content-type", "content-md5", "cache-control", "content-disposition", "content-encoding",
    "expires", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since",
)
# OSS header -> S3 header.
_RENAMED_REQUEST_HEADERS = {
    "x-oss-copy-source-range": "x-amz-copy-source-range",
    "x-oss-metadata-directive": "x-amz-metadata-directive",
    "x-oss-copy-source-if-match": "x-amz-copy-source-if-match",
    "x-oss-copy-source-if-none-match": "x-amz-copy-source-if-none-match",
    "x-oss-copy-source-if-modified-since": "x-amz-copy-source-if-modified-since",
    "x-oss-copy-source-if-unmodified-since": "x-amz-copy-source-if-unmodified-since",
}
_ETAG_HEADERS = ("if-match", "if-none-match", "x-amz-copy-source-if-match",
                 "x-amz-copy-source-if-none-match")
# OSS sub-resources this gateway serves; a request naming any other (acl, cors, tagging,
# append, symlink, ...) is refused with NotImplemented instead of being mistaken for a
# plain GET or PUT.
_SERVED_SUBRESOURCES = frozenset({
    "uploads", "uploadId", "partNumber", "delete", "location", "bucketInfo", "objectMeta",
    "policy", "continuation-token", "security-token", "versionId", "versions", "versioning",
    "response-content-type",
    "response-content-language", "response-cache-control", "response-content-encoding",
    "response-expires", "response-content-disposition",
})
_UNSERVED_SUBRESOURCES = ProviderAuth._subresource_key_set - _SERVED_SUBRESOURCES
_LIST_V1_PARAMS = ("prefix", "marker", "max-keys", "delimiter")
_LIST_V2_PARAMS = ("prefix", "start-after", "max-keys", "delimiter", "fetch-owner")
_LIST_UPLOADS_PARAMS = ("prefix", "delimiter", "key-marker", "upload-id-marker", "max-uploads")
_LIST_PARTS_PARAMS = ("max-parts", "part-number-marker")
_LIST_VERSIONS_PARAMS = ("prefix", "delimiter", "key-marker", "version-id-marker", "max-keys")
_VERSIONING_STATUSES = ("Enabled", "Suspended")


@dataclass
class OSSRequest:
    method: str
    bucket: str | None
    key: str
    params: dict[str, str]
    headers: CaseInsensitiveDict
    body: BodyReader | None
    # The S3 client for the identity that signed the request (None: the gateway's own).
    upstream: Upstream | None = None

    def small_body(self) -> bytes:
        return self.body.read_all(SMALL_BODY_LIMIT_BYTES) if self.body else b""

    @property
    def forbid_overwrite(self) -> bool:
        return self.headers.get("x-oss-forbid-overwrite", "").lower() == "true"


@dataclass
class OSSResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: Iterator[bytes] | None = None  # then headers carry Content-Length
    close: Callable[[], None] | None = None

    @classmethod
    def xml(cls, document: bytes, status: int = 200, **headers: str) -> OSSResponse:
        return cls(status, {"Content-Type": XML_CONTENT_TYPE, **headers}, document)


class Operations:
    """Maps each OSS request onto SeaweedFS and its answer back onto OSS."""

    def __init__(self, upstream: Upstream, region: str, host: str, owner_id: str,
                 crc_mode: Callable[[], str]) -> None:
        self.upstream = upstream
        self.region = region
        self.host = host
        self.owner_id = owner_id
        self._crc_mode = crc_mode
        self._policies: dict[str, bytes] = {}
        self._policies_lock = threading.Lock()

    # -- dispatch ----------------------------------------------------------------------
    def dispatch(self, req: OSSRequest) -> OSSResponse:
        unserved = sorted(_UNSERVED_SUBRESOURCES.intersection(req.params))
        if unserved:
            raise OSSServiceError(400, "NotImplemented",
                                  f"The OSS test gateway does not implement {unserved}.")
        if req.bucket is None:
            if req.method == "GET":
                return self.list_buckets(req)
            raise OSSServiceError(405, "MethodNotAllowed", "Unsupported service operation.")
        if not req.key:
            return self._dispatch_bucket(req)
        return self._dispatch_object(req)

    def _dispatch_bucket(self, req: OSSRequest) -> OSSResponse:
        params, method = req.params, req.method
        if "policy" in params:
            handler = {"GET": self.get_bucket_policy, "PUT": self.put_bucket_policy,
                       "DELETE": self.delete_bucket_policy}.get(method)
        elif "versioning" in params:
            handler = {"GET": self.get_bucket_versioning,
                       "PUT": self.put_bucket_versioning}.get(method)
        elif method == "GET":
            if "versions" in params:
                handler = self.list_object_versions
            elif "bucketInfo" in params:
                handler = self.get_bucket_info
            elif "location" in params:
                handler = self.get_bucket_location
            elif "uploads" in params:
                handler = self.list_multipart_uploads
            elif params.get("list-type") == "2":
                handler = self.list_objects_v2
            else:
                handler = self.list_objects_v1
        else:
            handler = {"PUT": self.put_bucket, "DELETE": self.delete_bucket,
                       "HEAD": self.head_bucket}.get(method)
            if method == "POST" and "delete" in params:
                handler = self.delete_multiple_objects
        if handler is None:
            raise OSSServiceError(400, "NotImplemented",
                                  f"The gateway does not implement {method} on a bucket "
                                  f"with {sorted(params)}.")
        return handler(req)

    def _dispatch_object(self, req: OSSRequest) -> OSSResponse:
        params, method = req.params, req.method
        handler = None
        if method == "PUT":
            copying = "x-oss-copy-source" in req.headers
            if "uploadId" in params:
                handler = self.upload_part_copy if copying else self.upload_part
            else:
                handler = self.copy_object if copying else self.put_object
        elif method in ("GET", "HEAD"):
            if "uploadId" in params and method == "GET":
                handler = self.list_parts
            else:
                handler = self.get_object if method == "GET" else self.head_object
        elif method == "DELETE":
            handler = self.abort_multipart_upload if "uploadId" in params else self.delete_object
        elif method == "POST":
            if "uploads" in params:
                handler = self.initiate_multipart_upload
            elif "uploadId" in params:
                handler = self.complete_multipart_upload
        if handler is None:
            raise OSSServiceError(400, "NotImplemented",
                                  f"The gateway does not implement {method} on an object "
                                  f"with {sorted(params)}.")
        return handler(req)

    # -- upstream helpers --------------------------------------------------------------
    def _upstream(self, req: OSSRequest) -> Upstream:
        return req.upstream or self.upstream

    def _call(self, req: OSSRequest, method: str, *, key: str | None = None,
              params: dict[str, str] | None = None, headers: dict[str, str] | None = None,
              body=None, stream: bool = False) -> requests.Response:
        response = self._upstream(req).request(method, req.bucket, req.key if key is None else key,
                                         params=params, headers=headers, body=body,
                                         stream=stream)
        if response.status_code >= 300 or _is_error_document(response, stream):
            content = response.content
            response.close()
            raise self._error(req, response.status_code, content)
        return response

    def _error(self, req: OSSRequest, status: int, content: bytes) -> OSSServiceError:
        fields = {"BucketName": req.bucket or ""}
        if req.key:
            fields["Key"] = req.key
        if status == 404 and not content and req.key:
            # A HEAD error has no body: tell a missing bucket from a missing key.
            probe = self._upstream(req).request("HEAD", req.bucket)
            if probe.status_code == 404:
                return OSSServiceError(404, "NoSuchBucket",
                                       "The specified bucket does not exist.", **fields)
            return OSSServiceError(404, "NoSuchKey", "The specified key does not exist.",
                                   **fields)
        if status == 404 and not content:
            return OSSServiceError(404, "NoSuchBucket", "The specified bucket does not exist.",
                                   **fields)
        return from_upstream(status, content, forbid_overwrite=req.forbid_overwrite, **fields)

    def _require_bucket(self, req: OSSRequest) -> None:
        self._call(req, "HEAD", key="").close()

    def _bucket_dates(self, req: OSSRequest) -> dict[str, str]:
        response = self._upstream(req).request("GET", None)
        if response.status_code != 200:
            raise self._error(req, response.status_code, response.content)
        return translate.bucket_creation_dates(response.content)

    def _crc_header(self, crc: int) -> dict[str, str]:
        mode = self._crc_mode()
        if mode == "omit":
            return {}
        if mode == "corrupt":
            crc ^= 0x5A5A
        return {"x-oss-hash-crc64ecma": str(crc)}

    def _check_forbid_overwrite(self, req: OSSRequest) -> None:
        """OSS refuses to replace an object when asked to; S3 CopyObject cannot say so, so
        this checks first (not atomic: fine for a copy in tests)."""
        if not req.forbid_overwrite:
            return
        probe = self._upstream(req).request("HEAD", req.bucket, req.key)
        if probe.status_code == 200:
            raise OSSServiceError(409, "FileAlreadyExists",
                                  "The object you specified already exists and can not be "
                                  "overwritten.", BucketName=req.bucket or "", Key=req.key)

    # -- service and buckets -----------------------------------------------------------
    def list_buckets(self, req: OSSRequest) -> OSSResponse:
        document = translate.list_buckets(self._bucket_dates(req), req.params, self.region,
                                          self.host, self.owner_id)
        return OSSResponse.xml(document)

    def put_bucket(self, req: OSSRequest) -> OSSResponse:
        req.small_body()  # CreateBucketConfiguration (storage class): nothing to keep
        if not _BUCKET_NAME.match(req.bucket or ""):
            raise OSSServiceError(400, "InvalidBucketName",
                                  "The specified bucket is not valid.", BucketName=req.bucket)
        response = self._upstream(req).request("PUT", req.bucket)
        if response.status_code == 409 and b"BucketAlreadyOwnedByYou" in response.content:
            return OSSResponse(200)  # OSS: re-creating your own bucket succeeds
        if response.status_code >= 300:
            raise self._error(req, response.status_code, response.content)
        return OSSResponse(200, {"Location": f"/{req.bucket}"})

    def delete_bucket(self, req: OSSRequest) -> OSSResponse:
        uploads = self._call(req, "GET", key="", params={"uploads": "", "max-uploads": "1"})
        if translate.parse_s3(uploads.content).find("Upload") is not None:
            raise OSSServiceError(409, "BucketNotEmpty",
                                  "The bucket has objects or unfinished multipart uploads.",
                                  BucketName=req.bucket)
        self._call(req, "DELETE", key="")
        with self._policies_lock:
            self._policies.pop(req.bucket, None)
        return OSSResponse(204)

    def head_bucket(self, req: OSSRequest) -> OSSResponse:
        self._require_bucket(req)
        return OSSResponse(200)

    def get_bucket_info(self, req: OSSRequest) -> OSSResponse:
        self._require_bucket(req)
        created = self._bucket_dates(req).get(req.bucket, translate.now_oss_time())
        return OSSResponse.xml(translate.bucket_info(req.bucket, created, self.region,
                                                     self.host, self.owner_id))

    def get_bucket_location(self, req: OSSRequest) -> OSSResponse:
        self._require_bucket(req)
        return OSSResponse.xml(translate.bucket_location(self.region))

    def put_bucket_policy(self, req: OSSRequest) -> OSSResponse:
        document = req.small_body()
        _check_content_md5(req, document)
        self._require_bucket(req)
        with self._policies_lock:
            self._policies[req.bucket] = document
        return OSSResponse(200)

    def get_bucket_policy(self, req: OSSRequest) -> OSSResponse:
        self._require_bucket(req)
        with self._policies_lock:
            document = self._policies.get(req.bucket)
        if document is None:
            raise OSSServiceError(404, "NoSuchBucketPolicy", "The bucket policy does not exist.",
                                  BucketName=req.bucket)
        return OSSResponse(200, {"Content-Type": "application/json"}, document)

    def delete_bucket_policy(self, req: OSSRequest) -> OSSResponse:
        self._require_bucket(req)
        with self._policies_lock:
            self._policies.pop(req.bucket, None)
        return OSSResponse(204)

    def put_bucket_versioning(self, req: OSSRequest) -> OSSResponse:
        document = req.small_body()
        _check_content_md5(req, document)
        try:
            status = translate.text(translate.parse_s3(document), "Status")
        except ElementTree.ParseError:
            raise OSSServiceError(400, "MalformedXML", "The XML you provided was not "
                                  "well-formed.") from None
        if status not in _VERSIONING_STATUSES:
            raise OSSServiceError(400, "InvalidArgument",
                                  f"Versioning status must be one of {_VERSIONING_STATUSES}.")
        s3_document = translate.versioning_configuration(status)
        self._call(req, "PUT", key="", params={"versioning": ""},
                   headers={"Content-MD5": _md5_base64(s3_document),
                            "Content-Type": XML_CONTENT_TYPE}, body=s3_document)
        return OSSResponse(200)

    def get_bucket_versioning(self, req: OSSRequest) -> OSSResponse:
        response = self._call(req, "GET", key="", params={"versioning": ""})
        status = translate.text(translate.parse_s3(response.content), "Status")
        return OSSResponse.xml(translate.versioning_configuration(status or None))

    # -- listings ----------------------------------------------------------------------
    def list_object_versions(self, req: OSSRequest) -> OSSResponse:
        params = {"versions": "", "max-keys": OSS_DEFAULT_MAX_KEYS,
                  **_pick(req.params, _LIST_VERSIONS_PARAMS)}
        response = self._call(req, "GET", key="", params=params)
        return OSSResponse.xml(translate.list_object_versions(
            response.content, req.bucket, req.params, self.owner_id))

    def list_objects_v1(self, req: OSSRequest) -> OSSResponse:
        params = {"max-keys": OSS_DEFAULT_MAX_KEYS, **_pick(req.params, _LIST_V1_PARAMS)}
        response = self._call(req, "GET", key="", params=params)
        return OSSResponse.xml(translate.list_objects_v1(response.content, req.bucket,
                                                         req.params))

    def list_objects_v2(self, req: OSSRequest) -> OSSResponse:
        params = {"list-type": "2", "max-keys": OSS_DEFAULT_MAX_KEYS,
                  **_pick(req.params, _LIST_V2_PARAMS)}
        if req.params.get("continuation-token"):
            params["continuation-token"] = translate.unwrap_token(
                req.params["continuation-token"])
        response = self._call(req, "GET", key="", params=params)
        return OSSResponse.xml(translate.list_objects_v2(response.content, req.bucket,
                                                         req.params))

    def list_multipart_uploads(self, req: OSSRequest) -> OSSResponse:
        params = {"uploads": "", **_pick(req.params, _LIST_UPLOADS_PARAMS)}
        response = self._call(req, "GET", key="", params=params)
        return OSSResponse.xml(translate.list_multipart_uploads(response.content, req.params))

    def list_parts(self, req: OSSRequest) -> OSSResponse:
        params = {"uploadId": req.params["uploadId"], **_pick(req.params, _LIST_PARTS_PARAMS)}
        response = self._call(req, "GET", params=params)
        return OSSResponse.xml(translate.list_parts(response.content))

    # -- objects -----------------------------------------------------------------------
    def put_object(self, req: OSSRequest) -> OSSResponse:
        headers = _s3_request_headers(req.headers)
        if req.forbid_overwrite:
            headers["If-None-Match"] = "*"
        body = req.body if req.body is not None else b""
        response = self._call(req, "PUT", headers=headers, body=body)
        return self._write_response(req, response)

    def upload_part(self, req: OSSRequest) -> OSSResponse:
        params = {"partNumber": req.params.get("partNumber", ""),
                  "uploadId": req.params["uploadId"]}
        body = req.body if req.body is not None else b""
        response = self._call(req, "PUT", params=params,
                              headers=_s3_request_headers(req.headers), body=body)
        return self._write_response(req, response)

    def _write_response(self, req: OSSRequest, response: requests.Response) -> OSSResponse:
        headers = {"ETag": translate.oss_etag(response.headers.get("ETag", ""))}
        headers.update(translate.version_header(response.headers))
        crc = req.body.crc64 if req.body is not None else 0
        headers.update(self._crc_header(crc))
        return OSSResponse(200, headers)

    def copy_object(self, req: OSSRequest) -> OSSResponse:
        self._check_forbid_overwrite(req)
        response = self._call(req, "PUT", headers=_s3_request_headers(req.headers))
        document, etag = translate.copy_result(response.content, "CopyObjectResult")
        return OSSResponse.xml(document, ETag=etag)

    def upload_part_copy(self, req: OSSRequest) -> OSSResponse:
        params = {"partNumber": req.params.get("partNumber", ""),
                  "uploadId": req.params["uploadId"]}
        response = self._call(req, "PUT", params=params,
                              headers=_s3_request_headers(req.headers))
        document, etag = translate.copy_result(response.content, "CopyPartResult")
        return OSSResponse.xml(document, ETag=etag)

    def get_object(self, req: OSSRequest) -> OSSResponse:
        params = {k: v for k, v in req.params.items() if k.startswith("response-")}
        params.update(_version_param(req))
        headers = _s3_request_headers(req.headers)
        range_header = req.headers.get("Range")
        standard = req.headers.get("x-oss-range-behavior", "").lower() == "standard"
        # OSS ignores a range it cannot parse (several ranges, garbage); S3 may not.
        if range_header and (standard or _SIMPLE_RANGE.match(range_header.strip())):
            headers["Range"] = range_header
        try:
            response = self._call(req, "GET", params=params, headers=headers, stream=True)
        except OSSServiceError as error:
            if standard or error.code != "InvalidRange":
                raise
            response = None  # OSS: an unsatisfiable range means the whole object
        if response is not None and not standard and response.status_code == 206 \
                and _range_exceeds_object(headers.get("Range", ""), response):
            response.close()
            response = None
        if response is None:
            headers.pop("Range", None)
            response = self._call(req, "GET", params=params, headers=headers, stream=True)
        out_headers = translate.object_response_headers(response.headers)
        chunks = response.iter_content(chunk_size=1024 * 1024)
        if response.status_code == 200 and self._crc_mode() != "omit":
            try:
                spool, length, crc = spool_with_crc(chunks)
            finally:
                response.close()
            out_headers["Content-Length"] = str(length)
            out_headers.update(self._crc_header(crc))
            return OSSResponse(200, out_headers, stream=iter_file(spool), close=spool.close)
        return OSSResponse(response.status_code, out_headers, stream=iter(chunks),
                           close=response.close)

    def head_object(self, req: OSSRequest) -> OSSResponse:
        response = self._call(req, "HEAD", params=_version_param(req),
                              headers=_s3_request_headers(req.headers))
        return OSSResponse(200, translate.object_response_headers(response.headers))

    def delete_object(self, req: OSSRequest) -> OSSResponse:
        response = self._call(req, "DELETE", params=_version_param(req))
        return OSSResponse(204, translate.delete_response_headers(response.headers))

    def delete_multiple_objects(self, req: OSSRequest) -> OSSResponse:
        document = req.small_body()
        if "Content-MD5" not in req.headers:
            raise OSSServiceError(400, "InvalidDigest",
                                  "Missing required header for this request: Content-MD5.")
        _check_content_md5(req, document)
        try:
            oss_root = translate.parse_s3(document)
        except ElementTree.ParseError:
            raise OSSServiceError(400, "MalformedXML", "The XML you provided was not "
                                  "well-formed.") from None
        quiet = translate.text(oss_root, "Quiet", "false").lower() == "true"
        s3_root = ElementTree.Element("Delete")
        translate.add(s3_root, "Quiet", "false")
        for item in oss_root.findall("Object"):
            translate.add(translate.add(s3_root, "Object"), "Key", translate.text(item, "Key"))
        s3_document = translate.to_xml(s3_root)
        headers = {"Content-MD5": _md5_base64(s3_document), "Content-Type": XML_CONTENT_TYPE}
        response = self._call(req, "POST", key="", params={"delete": ""}, headers=headers,
                              body=s3_document)
        return OSSResponse.xml(translate.delete_result(response.content, req.params, quiet))

    # -- multipart ---------------------------------------------------------------------
    def initiate_multipart_upload(self, req: OSSRequest) -> OSSResponse:
        req.small_body()
        response = self._call(req, "POST", params={"uploads": ""},
                              headers=_s3_request_headers(req.headers))
        return OSSResponse.xml(translate.initiate_multipart_upload(response.content,
                                                                   req.params))

    def complete_multipart_upload(self, req: OSSRequest) -> OSSResponse:
        document = req.small_body()
        try:
            s3_document = translate.complete_request_to_s3(document)
        except ElementTree.ParseError:
            raise OSSServiceError(400, "MalformedXML", "The XML you provided was not "
                                  "well-formed.") from None
        headers = {"Content-Type": XML_CONTENT_TYPE}
        if req.forbid_overwrite:
            headers["If-None-Match"] = "*"  # SeaweedFS enforces it on Complete (412)
        response = self._call(req, "POST", params={"uploadId": req.params["uploadId"]},
                              headers=headers, body=s3_document)
        result, etag = translate.complete_multipart_upload(response.content, req.bucket,
                                                           req.key, req.params)
        return OSSResponse.xml(result, ETag=etag, **translate.version_header(response.headers))

    def abort_multipart_upload(self, req: OSSRequest) -> OSSResponse:
        self._call(req, "DELETE", params={"uploadId": req.params["uploadId"]})
        return OSSResponse(204)


# -- module helpers -------------------------------------------------------------------------
def _pick(params: dict[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: params[name] for name in names if name in params}


def _version_param(req: OSSRequest) -> dict[str, str]:
    version_id = req.params.get("versionId")
    return {} if version_id is None else {"versionId": version_id}


def _md5_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def _check_content_md5(req: OSSRequest, document: bytes) -> None:
    given = req.headers.get("Content-MD5")
    if given is not None and given.strip() != _md5_base64(document):
        raise OSSServiceError(400, "InvalidDigest",
                              "The Content-MD5 you specified was invalid.")


def _is_error_document(response: requests.Response, stream: bool) -> bool:
    """S3 CompleteMultipartUpload and CopyObject may fail with 200 and an ``<Error>`` body."""
    if stream or response.request.method not in ("POST", "PUT"):
        return False
    return response.content.lstrip()[:200].find(b"<Error>") >= 0


def _range_exceeds_object(range_header: str, response: requests.Response) -> bool:
    """OSS's default: a range reaching past the object is ignored (whole object, 200)."""
    match = _SIMPLE_RANGE.match(range_header.strip())
    total = _CONTENT_RANGE_TOTAL.search(response.headers.get("Content-Range", ""))
    if not match or not total:
        return False
    first, last = match.groups()
    size = int(total.group(1))
    if first and last:
        return int(first) > int(last) or int(last) >= size
    if first:
        return int(first) >= size
    return not last or int(last) > size


def _copy_source(value: str) -> str:
    """``/bucket/<quoted key>`` re-quoted for S3 (``/`` in the key left literal)."""
    bucket, _, key = unquote(value).lstrip("/").partition("/")
    return "/" + quote(bucket, safe="") + "/" + quote(key, safe="/-_.~")


def _s3_request_headers(headers: CaseInsensitiveDict) -> dict[str, str]:
    s3_headers: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in _PASSTHROUGH_REQUEST_HEADERS:
            s3_headers[lower] = value
        elif lower in _RENAMED_REQUEST_HEADERS:
            s3_headers[_RENAMED_REQUEST_HEADERS[lower]] = value
        elif lower.startswith("x-oss-meta-"):
            s3_headers["x-amz-meta-" + lower[len("x-oss-meta-"):]] = value
        elif lower == "x-oss-copy-source":
            s3_headers["x-amz-copy-source"] = _copy_source(value)
    for name in _ETAG_HEADERS:
        if name in s3_headers and s3_headers[name].strip() != "*":
            s3_headers[name] = ",".join(translate.s3_etag(v) for v in s3_headers[name].split(","))
    return s3_headers
