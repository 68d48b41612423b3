"""Turn fsspec storage options into an ``OSSConfig`` plus the filesystem's own settings.

Accepted, in this order of precedence: the ``OSSConfig`` field names (``endpoint``,
``access_key``, ``secret_key``, ``region``, ...); the s3fs spellings ``key``, ``secret``,
``token``, ``endpoint_url`` and ``client_kwargs={"endpoint_url": ..., "region_name": ...}``;
``provider`` with its aliases (``aws`` -> ``s3``, ``aliyun`` -> ``oss``); ``anon`` for
``anonymous``; ``profile``, a named profile of :mod:`.profiles` filling in the rest.
``block_size`` and ``rate_limit_bytes_per_s`` also take units (``"8MiB"``, ``"10MB/s"``).
Options set in
``fsspec.config.conf["unified"]`` or as ``FSSPEC_UNIFIED_<OPTION>`` environment variables are
applied by fsspec itself before they reach here. Anything else is rejected with a
``ValueError`` naming it, so a typo never silently falls back to a default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from .driver.engine.config import DEFAULT_MAX_WORKERS, DEFAULT_PART_SIZE_BYTES, TransferConfig
from .driver.engine.retry import RetryPolicy
from .driver.exceptions import ConfigurationError
from .driver.models import OSSConfig, coerce_value
from .observability.alerts import Alert, AlertPolicy
from .profiles import get_profile
from .units import parse_rate, parse_size

_S3FS_ALIASES = {
    "key": "access_key",
    "secret": "secret_key",
    "token": "session_token",
    "endpoint_url": "endpoint",
    "anon": "anonymous",
}
_CLIENT_KWARGS_ALIASES = {
    "endpoint_url": "endpoint",
    "region_name": "region",
    "aws_access_key_id": "access_key",
    "aws_secret_access_key": "secret_key",
    "aws_session_token": "session_token",
}
_CONFIG_TYPES = {f.name: f.type for f in fields(OSSConfig)}
_CONFIG_FIELDS = set(_CONFIG_TYPES)
#: The ``OSSConfig`` fields that say how to authenticate: given as options, they replace a
#: profile's credentials as a whole.
_CREDENTIAL_FIELDS = {"access_key", "secret_key", "session_token", "credentials_provider",
                      "anonymous", "aws_profile"}


@dataclass(frozen=True)
class FilesystemOptions:
    """Settings of the filesystem itself (not of the connection).

    ``block_size`` is the read-ahead block, the first part size of files opened for writing
    and the smallest part or range of transfers. ``max_workers`` is the filesystem's one
    budget: the most requests in flight at once, whatever the operations (bulk ``cat``/
    ``put``/``get``/``rm``, parts and ranges, ``open``); the connection pool is sized to it
    (plus a few connections for control requests) unless ``max_pool_connections`` is
    given. ``adaptive_concurrency`` lets the requests in
    flight move between 2 and ``max_workers`` with the measured throughput and throttling.
    ``rate_limit_bytes_per_s`` limits every byte the filesystem moves (``rate_limit_scope=
    "process"`` shares the limit with every filesystem of the process that has the same
    one); ``resumable`` and ``checkpoint_dir`` make ``put_file``/``get_file`` resumable.
    ``retry_policy`` (a :class:`~.driver.engine.retry.RetryPolicy`) replaces the default one
    for every request the filesystem retries, e.g. ``RetryPolicy(max_attempts=1000,
    max_elapsed_s=60)`` to ride out a minute without the server. ``on_alert`` (a callable
    taking an :class:`~.observability.Alert`) is called when the error or retry rate crosses
    the default thresholds; ``alert_policy`` (an :class:`~.observability.AlertPolicy`) sets
    the thresholds and the hook together.
    """

    block_size: int = DEFAULT_PART_SIZE_BYTES
    max_workers: int = DEFAULT_MAX_WORKERS
    adaptive_concurrency: bool = True
    rate_limit_bytes_per_s: float | None = None
    rate_limit_scope: str = "filesystem"
    resumable: bool = False
    checkpoint_dir: str | None = None
    version_aware: bool = False
    retry_policy: RetryPolicy | None = None
    alert_policy: AlertPolicy | None = None
    on_alert: Callable[[Alert], object] | None = None

    def transfer_config(self) -> TransferConfig:
        return TransferConfig(
            part_size_bytes=self.block_size,
            max_workers=self.max_workers,
            rate_limit_bytes_per_s=self.rate_limit_bytes_per_s,
            rate_limit_scope=self.rate_limit_scope,
            adaptive_concurrency=self.adaptive_concurrency,
            resumable=self.resumable,
            checkpoint_dir=self.checkpoint_dir,
            retry_policy=self.retry_policy or RetryPolicy(),
            alert_policy=self.alert_policy or (
                AlertPolicy(on_alert=self.on_alert) if self.on_alert is not None else None),
        )


_FS_FIELDS = {f.name: f for f in fields(FilesystemOptions)}
#: Sizes and rates may be written with units (``"8MiB"``, ``"10MB/s"``).
_UNIT_PARSERS = {"block_size": parse_size, "rate_limit_bytes_per_s": parse_rate}
#: Connections beyond the budget, for the requests that take no slot (aborts, ListParts,
#: listings).
CONTROL_CONNECTIONS = 4
# fsspec's own constructor options, handled by AbstractFileSystem.
FSSPEC_OPTIONS = {"use_listings_cache", "listings_expiry_time", "max_paths", "skip_instance_cache",
                  "asynchronous", "loop"}


def parse_storage_options(options: dict[str, Any]) -> tuple[OSSConfig, FilesystemOptions]:
    """Split storage options into the connection config and the filesystem settings.

    With ``profile``, the named profile (:mod:`.profiles`) supplies every value the other
    options leave out; credentials given as options replace the profile's as a whole.
    """
    config_values, fs_values = _split(options)
    profile_name = options.get("profile")
    if profile_name is not None:
        if isinstance(profile_name, int) and not isinstance(profile_name, bool):
            profile_name = str(profile_name)  # FSSPEC_UNIFIED_PROFILE=2024 arrives as JSON
        if not isinstance(profile_name, str):
            raise ConfigurationError("profile: must be a profile name")
        profile_config, profile_fs = _split(get_profile(profile_name).storage_options())
        if _sets_credentials(config_values):
            for name in _CREDENTIAL_FIELDS:
                profile_config.pop(name, None)
        config_values = {**profile_config, **config_values}
        fs_values = {**profile_fs, **fs_values}
    fs_options = FilesystemOptions(**fs_values)
    if fs_options.block_size < 1 or fs_options.max_workers < 1:
        raise ConfigurationError("block_size and max_workers must be positive")
    if not isinstance(fs_options.retry_policy, (RetryPolicy, type(None))):
        raise ConfigurationError("retry_policy: must be a RetryPolicy")
    if fs_options.on_alert is not None and (
            fs_options.alert_policy is not None or not callable(fs_options.on_alert)):
        raise ConfigurationError("on_alert: must be callable, and not given with alert_policy "
                                 "(set AlertPolicy.on_alert instead)")
    # A connection per request the budget lets run, and a few for control requests, unless
    # the caller decided otherwise.
    config_values.setdefault("max_pool_connections",
                             fs_options.max_workers + CONTROL_CONNECTIONS)
    config = OSSConfig.from_dict(config_values)
    return config, fs_options


def _sets_credentials(config_values: dict[str, Any]) -> bool:
    """Whether options choose credentials themselves: keys, a provider, ``anonymous=True``
    or an AWS profile (``anon=False``, s3fs's default spelled out, chooses nothing)."""
    return any(config_values.get(name) not in (None, False) for name in _CREDENTIAL_FIELDS)


def _split(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(``OSSConfig`` values, ``FilesystemOptions`` values) of ``options``, canonically
    named; unknown names are refused, all of them in one message."""
    config_values: dict[str, Any] = {}
    fs_values: dict[str, Any] = {}
    unknown = []
    for name, value in options.items():
        if value is None or name in FSSPEC_OPTIONS or name == "profile":
            continue
        if name == "client_kwargs":
            _merge_client_kwargs(value, config_values)
        elif name in _CONFIG_FIELDS:
            config_values[name] = _coerce_config(name, value)
        elif name in _S3FS_ALIASES:
            canonical = _S3FS_ALIASES[name]
            config_values.setdefault(canonical, _coerce_config(canonical, value))
        elif name in _UNIT_PARSERS and isinstance(value, str):
            fs_values[name] = _UNIT_PARSERS[name](value, name=name)
        elif name in _FS_FIELDS:
            fs_values[name] = coerce_value(name, str(_FS_FIELDS[name].type), value)
        else:
            unknown.append(name)
    if unknown:
        known = sorted(_CONFIG_FIELDS | set(_S3FS_ALIASES) | set(_FS_FIELDS)
                       | {"client_kwargs", "profile"})
        raise ConfigurationError(
            f"unknown storage option(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}"
        )
    return config_values, fs_values


def _coerce_config(name: str, value: Any) -> Any:
    """A string from the environment or fsspec's config (``"false"``) as the field's type,
    before anything decides from it (``anon="false"`` must not replace a profile's keys)."""
    return coerce_value(name, str(_CONFIG_TYPES[name]), value)


def _merge_client_kwargs(client_kwargs: Any, config_values: dict[str, Any]) -> None:
    if not isinstance(client_kwargs, dict):
        raise ConfigurationError("client_kwargs: must be a dict")
    for name, value in client_kwargs.items():
        if name not in _CLIENT_KWARGS_ALIASES:
            raise ConfigurationError(
                f"client_kwargs: unsupported key {name!r}; supported: "
                f"{', '.join(sorted(_CLIENT_KWARGS_ALIASES))}"
            )
        config_values.setdefault(_CLIENT_KWARGS_ALIASES[name], value)
