"""The exception hierarchy every driver raises, and the one table that maps provider codes to it.

Each class also subclasses the builtin that generic Python code catches, so code written for
local files keeps working: a missing object is a ``FileNotFoundError``, bad credentials are a
``PermissionError``, an unreachable endpoint is a ``ConnectionError``, bad input is a
``ValueError``. Every error carries the provider's error code, the HTTP status, the request id,
the operation, bucket and key; the SDK's own exception stays reachable as ``__cause__``.

Drivers never build these classes by hand: they describe an SDK error as an
:class:`ErrorDetails` and :func:`error_from_details` picks the class from the code (or, when the
provider sent no code, from the HTTP status). Unknown codes become a plain :class:`OSSError` with
the code preserved, never a silently different type.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass


class OSSError(OSError):
    """Base of every error raised by fsspec-unified.

    Attributes: ``code`` (provider error code such as ``NoSuchKey``), ``status`` (HTTP status),
    ``request_id`` (for the provider's support), ``operation`` (driver method name),
    ``bucket`` and ``key`` (what was being worked on). All may be ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        operation: str | None = None,
        bucket: str | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id
        self.operation = operation
        self.bucket = bucket
        self.key = key

    def __str__(self) -> str:
        where = ""
        if self.bucket:
            where = f" on {self.bucket}/{self.key}" if self.key else f" on bucket {self.bucket}"
        head = f"{self.operation}{where}: " if self.operation else ""
        tags = [t for t in (self.code, f"HTTP {self.status}" if self.status else None) if t]
        tail = f" [{', '.join(tags)}]" if tags else ""
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"{head}{self.message}{tail}{rid}"

    def __reduce__(self):
        # Keyword-only constructor arguments do not survive the default exception pickling,
        # and these errors cross process boundaries (dask workers, process pools).
        return (_rebuild, (type(self), self.message, self._context()))

    def _context(self) -> dict:
        return {
            "code": self.code,
            "status": self.status,
            "request_id": self.request_id,
            "operation": self.operation,
            "bucket": self.bucket,
            "key": self.key,
        }


def _rebuild(cls: type[OSSError], message: str, context: dict) -> OSSError:
    return cls(message, **context)


class ConnectionError(OSSError, builtins.ConnectionError):  # shadows the builtin by design
    """The endpoint could not be reached, or the connection broke mid-request."""


class RequestTimeoutError(ConnectionError, builtins.TimeoutError):
    """A connect or read timeout expired."""


class AuthenticationError(OSSError, PermissionError):
    """Credentials were rejected or do not grant the operation (wrong secret, access denied)."""


class ObjectNotFoundError(OSSError, FileNotFoundError):
    """The key does not exist in the bucket."""


class BucketNotFoundError(OSSError, FileNotFoundError):
    """The bucket does not exist."""


class UploadNotFoundError(OSSError, FileNotFoundError):
    """The multipart upload id is unknown to the server (completed, aborted or expired)."""


class PolicyNotFoundError(OSSError, FileNotFoundError):
    """The bucket has no policy."""


class PreconditionFailedError(OSSError):
    """A conditional request's condition did not hold (HTTP 412)."""


class ObjectExistsError(PreconditionFailedError, FileExistsError):
    """A write that must not overwrite found the key taken."""


class ConcurrentModificationError(PreconditionFailedError):
    """A read or a part copy pinned to an ETag (``if_match``) found the object replaced or
    changed meanwhile.

    Raised instead of mixing bytes of two versions of an object; reopen the object (or read
    the version you want by ``version_id``) to continue.
    """


class BucketAlreadyExistsError(OSSError, FileExistsError):
    """A bucket of that name exists already (owned by you or by someone else)."""


class BucketNotEmptyError(OSSError):
    """The bucket still holds objects (or unfinished uploads) and cannot be deleted."""


class InvalidArgumentError(OSSError, ValueError):
    """The request was malformed: rejected by us before sending it, or by the server."""


class InvalidBucketNameError(InvalidArgumentError):
    """The bucket name breaks the provider's naming rules."""


class InvalidKeyError(InvalidArgumentError):
    """The object key is empty, too long or otherwise unusable."""


class InvalidRangeError(InvalidArgumentError):
    """A byte range was negative, inverted or not satisfiable."""


class ConfigurationError(InvalidArgumentError):
    """A configuration value (``OSSConfig`` field, storage option) is missing or malformed."""


class ProfileNotFoundError(ConfigurationError, LookupError):
    """No profile of that name in the profiles file."""


class IntegrityError(OSSError):
    """Data failed a checksum: the server rejected a body whose digest did not match."""


class ServiceError(OSSError):
    """The server failed (HTTP 5xx); usually worth retrying."""


class ThrottlingError(ServiceError):
    """The server asked the client to slow down (SlowDown, 503, 429)."""


class TransferError(OSSError):
    """A multi-request transfer (upload or download) did not finish."""


class TransferCancelledError(TransferError):
    """The transfer was cancelled by its caller."""


class UploadError(TransferError):
    """An upload did not finish or its result could not be verified."""


class DownloadError(TransferError):
    """A download did not finish or its result could not be verified."""


class TransferInProgressError(TransferError):
    """Another transfer (process or thread) holds this transfer's checkpoint lock.

    ``holder_pid`` is the pid recorded by the holder, when it could be read.
    """

    def __init__(self, message: str, *, holder_pid: int | None = None, **context) -> None:
        super().__init__(message, **context)
        self.holder_pid = holder_pid


class UnsafeLocalPathError(InvalidArgumentError):
    """A remote key would be written outside the local destination directory."""


_CLASS_BY_CODE: dict[str, type[OSSError]] = {
    "NoSuchKey": ObjectNotFoundError,
    "NoSuchVersion": ObjectNotFoundError,
    "NoSuchBucket": BucketNotFoundError,
    "NoSuchUpload": UploadNotFoundError,
    "NoSuchBucketPolicy": PolicyNotFoundError,
    "AccessDenied": AuthenticationError,
    "AllAccessDisabled": AuthenticationError,
    "InvalidAccessKeyId": AuthenticationError,
    "SignatureDoesNotMatch": AuthenticationError,
    "ExpiredToken": AuthenticationError,
    "InvalidToken": AuthenticationError,
    "TokenRefreshRequired": AuthenticationError,
    "RequestTimeTooSkewed": AuthenticationError,
    "BucketAlreadyExists": BucketAlreadyExistsError,
    "BucketAlreadyOwnedByYou": BucketAlreadyExistsError,
    "BucketNotEmpty": BucketNotEmptyError,
    "PreconditionFailed": PreconditionFailedError,
    "FileAlreadyExists": ObjectExistsError,
    "InvalidBucketName": InvalidBucketNameError,
    "KeyTooLongError": InvalidKeyError,
    "InvalidObjectName": InvalidKeyError,
    "InvalidRange": InvalidRangeError,
    "InvalidArgument": InvalidArgumentError,
    "InvalidRequest": InvalidArgumentError,
    "MalformedXML": InvalidArgumentError,
    "MalformedPolicy": InvalidArgumentError,
    "EntityTooSmall": InvalidArgumentError,
    "EntityTooLarge": InvalidArgumentError,
    "InvalidPart": InvalidArgumentError,
    "InvalidPartOrder": InvalidArgumentError,
    "BadDigest": IntegrityError,
    "InvalidDigest": IntegrityError,
    "XAmzContentSHA256Mismatch": IntegrityError,
    "RequestTimeout": RequestTimeoutError,
    "SlowDown": ThrottlingError,
    "Throttling": ThrottlingError,
    "ThrottlingException": ThrottlingError,
    "RequestLimitExceeded": ThrottlingError,
    "TooManyRequests": ThrottlingError,
    "ServiceUnavailable": ThrottlingError,
    "InternalError": ServiceError,
}


@dataclass(frozen=True)
class ErrorDetails:
    """What a driver could read from an SDK error, before it becomes an :class:`OSSError`.

    ``error_class`` forces the class (drivers use it for transport failures, which have no
    provider code); otherwise the class follows from ``code`` and then ``status``.
    """

    message: str
    code: str | None = None
    status: int | None = None
    request_id: str | None = None
    error_class: type[OSSError] | None = None


def _class_for_status(status: int | None, key: str | None) -> type[OSSError]:
    if status is None:
        return OSSError
    if status == 404:
        return ObjectNotFoundError if key else BucketNotFoundError
    if status in (401, 403):
        return AuthenticationError
    if status == 412:
        return PreconditionFailedError
    if status == 416:
        return InvalidRangeError
    if status in (429, 503):
        return ThrottlingError
    if status >= 500:
        return ServiceError
    if status == 400:
        return InvalidArgumentError
    return OSSError


def error_from_details(
    details: ErrorDetails,
    *,
    operation: str | None = None,
    bucket: str | None = None,
    key: str | None = None,
) -> OSSError:
    """Build the right :class:`OSSError` subclass for an SDK error described by ``details``."""
    cls = details.error_class or _CLASS_BY_CODE.get(details.code or "")
    if cls is None:
        cls = _class_for_status(details.status, key)
    return cls(
        details.message,
        code=details.code,
        status=details.status,
        request_id=details.request_id,
        operation=operation,
        bucket=bucket,
        key=key,
    )
