"""S3 (SeaweedFS) XML and headers -> the OSS dialect oss2's strict parser accepts.

OSS documents have no namespace, every time is ``YYYY-MM-DDTHH:MM:SS.000Z``, listings carry
``Type`` and ``StorageClass`` and always a ``Next*`` marker when truncated, and with
``encoding-type=url`` the *gateway* %-encodes keys (SeaweedFS never sees that parameter).
"""

from __future__ import annotations

import base64
import binascii
import email.utils
from datetime import datetime, timezone
from urllib.parse import quote
from xml.etree import ElementTree

from .errors import OSSServiceError

STORAGE_CLASS = "Standard"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

# Response headers copied from SeaweedFS as they are.
PASSTHROUGH_RESPONSE_HEADERS = (
    "Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Cache-Control",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Expires",
)


# -- small helpers ------------------------------------------------------------------------
def parse_s3(body: bytes) -> ElementTree.Element:
    """Parse an S3 document and drop its namespace from every tag."""
    root = ElementTree.fromstring(body)
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]
    return root


def text(parent: ElementTree.Element, tag: str, default: str = "") -> str:
    found = parent.find(tag)
    return default if found is None or found.text is None else found.text


def to_xml(root: ElementTree.Element) -> bytes:
    return XML_DECLARATION + ElementTree.tostring(root, encoding="utf-8")


def add(parent: ElementTree.Element, tag: str, value: object = None) -> ElementTree.Element:
    child = ElementTree.SubElement(parent, tag)
    if value is not None:
        child.text = str(value)
    return child


def oss_time(value: str) -> str:
    """Any ISO-8601 UTC time -> ``YYYY-MM-DDTHH:MM:SS.000Z`` (the only form oss2 parses)."""
    if not value:
        return "1970-01-01T00:00:00.000Z"
    return value[:19] + ".000Z"


def http_date(value: str | None) -> str | None:
    """Normalise to strict RFC 1123 (``Sat, 05 Dec 2015 11:10:29 GMT``), oss2's regex."""
    if not value:
        return value
    parsed = email.utils.parsedate_to_datetime(value)
    return email.utils.format_datetime(parsed.astimezone(timezone.utc), usegmt=True)


def now_oss_time() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def oss_etag(value: str | None) -> str | None:
    """OSS ETags are upper-case hex in quotes (multipart ones end in ``-N``)."""
    if value is None:
        return None
    return '"' + value.strip('"').upper() + '"'


def s3_etag(value: str) -> str:
    """Back to the lower-case form SeaweedFS stores and compares."""
    return '"' + value.strip().strip('"').lower() + '"'


def object_type(etag: str | None) -> str:
    return "Multipart" if etag and "-" in etag else "Normal"


def url_encode(value: str, enabled: bool) -> str:
    """OSS ``encoding-type=url``; oss2 decodes with ``unquote`` (so ``+`` must be encoded)."""
    return quote(value, safe="/") if enabled else value


def wrap_token(token: str) -> str:
    """An opaque continuation token without ``%`` or ``+`` (oss2 url-unquotes tokens)."""
    return base64.urlsafe_b64encode(token.encode("utf-8")).decode("ascii").rstrip("=")


def unwrap_token(token: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise OSSServiceError(400, "InvalidArgument", "Invalid continuation-token") from None


# -- listings -----------------------------------------------------------------------------
def _add_contents(root: ElementTree.Element, s3_root: ElementTree.Element, encode: bool,
                  fetch_owner: bool) -> tuple[str, str]:
    """Copy ``Contents`` and ``CommonPrefixes``; return the last key and the last prefix."""
    last_key = last_prefix = ""
    for item in s3_root.findall("Contents"):
        key = text(item, "Key")
        etag = oss_etag(text(item, "ETag"))
        node = add(root, "Contents")
        add(node, "Key", url_encode(key, encode))
        add(node, "LastModified", oss_time(text(item, "LastModified")))
        add(node, "ETag", etag)
        add(node, "Type", object_type(etag))
        add(node, "Size", text(item, "Size", "0"))
        add(node, "StorageClass", STORAGE_CLASS)
        owner = item.find("Owner")
        if fetch_owner and owner is not None:
            owner_node = add(node, "Owner")
            add(owner_node, "ID", text(owner, "ID"))
            add(owner_node, "DisplayName", text(owner, "DisplayName", text(owner, "ID")))
        last_key = key
    for item in s3_root.findall("CommonPrefixes"):
        prefix = text(item, "Prefix")
        add(add(root, "CommonPrefixes"), "Prefix", url_encode(prefix, encode))
        last_prefix = prefix
    return last_key, last_prefix


def _add_paging(root: ElementTree.Element, s3_root: ElementTree.Element,
                params: dict[str, str], encode: bool) -> bool:
    """The elements every OSS listing has (MaxKeys, Delimiter, EncodingType, IsTruncated);
    returns whether the page is truncated."""
    add(root, "MaxKeys", params.get("max-keys", "100"))
    add(root, "Delimiter", url_encode(params.get("delimiter", ""), encode))
    if encode:
        add(root, "EncodingType", "url")
    truncated = text(s3_root, "IsTruncated", "false").lower() == "true"
    add(root, "IsTruncated", "true" if truncated else "false")
    return truncated


def list_objects_v1(s3_body: bytes, bucket: str, params: dict[str, str]) -> bytes:
    s3_root = parse_s3(s3_body)
    encode = params.get("encoding-type") == "url"
    root = ElementTree.Element("ListBucketResult")
    add(root, "Name", bucket)
    add(root, "Prefix", url_encode(params.get("prefix", ""), encode))
    add(root, "Marker", url_encode(params.get("marker", ""), encode))
    truncated = _add_paging(root, s3_root, params, encode)
    next_marker_node = add(root, "NextMarker")
    last_key, last_prefix = _add_contents(root, s3_root, encode, fetch_owner=False)
    if truncated:
        # S3 sends NextMarker only with a delimiter; oss2 needs it on every truncated page.
        next_marker = text(s3_root, "NextMarker") or max(last_key, last_prefix)
        next_marker_node.text = url_encode(next_marker, encode)
    else:
        root.remove(next_marker_node)
    return to_xml(root)


def list_objects_v2(s3_body: bytes, bucket: str, params: dict[str, str]) -> bytes:
    s3_root = parse_s3(s3_body)
    encode = params.get("encoding-type") == "url"
    root = ElementTree.Element("ListBucketResult")
    add(root, "Name", bucket)
    add(root, "Prefix", url_encode(params.get("prefix", ""), encode))
    if "start-after" in params:
        add(root, "StartAfter", url_encode(params["start-after"], encode))
    if "continuation-token" in params:
        add(root, "ContinuationToken", params["continuation-token"])
    truncated = _add_paging(root, s3_root, params, encode)
    token_node = add(root, "NextContinuationToken")
    _add_contents(root, s3_root, encode, fetch_owner=params.get("fetch-owner") == "true")
    add(root, "KeyCount", len(root.findall("Contents")) + len(root.findall("CommonPrefixes")))
    next_token = text(s3_root, "NextContinuationToken")
    if truncated and next_token:
        token_node.text = wrap_token(next_token)
    else:
        root.remove(token_node)
    return to_xml(root)


def list_parts(s3_body: bytes) -> bytes:
    s3_root = parse_s3(s3_body)
    root = ElementTree.Element("ListPartsResult")
    for tag in ("Bucket", "Key", "UploadId"):
        add(root, tag, text(s3_root, tag))
    add(root, "PartNumberMarker", text(s3_root, "PartNumberMarker", "0"))
    next_marker = add(root, "NextPartNumberMarker")
    add(root, "MaxParts", text(s3_root, "MaxParts", "1000"))
    add(root, "IsTruncated", text(s3_root, "IsTruncated", "false").lower())
    last_part = "0"
    for part in s3_root.findall("Part"):
        node = add(root, "Part")
        last_part = text(part, "PartNumber")
        add(node, "PartNumber", last_part)
        add(node, "LastModified", oss_time(text(part, "LastModified")))
        add(node, "ETag", oss_etag(text(part, "ETag")))
        add(node, "Size", text(part, "Size", "0"))
    next_marker.text = text(s3_root, "NextPartNumberMarker") or last_part
    return to_xml(root)


def list_multipart_uploads(s3_body: bytes, params: dict[str, str]) -> bytes:
    s3_root = parse_s3(s3_body)
    encode = params.get("encoding-type") == "url"
    root = ElementTree.Element("ListMultipartUploadsResult")
    add(root, "Bucket", text(s3_root, "Bucket"))
    if encode:
        add(root, "EncodingType", "url")
    add(root, "KeyMarker", url_encode(params.get("key-marker", ""), encode))
    add(root, "UploadIdMarker", params.get("upload-id-marker", ""))
    next_key = add(root, "NextKeyMarker")
    next_upload = add(root, "NextUploadIdMarker")
    add(root, "Delimiter", url_encode(params.get("delimiter", ""), encode))
    add(root, "Prefix", url_encode(params.get("prefix", ""), encode))
    add(root, "MaxUploads", params.get("max-uploads", text(s3_root, "MaxUploads", "1000")))
    add(root, "IsTruncated", text(s3_root, "IsTruncated", "false").lower())
    last_key = last_upload = ""
    for upload in s3_root.findall("Upload"):
        node = add(root, "Upload")
        last_key, last_upload = text(upload, "Key"), text(upload, "UploadId")
        add(node, "Key", url_encode(last_key, encode))
        add(node, "UploadId", last_upload)
        add(node, "StorageClass", STORAGE_CLASS)
        add(node, "Initiated", oss_time(text(upload, "Initiated")))
    for item in s3_root.findall("CommonPrefixes"):
        add(add(root, "CommonPrefixes"), "Prefix", url_encode(text(item, "Prefix"), encode))
    next_key.text = url_encode(text(s3_root, "NextKeyMarker") or last_key, encode)
    next_upload.text = text(s3_root, "NextUploadIdMarker") or last_upload
    return to_xml(root)


def list_object_versions(s3_body: bytes, bucket: str, params: dict[str, str],
                         owner_id: str) -> bytes:
    """``ListVersionsResult``: ``Version`` and ``DeleteMarker`` entries in the server's order."""
    s3_root = parse_s3(s3_body)
    encode = params.get("encoding-type") == "url"
    root = ElementTree.Element("ListVersionsResult")
    add(root, "Name", bucket)
    add(root, "Prefix", url_encode(params.get("prefix", ""), encode))
    add(root, "KeyMarker", url_encode(params.get("key-marker", ""), encode))
    add(root, "VersionIdMarker", params.get("version-id-marker", ""))
    truncated = _add_paging(root, s3_root, params, encode)
    if truncated:
        add(root, "NextKeyMarker", url_encode(text(s3_root, "NextKeyMarker"), encode))
        add(root, "NextVersionIdMarker", text(s3_root, "NextVersionIdMarker"))
    for item in s3_root:
        if item.tag not in ("Version", "DeleteMarker"):
            continue
        node = add(root, item.tag)
        add(node, "Key", url_encode(text(item, "Key"), encode))
        add(node, "VersionId", text(item, "VersionId", "null"))
        add(node, "IsLatest", text(item, "IsLatest", "false").lower())
        add(node, "LastModified", oss_time(text(item, "LastModified")))
        if item.tag == "Version":
            etag = oss_etag(text(item, "ETag"))
            add(node, "ETag", etag)
            add(node, "Type", object_type(etag))
            add(node, "Size", text(item, "Size", "0"))
            add(node, "StorageClass", STORAGE_CLASS)
        owner = add(node, "Owner")
        add(owner, "ID", owner_id)
        add(owner, "DisplayName", owner_id)
    for item in s3_root.findall("CommonPrefixes"):
        add(add(root, "CommonPrefixes"), "Prefix", url_encode(text(item, "Prefix"), encode))
    return to_xml(root)


# -- single results -----------------------------------------------------------------------
def versioning_configuration(status: str | None) -> bytes:
    """``VersioningConfiguration`` (no ``Status`` for a bucket never versioned)."""
    root = ElementTree.Element("VersioningConfiguration")
    if status:
        add(root, "Status", status)
    return to_xml(root)


def initiate_multipart_upload(s3_body: bytes, params: dict[str, str]) -> bytes:
    s3_root = parse_s3(s3_body)
    encode = params.get("encoding-type") == "url"
    root = ElementTree.Element("InitiateMultipartUploadResult")
    add(root, "Bucket", text(s3_root, "Bucket"))
    add(root, "Key", url_encode(text(s3_root, "Key"), encode))
    add(root, "UploadId", text(s3_root, "UploadId"))
    if encode:
        add(root, "EncodingType", "url")
    return to_xml(root)


def complete_multipart_upload(s3_body: bytes, bucket: str, key: str,
                              params: dict[str, str]) -> tuple[bytes, str]:
    """The OSS result document and the ETag (which OSS also sends as a header)."""
    s3_root = parse_s3(s3_body)
    encode = params.get("encoding-type") == "url"
    etag = oss_etag(text(s3_root, "ETag"))
    root = ElementTree.Element("CompleteMultipartUploadResult")
    if encode:
        add(root, "EncodingType", "url")
    add(root, "Location", f"/{bucket}/{url_encode(key, True)}")
    add(root, "Bucket", bucket)
    add(root, "Key", url_encode(key, encode))
    add(root, "ETag", etag)
    return to_xml(root), etag


def complete_request_to_s3(oss_body: bytes) -> bytes:
    """Rewrite the client's part list with the lower-case ETags SeaweedFS compares."""
    oss_root = parse_s3(oss_body)
    root = ElementTree.Element("CompleteMultipartUpload")
    for part in oss_root.findall("Part"):
        node = add(root, "Part")
        add(node, "PartNumber", text(part, "PartNumber"))
        add(node, "ETag", s3_etag(text(part, "ETag")))
    return to_xml(root)


def copy_result(s3_body: bytes, tag: str) -> tuple[bytes, str]:
    """``CopyObjectResult`` / ``CopyPartResult`` with OSS time and ETag, and the ETag."""
    s3_root = parse_s3(s3_body)
    etag = oss_etag(text(s3_root, "ETag"))
    root = ElementTree.Element(tag)
    add(root, "ETag", etag)
    add(root, "LastModified", oss_time(text(s3_root, "LastModified")))
    return to_xml(root), etag


def delete_result(s3_body: bytes, params: dict[str, str], quiet: bool) -> bytes:
    s3_root = parse_s3(s3_body)
    encode = params.get("encoding-type") == "url"
    root = ElementTree.Element("DeleteResult")
    if encode:
        add(root, "EncodingType", "url")
    if not quiet:
        for deleted in s3_root.findall("Deleted"):
            add(add(root, "Deleted"), "Key", url_encode(text(deleted, "Key"), encode))
    return to_xml(root)


# -- synthesized bucket documents ----------------------------------------------------------
def bucket_creation_dates(s3_body: bytes) -> dict[str, str]:
    s3_root = parse_s3(s3_body)
    return {text(b, "Name"): oss_time(text(b, "CreationDate"))
            for b in s3_root.iter("Bucket")}


def list_buckets(dates: dict[str, str], params: dict[str, str], region: str, host: str,
                 owner_id: str) -> bytes:
    prefix, marker = params.get("prefix", ""), params.get("marker", "")
    max_keys = int(params.get("max-keys") or 100)
    names = sorted(n for n in dates if n.startswith(prefix) and n > marker)
    page, truncated = names[:max_keys], len(names) > max_keys
    root = ElementTree.Element("ListAllMyBucketsResult")
    if prefix:
        add(root, "Prefix", prefix)
    if marker:
        add(root, "Marker", marker)
    if "max-keys" in params:
        add(root, "MaxKeys", max_keys)
    add(root, "IsTruncated", "true" if truncated else "false")
    if truncated:
        add(root, "NextMarker", page[-1])
    owner = add(root, "Owner")
    add(owner, "ID", owner_id)
    add(owner, "DisplayName", owner_id)
    buckets = add(root, "Buckets")
    for name in page:
        node = add(buckets, "Bucket")
        add(node, "CreationDate", dates[name])
        add(node, "ExtranetEndpoint", host)
        add(node, "IntranetEndpoint", host)
        add(node, "Location", f"oss-{region}")
        add(node, "Name", name)
        add(node, "Region", region)
        add(node, "StorageClass", STORAGE_CLASS)
    return to_xml(root)


def bucket_info(name: str, creation_date: str, region: str, host: str, owner_id: str) -> bytes:
    root = ElementTree.Element("BucketInfo")
    bucket = add(root, "Bucket")
    add(bucket, "CreationDate", creation_date)
    add(bucket, "ExtranetEndpoint", host)
    add(bucket, "IntranetEndpoint", host)
    add(bucket, "Location", f"oss-{region}")
    add(bucket, "StorageClass", STORAGE_CLASS)
    add(bucket, "DataRedundancyType", "LRS")
    add(bucket, "Name", name)
    owner = add(bucket, "Owner")
    add(owner, "DisplayName", owner_id)
    add(owner, "ID", owner_id)
    add(add(bucket, "AccessControlList"), "Grant", "private")
    add(add(bucket, "ServerSideEncryptionRule"), "SSEAlgorithm", "None")
    return to_xml(root)


def bucket_location(region: str) -> bytes:
    root = ElementTree.Element("LocationConstraint")
    root.text = f"oss-{region}"
    return to_xml(root)


# -- headers ------------------------------------------------------------------------------
def version_header(upstream: dict[str, str]) -> dict[str, str]:
    """``x-oss-version-id`` from S3's ``x-amz-version-id`` (absent when unversioned)."""
    version_id = upstream.get("x-amz-version-id")
    return {"x-oss-version-id": version_id} if version_id else {}


def delete_response_headers(upstream: dict[str, str]) -> dict[str, str]:
    headers = version_header(upstream)
    if upstream.get("x-amz-delete-marker", "").lower() == "true":
        headers["x-oss-delete-marker"] = "true"
    return headers


def object_response_headers(upstream: dict[str, str]) -> dict[str, str]:
    """OSS object headers from SeaweedFS's: metadata renamed, ETag/Last-Modified normalised."""
    headers = {name: upstream[name] for name in PASSTHROUGH_RESPONSE_HEADERS
               if name in upstream}
    etag = oss_etag(upstream.get("ETag"))
    if etag:
        headers["ETag"] = etag
    if upstream.get("Last-Modified"):
        headers["Last-Modified"] = http_date(upstream["Last-Modified"])
    for name, value in upstream.items():
        if name.lower().startswith("x-amz-meta-"):
            headers["x-oss-meta-" + name[len("x-amz-meta-"):].lower()] = value
    headers["x-oss-object-type"] = object_type(etag)
    headers["x-oss-storage-class"] = STORAGE_CLASS
    headers.update(version_header(upstream))
    return headers
