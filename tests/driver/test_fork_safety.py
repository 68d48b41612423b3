"""Fork safety: a client used before ``os.fork()`` works in the child, every byte its own.

A forked child that reused its parent's pooled connections would share sockets with the parent
and its siblings, and read bytes of another request's response. Here the parent fills its
connection pool, then a fork-started pool of processes reads many objects concurrently through
the very client object it inherited (not a pickled copy), while the parent keeps reading too.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from fsspec_unified import BaseOSSClient
from tests.helpers import pattern_bytes

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="the fork start method exists only on POSIX"
)

OBJECT_COUNT = 12
WORKERS = 4
ROUNDS = 2

# The client the forked workers inherit (set just before the fork; never pickled).
_inherited: tuple[BaseOSSClient, str] | None = None


def _sizes() -> list[int]:
    # Different sizes, so that bytes of one response read as another's show up as a mismatch;
    # large enough that concurrent responses on one shared socket would overlap.
    return [256 * 1024 + 211_111 * index for index in range(OBJECT_COUNT)]


def _read_in_child(key: str) -> tuple[str, int, str]:
    assert _inherited is not None
    client, bucket = _inherited
    data = client.get_object(bucket, key)
    return key, len(data), hashlib.sha256(data).hexdigest()


def test_client_used_before_fork_reads_correct_bytes_in_children(client, bucket, prefix):
    global _inherited
    keys = [f"{prefix}obj-{index}" for index in range(OBJECT_COUNT)]
    expected = {}
    for index, (key, size) in enumerate(zip(keys, _sizes(), strict=True)):
        data = pattern_bytes(size, seed=index)
        client.put_object(bucket, key, data)
        expected[key] = (key, size, hashlib.sha256(data).hexdigest())
    # Use the client in the parent with several threads: its pool now holds open connections.
    with ThreadPoolExecutor(WORKERS) as threads:
        _inherited = (client, bucket)
        for result in threads.map(_read_in_child, keys):
            assert result == expected[result[0]]
    try:
        context = multiprocessing.get_context("fork")
        # Every worker waits for the others, so their first requests start together: on
        # connections inherited from the parent they would all go down the same socket.
        start_together = context.Barrier(WORKERS)
        with context.Pool(WORKERS, initializer=start_together.wait) as pool:
            pending = pool.map_async(_read_in_child, keys * ROUNDS, chunksize=1)
            # The parent keeps using its connections while the children use theirs.
            for key in keys:
                assert _read_in_child(key) == expected[key]
            results = pending.get(timeout=300)
    finally:
        _inherited = None
    assert len(results) == OBJECT_COUNT * ROUNDS
    for result in results:
        assert result == expected[result[0]]
    # And the parent's client still works afterwards.
    assert client.get_object(bucket, keys[0]) == pattern_bytes(_sizes()[0], seed=0)
