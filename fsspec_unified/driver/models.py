"""Configuration and transfer-state models: ``OSSConfig`` and ``TransferProgress``.

``OSSConfig`` validates itself on construction so that a typo in an endpoint or region fails
at once with a message naming the field, not later as an obscure connection error. The secret
key and session token never appear in ``repr``/``str`` (and so never in logs that print a
config).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from .exceptions import ConfigurationError

PROVIDERS = ("s3", "minio", "oss")
PROVIDER_ALIASES = {"aws": "s3", "aliyun": "oss"}
ENV_PREFIX = "FSSPEC_UNIFIED_"
SIGNATURE_VERSIONS = ("v1", "v4")

_REGION_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*[a-z0-9]")
_HOST_PATTERN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def canonical_provider(name: str) -> str:
    """Return ``s3``, ``minio`` or ``oss`` for a provider name or alias (case-insensitive)."""
    canonical = PROVIDER_ALIASES.get(name.lower(), name.lower())
    if canonical not in PROVIDERS:
        known = ", ".join([*PROVIDERS, *PROVIDER_ALIASES])
        raise ConfigurationError(f"provider: unknown provider {name!r}; expected one of {known}")
    return canonical


@dataclass(frozen=True)
class OSSConfig:
    """How to reach one object store.

    ``endpoint`` is a URL (``http://127.0.0.1:9000``) or a bare ``host[:port]``; with a scheme it
    decides ``secure``, without one ``secure`` decides the scheme (default HTTPS). ``None`` means
    the provider's public endpoint (AWS only; MinIO and OSS need one). ``bucket_name`` is the
    default bucket for callers that work with one bucket; driver methods always take the bucket
    explicitly. ``max_retries`` is the number of extra attempts the SDK makes for a failed
    request (connection errors, 5xx, throttling); ``max_pool_connections`` sizes the client's
    connection pool and should be at least the transfer concurrency.

    Credentials, one way at most: ``access_key``/``secret_key`` (and ``session_token``);
    ``credentials_provider``, a callable returning temporary keys that is called again before
    they expire (see :mod:`.credentials`); ``anonymous=True`` for unsigned requests. With none
    of them, each provider's usual sources apply: boto3's chain for ``s3`` (environment,
    ``aws_profile`` or the default profile of ``~/.aws``, SSO, instance roles),
    ``OSS_ACCESS_KEY_ID``/``OSS_ACCESS_KEY_SECRET``/``OSS_SESSION_TOKEN`` (or the
    ``ALIBABA_CLOUD_*`` names) for ``oss``, ``MINIO_ACCESS_KEY``/``MINIO_SECRET_KEY`` or the
    ``AWS_*`` variables for ``minio``; with nothing found, requests go unsigned.
    """

    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    bucket_name: str | None = None
    region: str | None = None
    secure: bool | None = None
    proxy: str | None = None
    provider: str = "s3"
    session_token: str | None = field(default=None, repr=False)
    signature_version: str = "v4"
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_retries: int = 3
    max_pool_connections: int = 16
    credentials_provider: Callable[[], Any] | None = field(default=None, repr=False,
                                                           compare=False)
    anonymous: bool = False
    aws_profile: str | None = None

    def __post_init__(self) -> None:
        set_field = object.__setattr__
        set_field(self, "provider", canonical_provider(self.provider))
        if self.endpoint is not None:
            scheme, host, port = _parse_endpoint(self.endpoint)
            if scheme is not None:
                if self.secure is not None and self.secure != (scheme == "https"):
                    raise ConfigurationError(
                        f"secure: secure={self.secure} contradicts the endpoint scheme {scheme}://"
                    )
                set_field(self, "secure", scheme == "https")
            set_field(self, "endpoint", f"{host}:{port}" if port else host)
        if self.secure is None:
            set_field(self, "secure", True)
        if self.region is not None and not _REGION_PATTERN.fullmatch(self.region):
            raise ConfigurationError(
                f"region: {self.region!r} is not a region name (lower-case letters, digits, '-')"
            )
        if self.proxy is not None:
            proxy = urlsplit(self.proxy)
            if proxy.scheme not in ("http", "https") or not proxy.hostname:
                raise ConfigurationError(f"proxy: {self.proxy!r} is not an http(s):// URL")
        if (self.access_key is None) != (self.secret_key is None):
            raise ConfigurationError(
                "access_key/secret_key: give both or neither (neither means the provider's "
                "usual credential sources)"
            )
        if self.session_token is not None and self.access_key is None:
            raise ConfigurationError("session_token: needs access_key and secret_key")
        given = [name for name, value in (
            ("access_key", self.access_key), ("credentials_provider", self.credentials_provider),
            ("anonymous", self.anonymous or None)) if value is not None]
        if len(given) > 1:
            raise ConfigurationError(f"{' and '.join(given)}: give only one way to authenticate")
        if self.credentials_provider is not None and not callable(self.credentials_provider):
            raise ConfigurationError("credentials_provider: must be callable")
        if not isinstance(self.anonymous, bool):
            raise ConfigurationError("anonymous: must be True or False")
        for name in ("connect_timeout_s", "read_timeout_s"):
            value = getattr(self, name)
            if not (_is_number(value) and value > 0):
                raise ConfigurationError(f"{name}: must be a positive number of seconds")
        if self.signature_version not in SIGNATURE_VERSIONS:
            raise ConfigurationError(
                f"signature_version: {self.signature_version!r} is not one of "
                f"{', '.join(SIGNATURE_VERSIONS)}"
            )
        if not (_is_whole(self.max_retries) and self.max_retries >= 0):
            raise ConfigurationError("max_retries: must be a whole number, 0 or more")
        if not (_is_whole(self.max_pool_connections) and self.max_pool_connections >= 1):
            raise ConfigurationError("max_pool_connections: must be a whole number, 1 or more")

    @property
    def endpoint_url(self) -> str | None:
        """The endpoint with its scheme (``https://host:port``), or ``None`` for the default."""
        if self.endpoint is None:
            return None
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> OSSConfig:
        """Build from a mapping of field names; strings are converted to the field's type.

        Unknown names are rejected (naming them), so a misspelt option never goes unnoticed.
        """
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigurationError(
                f"unknown configuration option(s) {', '.join(unknown)}; "
                f"known: {', '.join(known)}"
            )
        converted = {
            name: coerce_value(name, str(known[name].type), value) for name, value in values.items()
        }
        return cls(**converted)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, prefix: str = ENV_PREFIX
    ) -> OSSConfig:
        """Build from ``FSSPEC_UNIFIED_<FIELD>`` variables (``FSSPEC_UNIFIED_ENDPOINT``, ...)."""
        environ = os.environ if environ is None else environ
        values = {
            f.name: environ[prefix + f.name.upper()]
            for f in fields(cls)
            if prefix + f.name.upper() in environ
        }
        return cls.from_dict(values)


def _is_whole(value: object) -> bool:
    """An ``int`` that is not a ``bool`` (``True`` would otherwise pass as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    """An ``int`` or ``float`` that is not a ``bool`` (a NaN then fails the ``> 0`` check)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _parse_endpoint(endpoint: str) -> tuple[str | None, str, int | None]:
    """Split an endpoint into (scheme or None, host, port or None), rejecting malformed ones."""
    text = endpoint.strip()
    has_scheme = "://" in text
    parts = urlsplit(text if has_scheme else f"//{text}")
    if has_scheme and parts.scheme not in ("http", "https"):
        raise ConfigurationError(
            f"endpoint: {endpoint!r} has scheme {parts.scheme!r}; use http:// or https://"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ConfigurationError(
            f"endpoint: {endpoint!r} must be scheme://host[:port] with no path, query or user"
        )
    host = parts.netloc.rsplit("@", 1)[-1]
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"endpoint: {endpoint!r} has an invalid port") from exc
    if port is not None:
        if not 1 <= port <= 65535:
            raise ConfigurationError(f"endpoint: port {port} is outside 1-65535")
        host = host[: host.rfind(":")]
    if not _HOST_PATTERN.fullmatch(host):
        raise ConfigurationError(f"endpoint: {endpoint!r} does not name a host")
    return (parts.scheme if has_scheme else None), host, port


def coerce_value(name: str, type_name: str, value: Any) -> Any:
    """Convert a string value (from the environment or a URL query) to the field's type."""
    if not isinstance(value, str) or type_name.startswith("str"):
        return value
    try:
        if type_name.startswith("bool"):
            lowered = value.strip().lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError(value)
        if type_name.startswith("int"):
            return int(value)
        if type_name.startswith("float"):
            return float(value)
    except ValueError as exc:
        expected = type_name.split(" ")[0]
        raise ConfigurationError(f"{name}: {value!r} is not a valid {expected}") from exc
    return value


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class TransferProgress:
    """State of one transfer, persisted as JSON so that an interrupted transfer can resume.

    ``parts_completed`` maps part number to the part's ETag (an identifier, never a checksum).
    ``part_md5s`` maps part number to the base64 MD5 of the local bytes that were sent for it
    (the Content-MD5 the server verified): a resumed upload re-reads each part and keeps the
    server's copy only if the local bytes still have that digest. ``checksum`` is the
    whole-object digest when known. ``temp_file`` is the partial local file of a download. The
    identity fields (``kind``, ``provider``, ``endpoint``, ``bucket``, ``key``, ``local_path``,
    ``local_mtime_ns``, ``remote_etag``, ``version_id``) let a resumed transfer check that the
    record is its own. The record holds no credentials: it is safe to write to disk.
    """

    total_size: int
    transferred: int = 0
    parts_completed: dict[int, str] = field(default_factory=dict)
    start_time: datetime = field(default_factory=utc_now)
    last_update: datetime = field(default_factory=utc_now)
    checksum: str | None = None
    temp_file: str | None = None
    kind: str = "upload"
    provider: str | None = None
    endpoint: str | None = None
    bucket: str | None = None
    key: str | None = None
    local_path: str | None = None
    local_mtime_ns: int | None = None
    remote_etag: str | None = None
    upload_id: str | None = None
    part_size: int | None = None
    part_md5s: dict[int, str] = field(default_factory=dict)
    version_id: str | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["start_time"] = self.start_time.isoformat()
        data["last_update"] = self.last_update.isoformat()
        data["parts_completed"] = {str(n): etag for n, etag in self.parts_completed.items()}
        data["part_md5s"] = {str(n): digest for n, digest in self.part_md5s.items()}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TransferProgress:
        """Parse :meth:`to_json` output; raises ``ValueError`` for anything else."""
        try:
            data = json.loads(text)
            data["start_time"] = datetime.fromisoformat(data["start_time"])
            data["last_update"] = datetime.fromisoformat(data["last_update"])
            data["parts_completed"] = {
                int(n): str(etag) for n, etag in data["parts_completed"].items()
            }
            data["part_md5s"] = {
                int(n): str(digest) for n, digest in data.get("part_md5s", {}).items()
            }
            return cls(**data)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a transfer progress record: {exc}") from exc
