"""OSS error responses: the exception the gateway raises, its XML body, and S3 -> OSS codes.

oss2 picks an exception class from the ``(HTTP status, Code)`` pair of an error, so every
error the gateway sends uses a pair oss2 knows (see ``oss2.exceptions``). Errors coming back
from SeaweedFS are translated here, in one table.
"""

from __future__ import annotations

import base64
from xml.etree import ElementTree

# S3 code -> (OSS status, OSS code). Codes absent here keep their status and code.
_S3_TO_OSS: dict[str, tuple[int, str]] = {
    "NoSuchBucket": (404, "NoSuchBucket"),
    "NoSuchKey": (404, "NoSuchKey"),
    "NoSuchUpload": (404, "NoSuchUpload"),
    "BucketNotEmpty": (409, "BucketNotEmpty"),
    "BucketAlreadyExists": (409, "BucketAlreadyExists"),
    "BadDigest": (400, "InvalidDigest"),
    "InvalidDigest": (400, "InvalidDigest"),
    "InvalidRange": (416, "InvalidRange"),
    "EntityTooSmall": (400, "EntityTooSmall"),
    "InvalidPart": (400, "InvalidPart"),
    "InvalidPartOrder": (400, "InvalidPartOrder"),
    "MalformedXML": (400, "MalformedXML"),
    "InvalidArgument": (400, "InvalidArgument"),
    "InvalidBucketName": (400, "InvalidBucketName"),
    "InvalidRequest": (400, "InvalidRequest"),
    "PreconditionFailed": (412, "PreconditionFailed"),
    "AccessDenied": (403, "AccessDenied"),
    # The gateway signs every upstream request itself: a signature error there is ours.
    "SignatureDoesNotMatch": (500, "InternalError"),
    "InvalidAccessKeyId": (500, "InternalError"),
}

# Codes SeaweedFS sends without a body (HEAD) are guessed from the status.
_STATUS_TO_S3_CODE = {
    304: "NotModified",
    400: "InvalidArgument",
    403: "AccessDenied",
    404: "NoSuchKey",
    409: "Conflict",
    412: "PreconditionFailed",
    416: "InvalidRange",
}


class OSSServiceError(Exception):
    """An error the gateway answers with, in OSS terms (status, code, message, extra fields)."""

    def __init__(self, status: int, code: str, message: str = "", **fields: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message or code
        self.fields = fields  # extra <Error> children, e.g. BucketName, Key

    def body(self, request_id: str) -> bytes:
        """The ``<Error>`` XML document (no namespace: oss2 looks tags up without one)."""
        root = ElementTree.Element("Error")
        children = {"Code": self.code, "Message": self.message, "RequestId": request_id,
                    "HostId": "127.0.0.1", "EC": self.ec, **self.fields}
        for tag, text in children.items():
            ElementTree.SubElement(root, tag).text = text
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root)

    def head_header(self, request_id: str) -> str:
        """``x-oss-err``: a HEAD error has no body, so OSS sends it base64-encoded in a header."""
        return base64.b64encode(self.body(request_id)).decode("ascii")

    @property
    def ec(self) -> str:
        """An ``x-oss-ec``-like error code; real OSS uses a table, a stable stand-in is enough."""
        return f"0000-{self.status:08d}"


def from_upstream(status: int, body: bytes, *, forbid_overwrite: bool = False,
                  **fields: str) -> OSSServiceError:
    """Translate a SeaweedFS (S3) error response into the OSS error oss2 expects."""
    code, message = _parse_s3_error(body)
    if not code:
        code = _STATUS_TO_S3_CODE.get(status, "InternalError")
    if forbid_overwrite and status == 412:
        return OSSServiceError(409, "FileAlreadyExists",
                               "The object you specified already exists and can not be "
                               "overwritten.", **fields)
    oss_status, oss_code = _S3_TO_OSS.get(code, (status, code))
    return OSSServiceError(oss_status, oss_code, message, **fields)


def _parse_s3_error(body: bytes) -> tuple[str, str]:
    if not body:
        return "", ""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return "", ""
    values = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in root}
    return values.get("Code", ""), values.get("Message", "")


def access_denied(message: str) -> OSSServiceError:
    return OSSServiceError(403, "AccessDenied", message)


def signature_mismatch() -> OSSServiceError:
    return OSSServiceError(403, "SignatureDoesNotMatch",
                           "The request signature we calculated does not match the signature "
                           "you provided. Check your key and signing method.")
