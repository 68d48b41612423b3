"""Verification of OSS V1 and V4 signatures, in headers and in presigned URLs.

The signatures are recomputed with oss2's own signing code (its name-mangled
``__make_signature`` methods), so the gateway agrees with the SDK byte for byte. That code is
private, hence the ``oss2==2.19.1`` pin and :func:`self_test`, run at every gateway start.
"""

from __future__ import annotations

import calendar
import email.utils
import hmac
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import oss2
from oss2.auth import ProviderAuth, ProviderAuthV4
from oss2.credentials import Credentials
from requests.structures import CaseInsensitiveDict

from .errors import OSSServiceError, access_denied, signature_mismatch
from .routing import parse_path

V1_URL_PARAMS = ("OSSAccessKeyId", "Expires", "Signature")
V4_ALGORITHM = "OSS4-HMAC-SHA256"
MAX_CLOCK_SKEW_S = 15 * 60  # OSS refuses header-signed requests dated further off


@dataclass
class _SigningRequest:
    """The minimal request object oss2's signing code reads."""

    method: str
    headers: CaseInsensitiveDict
    params: dict[str, str]
    region: str | None = None
    product: str = "oss"
    cloudbox_id: str | None = None


@dataclass
class SignatureVerifier:
    """Checks that a request was signed with ``secret_key`` for ``access_key``, or with the
    secret of another identity added with :meth:`add_identity`."""

    access_key: str
    secret_key: str = field(repr=False)
    clock: object = time.time
    _secrets: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._secrets[self.access_key] = self.secret_key

    def add_identity(self, access_key: str, secret_key: str) -> None:
        self._secrets[access_key] = secret_key

    def remove_identity(self, access_key: str) -> None:
        self._secrets.pop(access_key, None)

    def verify(self, method: str, headers: dict[str, str], params: dict[str, str],
               bucket: str | None, key: str) -> str:
        """Return the access key if the request is authentic; raise
        :class:`OSSServiceError` (403) if not."""
        headers = CaseInsensitiveDict(headers)
        authorization = headers.get("authorization", "")
        if authorization.startswith("OSS "):
            return self._verify_v1_header(method, headers, params, bucket, key, authorization)
        if authorization.startswith(V4_ALGORITHM + " "):
            return self._verify_v4_header(method, headers, params, bucket, key, authorization)
        if "Signature" in params and "OSSAccessKeyId" in params:
            return self._verify_v1_url(method, headers, params, bucket, key)
        if params.get("x-oss-signature-version") == V4_ALGORITHM:
            return self._verify_v4_url(method, headers, params, bucket, key)
        raise access_denied("AccessDenied: anonymous access is not allowed")

    # -- V1 ------------------------------------------------------------------------------
    def _verify_v1_header(self, method, headers, params, bucket, key, authorization) -> str:
        access_key, _, signature = authorization[len("OSS "):].partition(":")
        access_key = access_key.strip()
        credentials = self._credentials(access_key)
        request = _SigningRequest(method, headers, params)
        self._check(signature.strip(), self._v1_signature(request, bucket, key, credentials))
        date = headers.get("x-oss-date") or headers.get("date", "")
        try:
            self._check_skew(email.utils.parsedate_to_datetime(date).timestamp())
        except (TypeError, ValueError):
            raise access_denied("Invalid or missing Date header") from None
        return access_key

    def _verify_v1_url(self, method, headers, params, bucket, key) -> str:
        access_key = params["OSSAccessKeyId"]
        credentials = self._credentials(access_key)
        try:
            expires = int(params["Expires"])
        except (KeyError, ValueError):
            raise access_denied("Invalid or missing Expires") from None
        signed_params = {k: v for k, v in params.items() if k not in V1_URL_PARAMS}
        signed_headers = CaseInsensitiveDict(headers)
        signed_headers["date"] = str(expires)
        signed_headers.pop("x-oss-date", None)  # the URL's Expires fills the DATE slot
        request = _SigningRequest(method, signed_headers, signed_params)
        self._check(params["Signature"], self._v1_signature(request, bucket, key, credentials))
        if expires < self.clock():
            raise access_denied("Request has expired.")
        return access_key

    @staticmethod
    def _v1_signature(request: _SigningRequest, bucket: str | None, key: str,
                      credentials: Credentials) -> str:
        return ProviderAuth(None)._ProviderAuth__make_signature(
            request, bucket, key, credentials)

    # -- V4 ------------------------------------------------------------------------------
    def _verify_v4_header(self, method, headers, params, bucket, key, authorization) -> str:
        fields = _parse_v4_authorization(authorization[len(V4_ALGORITHM) + 1:])
        date_time = headers.get("x-oss-date", "")
        credentials, region = self._check_credential(fields.get("Credential", ""), date_time)
        additional = _additional_headers(fields.get("AdditionalHeaders"))
        request = _SigningRequest(method, headers, params, region=region)
        self._check(fields.get("Signature", ""),
                    self._v4_signature(request, bucket, key, additional, date_time,
                                       credentials))
        self._check_skew(calendar.timegm(time.strptime(date_time, "%Y%m%dT%H%M%SZ")))
        return credentials.access_key_id

    def _verify_v4_url(self, method, headers, params, bucket, key) -> str:
        date_time = params.get("x-oss-date", "")
        credentials, region = self._check_credential(params.get("x-oss-credential", ""),
                                                     date_time)
        additional = _additional_headers(params.get("x-oss-additional-headers"))
        signed_params = {k: v for k, v in params.items() if k != "x-oss-signature"}
        request = _SigningRequest(method, CaseInsensitiveDict(headers), signed_params,
                                  region=region)
        self._check(params.get("x-oss-signature", ""),
                    self._v4_signature(request, bucket, key, additional, date_time,
                                       credentials))
        try:
            signed_at = calendar.timegm(time.strptime(date_time, "%Y%m%dT%H%M%SZ"))
            expires_s = int(params.get("x-oss-expires", ""))
        except ValueError:
            raise access_denied("Invalid x-oss-date or x-oss-expires") from None
        if signed_at + expires_s < self.clock():
            raise access_denied("Request has expired.")
        return credentials.access_key_id

    @staticmethod
    def _v4_signature(request, bucket, key, additional, date_time, credentials) -> str:
        return ProviderAuthV4(None)._ProviderAuthV4__make_signature(
            request, bucket, key, additional, credentials, date_time)

    def _check_credential(self, credential: str, date_time: str) -> tuple[Credentials, str]:
        """Check ``AK/yyyymmdd/region/oss/aliyun_v4_request``; return its identity's
        credentials and its region."""
        parts = credential.split("/")
        if len(parts) != 5 or parts[3] != "oss" or parts[4] != "aliyun_v4_request":
            raise access_denied("Invalid credential in the V4 signature")
        credentials = self._credentials(parts[0])
        if parts[1] != date_time[:8]:
            raise signature_mismatch()
        return credentials, parts[2]

    # -- shared --------------------------------------------------------------------------
    def _check_skew(self, signed_at: float) -> None:
        if abs(self.clock() - signed_at) > MAX_CLOCK_SKEW_S:
            raise OSSServiceError(403, "RequestTimeTooSkewed",
                                  "The difference between the request time and the current "
                                  "time is too large.")

    def _credentials(self, access_key: str) -> Credentials:
        secret_key = self._secrets.get(access_key)
        if secret_key is None:
            raise OSSServiceError(403, "InvalidAccessKeyId",
                                  "The OSS Access Key Id you provided does not exist in our "
                                  "records.")
        return Credentials(access_key, secret_key)

    @staticmethod
    def _check(given: str, expected: str) -> None:
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise signature_mismatch()


def _parse_v4_authorization(text: str) -> dict[str, str]:
    # oss2 separates the fields with ", ", alibabacloud-oss-v2 with ",".
    fields = {}
    for item in text.split(","):
        name, _, value = item.strip().partition("=")
        fields[name] = value
    return fields


def _additional_headers(value: str | None) -> list[str] | None:
    if not value:
        return None
    return sorted(h.strip().lower() for h in value.split(";") if h.strip())


def verify_url(verifier: SignatureVerifier, method: str, url: str,
               headers: dict[str, str] | None = None) -> None:
    """Verify a presigned path-style URL as the gateway would receive it."""
    parts = urlsplit(url)
    bucket, key = parse_path(parts.path)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    verifier.verify(method, headers or {}, params, bucket, key)


def self_test(region: str) -> None:
    """Sign with oss2's public API and check the verifier accepts it and rejects a bad secret.

    Guards the use of oss2's private signing methods: if a new oss2 changes them, the
    gateway refuses to start instead of accepting or rejecting everything.
    """
    access_key, secret_key = "SELFTESTAK", "self-test-secret"
    good = SignatureVerifier(access_key, secret_key)
    bad = SignatureVerifier(access_key, secret_key + "x")
    endpoint = "http://127.0.0.1:1"
    key = "self test/+%/\u4e2d\u6587"
    buckets = [
        oss2.Bucket(oss2.Auth(access_key, secret_key), endpoint, "self-test"),
        oss2.Bucket(oss2.AuthV4(access_key, secret_key), endpoint, "self-test", region=region),
    ]
    for bucket in buckets:
        url = bucket.sign_url("GET", key, 60, params={"uploadId": "abc"})
        verify_url(good, "GET", url)
        try:
            verify_url(bad, "GET", url)
        except OSSServiceError:
            continue
        raise RuntimeError("OSS gateway signing self-test failed: a wrong secret was accepted")
