"""Shared fixtures: one real SeaweedFS S3 server for the whole session, clients per provider.

Every test that talks to storage runs against that server over HTTP; nothing mocks an SDK.
The ``oss`` provider reaches the same server through the OSS-protocol gateway. Tests isolate
themselves by bucket or by a unique key prefix rather than by cleaning up the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from fsspec_unified import BaseOSSClient, OSSConfig, create_client
from fsspec_unified.local_server import LocalS3Server
from fsspec_unified.testing.oss_gateway import OSSGateway

OSS_REGION = "cn-hangzhou"

# Every provider whose driver must pass the shared suites.
PROVIDERS = ["s3", "minio", "oss"]


@dataclass(frozen=True)
class Store:
    """Where one provider's client connects: the S3 server itself, or the OSS gateway."""

    provider: str
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str

    def config(self, **overrides) -> OSSConfig:
        values = {
            "provider": self.provider, "endpoint": self.endpoint_url,
            "access_key": self.access_key, "secret_key": self.secret_key,
            "region": self.region, **overrides,
        }
        return OSSConfig(**values)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3Server]:
    server = LocalS3Server(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    yield server
    server.stop(timeout_s=15)


@pytest.fixture(scope="session")
def oss_gateway(s3_server: LocalS3Server) -> Iterator[OSSGateway]:
    """Aliyun OSS's protocol, verified and translated, in front of the same server."""
    with OSSGateway(s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key,
                    region=OSS_REGION) as gateway:
        yield gateway


@pytest.fixture(scope="session", params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def store(s3_server: LocalS3Server, provider: str, request: pytest.FixtureRequest) -> Store:
    if provider == "oss":
        gateway = request.getfixturevalue("oss_gateway")
        return Store(provider, gateway.endpoint_url, s3_server.access_key, s3_server.secret_key,
                     OSS_REGION)
    return Store(provider, s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key,
                 "us-east-1")


@pytest.fixture(scope="session")
def client(store: Store) -> Iterator[BaseOSSClient]:
    with create_client(store.config()) as driver:
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


@pytest.fixture
def etag_proxy(store: Store, s3_server: LocalS3Server):
    """An ``EtagProxy`` in front of the S3 server: clients see ETags that are not MD5s.

    It speaks S3; for the ``oss`` provider, ``proxied_store`` puts an OSS gateway in front.
    """
    from fsspec_unified.testing.etag_proxy import EtagProxy

    with EtagProxy(s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key) as proxy:
        yield proxy


@pytest.fixture
def proxied_store(store: Store, etag_proxy, s3_server: LocalS3Server) -> Iterator[Store]:
    """``store`` reached through ``etag_proxy`` (OSS: client -> gateway -> proxy -> server)."""
    import dataclasses

    if store.provider != "oss":
        yield dataclasses.replace(store, endpoint_url=etag_proxy.endpoint_url)
        return
    with OSSGateway(etag_proxy.endpoint_url, s3_server.access_key, s3_server.secret_key,
                    region=store.region) as gateway:
        yield dataclasses.replace(store, endpoint_url=gateway.endpoint_url)


@pytest.fixture(scope="session")
def limited_store(store: Store, s3_server: LocalS3Server, request: pytest.FixtureRequest) -> Store:
    """``store`` with the server's limited identity: objects in ``limited-*`` buckets may be
    written, read, listed and deleted, but HeadBucket (OSS: GetBucketInfo) is refused (403)
    and buckets cannot be created; create ``limited-...`` buckets through ``store``."""
    import dataclasses

    if store.provider == "oss":
        request.getfixturevalue("oss_gateway").add_identity(
            s3_server.limited_access_key, s3_server.limited_secret_key)
    return dataclasses.replace(store, access_key=s3_server.limited_access_key,
                               secret_key=s3_server.limited_secret_key)


@pytest.fixture
def versioned_bucket(client: BaseOSSClient, provider: str) -> str:
    """A new bucket with versioning enabled, for drivers whose capabilities declare it."""
    if not client.capabilities.supports_versioning:
        pytest.skip(f"the {provider} driver declares no versioning support")
    name = f"versioned-{provider}-{uuid.uuid4().hex[:8]}"
    client.create_bucket(name)
    client.set_bucket_versioning(name, True)
    return name


def pytest_terminal_summary(terminalreporter) -> None:
    """Print what the reliability tests counted (the README's Reliability figures)."""
    from tests.reliability_tally import TALLY

    terminalreporter.section("reliability")
    for line in TALLY.lines():
        terminalreporter.write_line(line)
