"""Fault fixtures: a :class:`FaultProxy` between each provider's client and the real server.

For ``s3`` and ``minio`` the proxy sits in front of the S3 server; for ``oss`` in front of the
OSS gateway (client -> fault proxy -> gateway -> server), so the faults and error answers are
the OSS protocol's. Each test gets its own proxy (fresh counters, no plan until the test sets
one) and a filesystem on it tuned so that faults cost little time: a short read timeout (a
stall is noticed after :data:`READ_TIMEOUT_S`), the smallest part size the server takes, and
the engine's retry policy with short waits. The SDKs' own retries are off (``max_retries=0``):
every retry is the engine's, so what survives here survives because of it. Objects are set up
and checked through the session's ``client``, which talks to the server directly.

Keys are named after the test, not drawn at random: the fault schedule is drawn from the seed
and the request (method, path, range), so the same seed gives the same faults on every run.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import fsspec
import pytest

from fsspec_unified.driver.engine.retry import RetryPolicy
from fsspec_unified.driver.types import MIB
from fsspec_unified.filesystem import UnifiedFileSystem
from fsspec_unified.testing.fault_proxy import FaultProxy
from tests.filesystem.conftest import storage_options
from tests.reliability_tally import TALLY

#: A stall lasts longer than this: the client gives up and retries.
READ_TIMEOUT_S = 2.0
STALL_S = 2.5
#: SeaweedFS's smallest part (every part but the last).
PART_BYTES = 5 * MIB
#: The default number of attempts, with short waits so that a test of an outage stays short.
FAST_RETRIES = RetryPolicy(max_attempts=5, base_delay_s=0.02, max_delay_s=0.2)


@pytest.fixture(scope="session")
def fault_bucket(client, provider) -> str:
    name = f"faults-{provider}"
    client.create_bucket(name)
    return name


@pytest.fixture
def fault_proxy(store) -> Iterator[FaultProxy]:
    """A fault proxy in front of ``store`` (no faults until the test sets a plan); the faults
    it injected are added to the reliability tally."""
    dialect = "oss" if store.provider == "oss" else "s3"
    with FaultProxy(store.endpoint_url, dialect=dialect) as proxy:
        yield proxy
    for kind, count in proxy.injected.items():
        TALLY.add("faults_injected", count, kind=kind)


@pytest.fixture
def fault_store(store, fault_proxy):
    """``store`` reached through ``fault_proxy``."""
    return dataclasses.replace(store, endpoint_url=fault_proxy.endpoint_url)


def faulty_filesystem(fault_store, **overrides) -> UnifiedFileSystem:
    """A filesystem through the fault proxy (see the module docstring); ``overrides`` change
    or add storage options (``resumable=True``, ``read_timeout_s=...``)."""
    options = {
        "read_timeout_s": READ_TIMEOUT_S, "connect_timeout_s": READ_TIMEOUT_S,
        "max_retries": 0, "block_size": PART_BYTES, "retry_policy": FAST_RETRIES,
        "skip_instance_cache": True, **overrides,
    }
    return fsspec.filesystem("unified", **storage_options(fault_store, **options))


@pytest.fixture
def faulty_fs(fault_store) -> UnifiedFileSystem:
    return faulty_filesystem(fault_store)


@pytest.fixture
def fault_root(fault_bucket, request: pytest.FixtureRequest) -> str:
    """``bucket/<test name>``: a directory of this test's own, the same on every run."""
    return f"{fault_bucket}/{re.sub(r'[^A-Za-z0-9_-]+', '-', request.node.name).strip('-')}"
