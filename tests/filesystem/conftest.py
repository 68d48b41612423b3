"""Filesystem fixtures: a ``UnifiedFileSystem`` per provider on the session's server."""

from __future__ import annotations

import uuid

import fsspec
import pytest

from fsspec_unified.filesystem import UnifiedFileSystem


def storage_options(server, provider: str, **extra) -> dict:
    """Storage options as a user would pass them (s3fs-style names on purpose)."""
    return {
        "provider": provider,
        "endpoint_url": server.endpoint_url,
        "key": server.access_key,
        "secret": server.secret_key,
        "region": "us-east-1",
        **extra,
    }


@pytest.fixture(scope="session")
def fs_bucket(s3_server, client, provider) -> str:
    name = f"fs-{provider}"
    client.create_bucket(name)
    return name


@pytest.fixture
def ufs(s3_server, provider, fs_bucket) -> UnifiedFileSystem:
    fs = fsspec.filesystem("unified", **storage_options(s3_server, provider))
    fs.invalidate_cache()
    return fs


@pytest.fixture
def root(fs_bucket) -> str:
    """A fresh directory path for one test."""
    return f"{fs_bucket}/{uuid.uuid4().hex[:12]}"
