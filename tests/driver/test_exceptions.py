"""The exception table: builtin compatibility, code/status mapping, context, pickling."""

from __future__ import annotations

import pickle

import pytest

from fsspec_unified import exceptions
from fsspec_unified.driver.exceptions import ErrorDetails, error_from_details


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (exceptions.ObjectNotFoundError, FileNotFoundError),
        (exceptions.BucketNotFoundError, FileNotFoundError),
        (exceptions.AuthenticationError, PermissionError),
        (exceptions.ConnectionError, ConnectionError),
        (exceptions.RequestTimeoutError, TimeoutError),
        (exceptions.BucketAlreadyExistsError, FileExistsError),
        (exceptions.InvalidBucketNameError, ValueError),
        (exceptions.ConfigurationError, ValueError),
        (exceptions.UploadError, exceptions.TransferError),
        (exceptions.ServiceError, OSError),
    ],
)
def test_each_error_is_also_the_matching_builtin(cls, builtin):
    assert issubclass(cls, exceptions.OSSError)
    assert issubclass(cls, builtin)


@pytest.mark.parametrize(
    ("code", "status", "key", "expected"),
    [
        ("NoSuchKey", 404, "k", exceptions.ObjectNotFoundError),
        ("404", 404, "k", exceptions.ObjectNotFoundError),
        ("404", 404, None, exceptions.BucketNotFoundError),
        ("SignatureDoesNotMatch", 403, None, exceptions.AuthenticationError),
        ("SlowDown", 503, "k", exceptions.ThrottlingError),
        ("InternalError", 500, "k", exceptions.ServiceError),
        (None, 502, "k", exceptions.ServiceError),
        ("BadDigest", 400, "k", exceptions.IntegrityError),
        ("SomethingNew", 409, "k", exceptions.OSSError),
    ],
)
def test_codes_and_statuses_map_to_classes(code, status, key, expected):
    error = error_from_details(
        ErrorDetails("boom", code=code, status=status, request_id="RID"),
        operation="get_object", bucket="bkt", key=key,
    )
    assert type(error) is expected
    assert (error.code, error.status, error.request_id) == (code, status, "RID")


def test_message_names_operation_target_code_and_request_id():
    error = exceptions.ObjectNotFoundError(
        "gone", code="NoSuchKey", status=404, request_id="R1", operation="get_object",
        bucket="bkt", key="a/b",
    )
    assert str(error) == "get_object on bkt/a/b: gone [NoSuchKey, HTTP 404] (request id R1)"


def test_errors_survive_pickling_with_their_context():
    error = exceptions.AuthenticationError(
        "denied", code="AccessDenied", status=403, operation="list_buckets"
    )
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is exceptions.AuthenticationError
    assert (clone.code, clone.status, str(clone)) == ("AccessDenied", 403, str(error))
