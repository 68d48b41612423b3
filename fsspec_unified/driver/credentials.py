"""Credentials that change while a client lives: temporary keys refreshed before they expire.

A ``credentials_provider`` (storage option, ``OSSConfig`` field) is any callable returning the
current credentials: a :class:`Credentials`, a ``(key, secret, token, expiry)`` tuple, or a
mapping with ``access_key``/``secret_key``/``token``/``expiry`` (the AWS ``credential_process``
names ``AccessKeyId``/``SecretAccessKey``/``SessionToken``/``Expiration`` and Aliyun STS's
``AccessKeySecret``/``SecurityToken`` are accepted too). :class:`RefreshingCredentials` calls
it once, then again only when the keys come within :func:`refresh_margin_s` of their expiry,
so a long job never signs with keys about to lapse (s3fs keeps the keys it started with). Each
backend reads :meth:`RefreshingCredentials.current` when it signs a request, through the
SDK's own hook (a botocore credentials object, a minio ``Provider``, an oss2 credentials
provider).

:class:`CommandCredentialsProvider` runs a command that prints such a mapping as JSON (what
``aws configure export-credentials``, an AWS ``credential_process`` or ``aliyun sts
AssumeRole`` print), and :func:`environment_credentials` reads each provider's usual
variables. This module imports no SDK.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .exceptions import AuthenticationError, ConfigurationError

if TYPE_CHECKING:
    from .models import OSSConfig

#: Refresh at most this long before expiry (AWS SDKs use 5-15 minutes) ...
MAX_REFRESH_MARGIN_S = 300.0
#: ... and at most this fraction of the keys' lifetime, so keys that live a minute are still
#: used for most of it.
REFRESH_MARGIN_FRACTION = 0.5
_COMMAND_TIMEOUT_S = 60.0
#: After a failed refresh, valid keys are kept and the provider asked again this much later.
_RETRY_FAILED_REFRESH_S = 5.0

logger = logging.getLogger("fsspec_unified.credentials")

#: Each provider's usual variables: (access key, secret, session token), first found wins.
ENVIRONMENT_VARIABLES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "oss": (
        ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN"),
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
         "ALIBABA_CLOUD_SECURITY_TOKEN"),
    ),
    "minio": (
        ("MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_SESSION_TOKEN"),
        ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_SESSION_TOKEN"),
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
    ),
    # s3 reads boto3's whole chain (environment, ~/.aws profiles, SSO, instance roles) itself.
    "s3": (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),),
}

_FIELD_NAMES = {
    "access_key": ("access_key", "AccessKeyId", "access_key_id", "key"),
    "secret_key": ("secret_key", "SecretAccessKey", "AccessKeySecret", "access_key_secret",
                   "secret"),
    "token": ("token", "session_token", "SessionToken", "SecurityToken", "security_token"),
    "expiry": ("expiry", "expiry_time", "Expiration", "expiration"),
}


@dataclass(frozen=True)
class Credentials:
    """One set of keys; ``expiry`` (aware ``datetime``) is ``None`` for keys that do not
    expire. The secret and token never appear in ``repr``."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    expiry: datetime | None = None

    def expires_in_s(self, now: float | None = None) -> float:
        """Seconds until expiry (infinite without one)."""
        if self.expiry is None:
            return float("inf")
        return self.expiry.timestamp() - (time.time() if now is None else now)

    def current(self) -> Credentials:
        """Itself: static keys answer the same call as :class:`RefreshingCredentials`."""
        return self

    @classmethod
    def coerce(cls, value: Any) -> Credentials:
        """A :class:`Credentials` from what a provider returned (see the module docstring)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            inner = value.get("Credentials")
            source = inner if isinstance(inner, Mapping) else value
            picked = {name: next((source[a] for a in aliases if source.get(a) is not None), None)
                      for name, aliases in _FIELD_NAMES.items()}
        elif isinstance(value, (tuple, list)) and len(value) in (2, 3, 4):
            picked = dict(zip(("access_key", "secret_key", "token", "expiry"), value, strict=False))
        else:
            raise ConfigurationError(
                "credentials_provider: must return Credentials, a (key, secret, token, expiry) "
                f"tuple or a mapping, not {type(value).__name__}")
        if not isinstance(picked.get("access_key"), str) or not isinstance(
                picked.get("secret_key"), str) or not picked["access_key"]:
            raise ConfigurationError("credentials_provider: returned no access key and secret")
        token = picked.get("token") or None
        if token is not None and not isinstance(token, str):
            raise ConfigurationError("credentials_provider: the token must be a string")
        return cls(picked["access_key"], picked["secret_key"], token,
                   _parse_expiry(picked.get("expiry")))


def _parse_expiry(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, str):
        try:
            return _parse_expiry(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            pass
    raise ConfigurationError(f"credentials_provider: expiry {value!r} is not a time")


def refresh_margin_s(lifetime_s: float) -> float:
    """How long before expiry keys that lived ``lifetime_s`` when fetched are replaced."""
    return min(MAX_REFRESH_MARGIN_S, max(lifetime_s, 0.0) * REFRESH_MARGIN_FRACTION)


class RefreshingCredentials:
    """The current keys of a ``credentials_provider``, fetched again before they expire.

    Thread-safe: one thread refreshes while the others wait for the new keys. A provider that
    fails while the current keys are still valid is logged and asked again a little later;
    once they are (nearly) expired, the failure raises
    :class:`~.exceptions.AuthenticationError` naming its cause.
    """

    def __init__(self, provider: Callable[[], Any]) -> None:
        if not callable(provider):
            raise ConfigurationError("credentials_provider: must be callable")
        self._provider = provider
        self._lock = threading.Lock()
        self._current: Credentials | None = None
        self._refresh_at = 0.0
        self.refreshes = 0  # how many keys the provider gave (observability, tests)

    def current(self) -> Credentials:
        credentials = self._current
        if credentials is not None and time.time() < self._refresh_at:
            return credentials
        with self._lock:
            if self._current is None or time.time() >= self._refresh_at:
                self._refresh()
            assert self._current is not None
            return self._current

    def _refresh(self) -> None:
        try:
            fetched = Credentials.coerce(self._provider())
            if fetched.expires_in_s() <= 0:
                # Signing with them would fail request by request; a clock that is wrong
                # fails here too, which names the cause.
                raise AuthenticationError(
                    f"credentials_provider returned keys that expired at {fetched.expiry} "
                    "(check the provider, or this machine's clock)")
        except Exception as exc:
            now = time.time()
            previous = self._current
            if previous is not None and previous.expires_in_s(now) > _RETRY_FAILED_REFRESH_S:
                # Still valid: keep signing with them and ask again shortly.
                logger.warning("credentials_provider failed (%s); keeping the current keys, "
                               "which expire in %.0f s", type(exc).__name__,
                               previous.expires_in_s(now))
                self._refresh_at = now + _RETRY_FAILED_REFRESH_S
                return
            if isinstance(exc, (ConfigurationError, AuthenticationError)):
                raise
            raise AuthenticationError(
                f"credentials_provider failed: {type(exc).__name__}: {exc}") from exc
        now = time.time()
        lifetime = fetched.expires_in_s(now)
        self._current = fetched
        self._refresh_at = now + lifetime - refresh_margin_s(lifetime)
        self.refreshes += 1


@dataclass(frozen=True)
class CommandCredentialsProvider:
    """A ``credentials_provider`` that runs ``command`` (a shell-style string, run without a
    shell) and reads the JSON it prints (see the module docstring for the accepted names).
    Its stderr passes through to ours (an SSO login prompt, say); its stdout never appears
    in an error, since it holds the secret."""

    command: str

    def __call__(self) -> Credentials:
        try:
            result = subprocess.run(shlex.split(self.command), stdout=subprocess.PIPE,
                                    text=True, timeout=_COMMAND_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AuthenticationError(f"credentials command failed to run: {exc}") from exc
        if result.returncode != 0:
            raise AuthenticationError(
                f"credentials command exited with code {result.returncode} "
                "(its messages are on stderr)")
        try:
            return Credentials.coerce(json.loads(result.stdout))
        except (ValueError, ConfigurationError) as exc:
            raise AuthenticationError(
                "credentials command did not print credentials as JSON") from exc


def environment_credentials(provider: str,
                            environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Keys from ``provider``'s usual environment variables, or ``None`` if none are set."""
    environ = os.environ if environ is None else environ
    for key_name, secret_name, token_name in ENVIRONMENT_VARIABLES.get(provider, ()):
        if environ.get(key_name) and environ.get(secret_name):
            return Credentials(environ[key_name], environ[secret_name],
                               environ.get(token_name) or None)
    return None


#: What a backend signs with: fixed keys or refreshing ones (both answer ``current()``).
CredentialSource = Credentials | RefreshingCredentials


def configured_credentials(config: OSSConfig, *,
                           environment: bool = True) -> CredentialSource | None:
    """The keys ``config`` asks for: its own keys, its ``credentials_provider``, or (unless
    ``environment`` is false or the config is anonymous) the provider's environment
    variables; ``None`` when there are none (unsigned requests, or the SDK's own chain)."""
    if config.access_key is not None and config.secret_key is not None:
        return Credentials(config.access_key, config.secret_key, config.session_token)
    if config.credentials_provider is not None:
        return RefreshingCredentials(config.credentials_provider)
    if config.anonymous or not environment:
        return None
    return environment_credentials(config.provider)
