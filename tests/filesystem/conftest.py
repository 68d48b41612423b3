"""Filesystem fixtures: a ``UnifiedFileSystem`` per provider on the session's server."""

from __future__ import annotations

import uuid

import fsspec
import pytest

from fsspec_unified.filesystem import UnifiedFileSystem


def storage_options(store, **extra) -> dict:
    """Storage options as a user would pass them (s3fs-style names on purpose)."""
    return {
        "provider": store.provider,
        "endpoint_url": store.endpoint_url,
        "key": store.access_key,
        "secret": store.secret_key,
        "region": store.region,
        **extra,
    }


@pytest.fixture(scope="session")
def fs_bucket(client, provider) -> str:
    name = f"fs-{provider}"
    client.create_bucket(name)
    return name


@pytest.fixture
def ufs(store, fs_bucket) -> UnifiedFileSystem:
    fs = fsspec.filesystem("unified", **storage_options(store))
    fs.invalidate_cache()
    return fs


@pytest.fixture
def root(fs_bucket) -> str:
    """A fresh directory path for one test."""
    return f"{fs_bucket}/{uuid.uuid4().hex[:12]}"
