"""Named connection profiles, shared by the command line, ``unified://`` URLs and the library.

One TOML file, ``profiles.toml`` in the user's config directory (platformdirs:
``~/.config/fsspec-unified`` on Linux; ``UNIFIED_CONFIG_DIR`` overrides it), one table per
profile::

    [prod]
    provider = "oss"
    endpoint = "https://oss-cn-hangzhou.aliyuncs.com"
    region = "cn-hangzhou"
    credentials = "env"          # OSS_ACCESS_KEY_ID / OSS_ACCESS_KEY_SECRET / OSS_SESSION_TOKEN
    part_size = "16MiB"
    workers = 16
    rate_limit = "50MB/s"

``credentials`` says where the keys come from: ``"keys"`` (``access_key``/``secret_key``/
``session_token`` stored in the profile), ``"env"`` (the provider's usual sources: see
:class:`~.driver.models.OSSConfig`), ``"aws"`` (boto3's chain, with ``aws_profile`` for a named
profile of ``~/.aws``; SSO and instance roles included), ``"command"`` (``credentials_command``
prints temporary keys as JSON, run again before they expire: see :mod:`.driver.credentials`)
or ``"anonymous"``. Left out, it is ``"keys"`` when the profile has keys and ``"env"``
otherwise.

The file and its directory are created readable by their owner only (0600/0700), and are
rewritten atomically. Nothing here prints a secret: :meth:`Profile.describe` masks it.

A profile is used by name: ``fsspec.filesystem("unified", profile="prod")``,
``storage_options={"profile": "prod"}``, the ``FSSPEC_UNIFIED_PROFILE`` environment variable
(fsspec turns it into the storage option) and ``fsspec-unified --profile prod``. Options given
alongside a profile override its values. There is no implicit profile in the library; the
command line uses the one named ``default`` when no other is chosen.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from .driver.credentials import CommandCredentialsProvider
from .driver.models import SIGNATURE_VERSIONS, canonical_provider
from .exceptions import ConfigurationError, ProfileNotFoundError
from .units import parse_rate, parse_size

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

APP_NAME = "fsspec-unified"
PROFILES_FILE = "profiles.toml"
CREDENTIAL_SOURCES = ("keys", "env", "aws", "command", "anonymous")
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SECRET_FIELDS = ("secret_key", "session_token")


def config_dir() -> Path:
    """Where ``profiles.toml`` lives: ``UNIFIED_CONFIG_DIR``, else the platform's user config
    directory."""
    return Path(os.environ.get("UNIFIED_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    """Where the command line keeps data (the ``serve`` server's, transfer checkpoints):
    ``UNIFIED_DATA_DIR``, else the platform's user data directory."""
    return Path(os.environ.get("UNIFIED_DATA_DIR") or platformdirs.user_data_dir(APP_NAME))


def profiles_path() -> Path:
    return config_dir() / PROFILES_FILE


@dataclass(frozen=True)
class Profile:
    """One named way to reach a store, with transfer defaults (see the module docstring)."""

    name: str
    provider: str = "s3"
    endpoint: str | None = None
    region: str | None = None
    signature_version: str | None = None
    credentials: str | None = None
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    aws_profile: str | None = None
    credentials_command: str | None = None
    part_size: int | None = None
    workers: int | None = None
    rate_limit: float | None = None

    def __post_init__(self) -> None:
        set_field = object.__setattr__
        if not _NAME_PATTERN.fullmatch(self.name):
            raise ConfigurationError(
                f"profile: {self.name!r} is not a profile name (letters, digits, '_', '.', '-')")
        set_field(self, "provider", canonical_provider(self.provider))
        if self.signature_version is not None and (
                self.signature_version not in SIGNATURE_VERSIONS):
            raise ConfigurationError(
                f"signature_version: {self.signature_version!r} is not one of "
                f"{', '.join(SIGNATURE_VERSIONS)}")
        if self.credentials is None:
            set_field(self, "credentials", "keys" if self.access_key else "env")
        if self.credentials not in CREDENTIAL_SOURCES:
            raise ConfigurationError(
                f"credentials: {self.credentials!r} is not one of {', '.join(CREDENTIAL_SOURCES)}")
        if self.credentials == "keys" and not (self.access_key and self.secret_key):
            raise ConfigurationError("credentials = 'keys' needs access_key and secret_key")
        if self.credentials != "keys" and (self.access_key or self.secret_key):
            raise ConfigurationError(
                f"access_key/secret_key: only used with credentials = 'keys', "
                f"not {self.credentials!r}")
        if self.credentials == "command" and not self.credentials_command:
            raise ConfigurationError("credentials = 'command' needs credentials_command")
        for setting, source in (("session_token", "keys"), ("aws_profile", "aws"),
                                ("credentials_command", "command")):
            if getattr(self, setting) and self.credentials != source:
                raise ConfigurationError(
                    f"{setting}: only used with credentials = {source!r}, "
                    f"not {self.credentials!r}")
        if self.credentials == "aws" and self.provider != "s3":
            raise ConfigurationError("credentials = 'aws' (boto3's chain) needs provider 's3'")
        if self.part_size is not None:
            set_field(self, "part_size", parse_size(self.part_size, name="part_size"))
        if self.workers is not None and (
                isinstance(self.workers, bool) or not isinstance(self.workers, int)
                or self.workers < 1):
            raise ConfigurationError("workers: must be a whole number, 1 or more")
        if self.rate_limit is not None:
            set_field(self, "rate_limit", parse_rate(self.rate_limit))

    @classmethod
    def from_mapping(cls, name: str, values: Mapping[str, Any]) -> Profile:
        """A profile from a TOML table (or command-line values), refusing unknown names."""
        known = {f.name for f in fields(cls)} - {"name"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigurationError(
                f"profile {name!r}: unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}")
        return cls(name=name, **values)

    def to_mapping(self) -> dict[str, Any]:
        """The TOML table: set values only."""
        return {k: v for k, v in asdict(self).items() if k != "name" and v is not None}

    def describe(self) -> dict[str, Any]:
        """:meth:`to_mapping` with the secret and token masked, for display."""
        shown = self.to_mapping()
        for secret in _SECRET_FIELDS:
            if secret in shown:
                shown[secret] = "********"
        return shown

    def storage_options(self) -> dict[str, Any]:
        """The filesystem's storage options this profile stands for."""
        options: dict[str, Any] = {"provider": self.provider}
        for name in ("endpoint", "region", "signature_version", "aws_profile"):
            if getattr(self, name) is not None:
                options[name] = getattr(self, name)
        if self.credentials == "keys":
            options.update(access_key=self.access_key, secret_key=self.secret_key)
            if self.session_token:
                options["session_token"] = self.session_token
        elif self.credentials == "command":
            options["credentials_provider"] = CommandCredentialsProvider(
                self.credentials_command or "")
        elif self.credentials == "anonymous":
            options["anonymous"] = True
        if self.part_size is not None:
            options["block_size"] = self.part_size
        if self.workers is not None:
            options["max_workers"] = self.workers
        if self.rate_limit is not None:
            options["rate_limit_bytes_per_s"] = self.rate_limit
        return options


def _load_tables(path: Path) -> dict[str, dict[str, Any]]:
    """The file's tables, unvalidated: one broken profile must not keep the others (or
    its own removal) from working."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        tables = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML ({exc})") from None
    for name, values in tables.items():
        if not isinstance(values, dict):
            raise ConfigurationError(f"{path}: {name!r} is not a [profile] table")
    return tables


def profile_names(path: Path | None = None) -> list[str]:
    return sorted(_load_tables(path or profiles_path()))


def load_profiles(path: Path | None = None) -> dict[str, Profile]:
    """Every profile in the file (none when it does not exist yet), each validated: a
    broken one raises, naming it."""
    path = path or profiles_path()
    return {name: _validated(name, values, path)
            for name, values in _load_tables(path).items()}


def get_profile(name: str, path: Path | None = None) -> Profile:
    """The profile ``name``, or :class:`~.exceptions.ProfileNotFoundError` listing the
    others."""
    path = path or profiles_path()
    tables = _load_tables(path)
    if name not in tables:
        known = ", ".join(sorted(tables)) or "none yet"
        raise ProfileNotFoundError(
            f"profile {name!r} not found in {path} (profiles: {known}); add one with "
            "'fsspec-unified profile add'")
    return _validated(name, tables[name], path)


def save_profile(profile: Profile, path: Path | None = None) -> Path:
    """Add or replace ``profile`` in the file, which stays owner-only (the file is
    rewritten: comments written by hand are not kept)."""
    path = path or profiles_path()
    tables = _load_tables(path)
    tables[profile.name] = profile.to_mapping()
    _write(path, tables)
    return path


def remove_profile(name: str, path: Path | None = None) -> None:
    """Remove ``name``, valid or not."""
    path = path or profiles_path()
    tables = _load_tables(path)
    if name not in tables:
        get_profile(name, path)  # raises with the list of profiles
    del tables[name]
    _write(path, tables)


def _validated(name: str, values: Mapping[str, Any], path: Path) -> Profile:
    try:
        return Profile.from_mapping(name, values)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"{path}: profile {name!r}: {exc} (fix it, or 'fsspec-unified profile remove "
            f"{name}')") from None


def _write(path: Path, tables: Mapping[str, Mapping[str, Any]]) -> None:
    """Write atomically, readable by the owner only from the first byte on."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = tomli_w.dumps(dict(sorted(tables.items())))
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".profiles-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:  # mkstemp: mode 0600
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
