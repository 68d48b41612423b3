"""HTTP headers that carry an object's content type and user metadata, for the backends whose
SDK takes raw headers (minio, oss2); boto3 builds its own from ``Metadata=``.

Metadata must be US-ASCII: S3 and OSS keep only that intact in headers, and anything else
would be sent mangled (failing the signature check) or not at all, so it is refused before
any request.
"""

from __future__ import annotations

from collections.abc import Mapping

from .exceptions import InvalidArgumentError


def write_headers(
    prefix: str, content_type: str | None, metadata: Mapping[str, str]
) -> dict[str, str]:
    """Headers setting ``content_type`` and ``metadata`` (names under ``prefix``)."""
    headers: dict[str, str] = {}
    for name, value in metadata.items():
        if not (name.isascii() and value.isascii()):
            raise InvalidArgumentError(f"metadata {name!r}: {value!r} is not US-ASCII")
        headers[prefix + name] = value
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def user_metadata(prefix: str, headers: Mapping[str, str]) -> dict[str, str]:
    """User metadata from response headers: ``prefix`` stripped, names in lower case."""
    return {
        name.lower()[len(prefix):]: value
        for name, value in headers.items()
        if name.lower().startswith(prefix)
    }
