"""Shared fixtures: one real SeaweedFS S3 server for the whole session, clients per provider.

Every test that talks to storage runs against that server over HTTP; nothing mocks an SDK.
Tests isolate themselves by bucket or by a unique key prefix, never by cleaning up the server,
because SeaweedFS keeps emptied prefixes listed as directories for minutes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from fsspec_unified import BaseOSSClient, create_client
from fsspec_unified.local_server import LocalS3Server

# Every provider whose driver must pass the shared suites.
PROVIDERS = ["s3", "minio"]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3Server]:
    server = LocalS3Server(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    yield server
    server.stop(timeout_s=15)


@pytest.fixture(scope="session", params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def client(s3_server: LocalS3Server, provider: str) -> Iterator[BaseOSSClient]:
    with create_client(s3_server.config(provider)) as driver:
        yield driver


@pytest.fixture(scope="session")
def bucket(client: BaseOSSClient, provider: str) -> str:
    """A bucket shared by one provider's tests; each test works under its own prefix."""
    name = f"conformance-{provider}"
    client.create_bucket(name)
    return name


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses."""
    return f"t-{uuid.uuid4().hex[:12]}/"


@pytest.fixture
def new_bucket_name(provider: str) -> str:
    return f"b-{provider}-{uuid.uuid4().hex[:10]}"
