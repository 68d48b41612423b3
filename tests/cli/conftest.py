"""Fixtures for driving ``fsspec-unified`` as a user does: a subprocess per command, against
the session's server, with a config and data directory of its own.

``cli`` runs commands with the profile of the test's provider (``s3``, ``minio`` or ``oss``,
written to the test's own profiles file, keys included); ``cli_s3`` does the same for the
``s3`` provider only, for tests that exercise the command line rather than a driver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fsspec_unified.profiles import Profile, save_profile

#: Variables that would give a command credentials or settings the test did not choose.
_SCRUBBED_PREFIXES = ("AWS_", "OSS_", "ALIBABA_CLOUD_", "MINIO_", "FSSPEC_UNIFIED_", "UNIFIED_")
COMMAND_TIMEOUT_S = 120


@dataclass
class CLI:
    """Runs ``python -m fsspec_unified [--profile P] ARGS`` in a clean environment."""

    home: Path
    profile: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def config_dir(self) -> Path:
        return self.home / "config"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def env(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items()
               if not name.startswith(_SCRUBBED_PREFIXES)}
        env.update(UNIFIED_CONFIG_DIR=str(self.config_dir), UNIFIED_DATA_DIR=str(self.data_dir),
                   HOME=str(self.home), COLUMNS="120", **self.extra_env)
        return env

    def argv(self, *args: str) -> list[str]:
        profile = ["--profile", self.profile] if self.profile else []
        return [sys.executable, "-m", "fsspec_unified", *profile, *args]

    def run(self, *args: str, input: str | bytes | None = None,
            timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess:
        """Run to completion; stdout and stderr as text (bytes when ``input`` is bytes)."""
        return subprocess.run(self.argv(*args), env=self.env(), input=input,
                              capture_output=True, text=not isinstance(input, bytes),
                              timeout=timeout, check=False, cwd=self.home)

    def ok(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
        """Run and assert exit code 0, showing stderr when it is not."""
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, (args, result.returncode, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        """Run with ``--json`` appended and parse stdout."""
        return json.loads(self.ok(*args, "--json").stdout)

    def popen(self, *args: str, **kwargs: Any) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), env=self.env(), cwd=self.home, **kwargs)

    def with_profile(self, profile: str | None) -> CLI:
        return CLI(self.home, profile, dict(self.extra_env))


def write_store_profile(cli: CLI, name: str, store: Any, **settings: Any) -> Profile:
    """Save a profile with keys that reaches ``store`` (a ``tests.conftest.Store``)."""
    profile = Profile(name=name, provider=store.provider, endpoint=store.endpoint_url,
                      region=store.region, access_key=store.access_key,
                      secret_key=store.secret_key, **settings)
    save_profile(profile, cli.config_dir / "profiles.toml")
    return profile


@pytest.fixture(scope="session")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-home")


@pytest.fixture(scope="session")
def cli(cli_home: Path, store: Any, provider: str) -> CLI:
    runner = CLI(cli_home, profile=provider)
    write_store_profile(runner, provider, store)
    return runner


@pytest.fixture(scope="session")
def cli_s3(cli_home: Path, s3_server: Any) -> CLI:
    """The ``s3`` provider's profile, without parametrizing the test over providers."""
    from tests.conftest import Store

    store = Store("s3", s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key,
                  "us-east-1")
    runner = CLI(cli_home, profile="s3")
    write_store_profile(runner, "s3", store)
    return runner


@pytest.fixture
def remote(bucket: str, prefix: str) -> str:
    """A ``unified://`` URL of a prefix no other test uses, in the provider's bucket."""
    return f"unified://{bucket}/{prefix}"


@pytest.fixture(scope="session")
def s3_bucket(cli_s3: CLI, s3_server: Any) -> str:
    """A bucket for ``cli_s3`` tests, made through the library (not the command under test)."""
    from fsspec_unified import create_client

    name = "cli-tests"
    with create_client(s3_server.config("s3")) as client:
        if name not in {b.name for b in client.list_buckets()}:
            client.create_bucket(name)
    return name


@pytest.fixture
def s3_remote(s3_bucket: str) -> str:
    return f"unified://{s3_bucket}/t-{uuid.uuid4().hex[:12]}/"


def lines(text: str) -> Sequence[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def s3_client(s3_server: Any):
    """A driver on the ``s3`` store, to check what ``cli_s3`` commands left behind."""
    from fsspec_unified import create_client

    with create_client(s3_server.config("s3")) as driver:
        yield driver


def remote_files(client: Any, url: str) -> dict[str, int]:
    """``{key relative to url: size}`` of the objects under a ``unified://bucket/prefix/``
    URL, listed flat (an emptied prefix may still show as a directory for a while)."""
    bucket, _, prefix = url.removeprefix("unified://").partition("/")
    return {item.key[len(prefix):]: item.size for item in client.list_objects(bucket, prefix)
            if not item.key.endswith("/")}


def weed_processes_of(server_dir: Path) -> list[int]:
    """Pids of the SeaweedFS processes serving ``server_dir`` (a ``LocalS3Server``'s data
    directory), read from /proc: what a stopped server must not leave behind."""
    marker = f"-dir={server_dir / 'data'}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in command_line:
            found.append(int(entry.name))
    return found
