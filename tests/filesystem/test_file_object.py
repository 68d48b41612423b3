"""``UnifiedFile`` (what ``UnifiedFileSystem.open`` returns), per provider, over HTTP.

Reads pinned to the object first seen, create-only ``"xb"`` writes racing, fsspec
transactions (``commit``/``discard``), versions, content type and metadata, and the file's
behaviour once closed.
"""

from __future__ import annotations

import fsspec
import pytest

from fsspec_unified.buffered_file import UnifiedFile
from fsspec_unified.driver import exceptions as errors
from fsspec_unified.driver.types import MIB
from tests.filesystem.conftest import storage_options
from tests.helpers import pattern_bytes

SIZES = {"single-put": 1000, "multipart": 6 * MIB + 7}


def uploads_left(client, ufs, root: str) -> list:
    bucket, prefix = ufs.split_path(root)
    return list(client.list_multipart_uploads(bucket, prefix))


def stored(client, ufs, path: str) -> bool:
    """Whether the object exists, asked of the server (no listing cache)."""
    return client.object_exists(*ufs.split_path(path))


# -- an ETag is not a checksum --------------------------------------------------------------


@pytest.fixture
def proxied_ufs(proxied_store):
    """A filesystem whose every response carries ETags that are not MD5s (AWS SSE-KMS)."""
    return fsspec.filesystem("unified", skip_instance_cache=True,
                             **storage_options(proxied_store))


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_write_and_read_succeed_when_etags_are_not_md5s(proxied_ufs, etag_proxy, root, size):
    path = f"{root}/kms.bin"
    data = pattern_bytes(size, seed=20)
    with proxied_ufs.open(path, "wb", block_size=5 * MIB) as handle:
        handle.write(data)
    assert etag_proxy.requests["DELETE"] == 0, "an object or upload was deleted on a guess"
    with proxied_ufs.open(path, "rb", block_size=MIB) as handle:  # pinned to the fake ETag
        assert handle.read() == data
    assert etag_proxy.requests["DELETE"] == 0


def test_a_part_corrupted_in_flight_is_refused_by_the_server_and_resent(
    proxied_ufs, etag_proxy, root
):
    path = f"{root}/corrupted.bin"
    data = pattern_bytes(11 * MIB, seed=21)
    etag_proxy.corrupt_next_bodies(1, min_size_bytes=MIB)
    with proxied_ufs.open(path, "wb", block_size=5 * MIB) as handle:
        handle.write(data)
    assert etag_proxy.corrupted_bodies == 1
    assert any(method == "PUT" and status == 400 for method, _, status in etag_proxy.log)
    assert proxied_ufs.cat(path) == data


# -- reads pin the object --------------------------------------------------------------------


@pytest.mark.parametrize("cache_type", ["none", "bytes", "readahead"])
def test_object_replaced_while_reading_raises_instead_of_mixing_bytes(ufs, root, cache_type):
    path = f"{root}/pinned.bin"
    first, second = pattern_bytes(3 * MIB, seed=1), pattern_bytes(3 * MIB, seed=2)
    ufs.pipe(path, first)
    with ufs.open(path, "rb", block_size=MIB, cache_type=cache_type) as handle:
        assert handle.read(MIB // 2) == first[:MIB // 2]
        ufs.pipe(path, second)  # same size, other bytes
        try:
            outcome = handle.read()
        except OSError as error:
            outcome = error
    assert not isinstance(outcome, bytes), "a read returned bytes of the replaced object"
    assert isinstance(outcome, errors.ConcurrentModificationError)
    with ufs.open(path, "rb", block_size=MIB) as handle:  # a new file sees the new object
        assert handle.read() == second


@pytest.fixture
def versioned(store, versioned_bucket):
    """A version-aware filesystem and a new bucket with versioning enabled."""
    vfs = fsspec.filesystem("unified", **storage_options(store, version_aware=True))
    return vfs, versioned_bucket


def test_open_with_version_id_reads_that_version(versioned, client):
    vfs, bucket = versioned
    old = client.put_object(bucket, "doc.bin", pattern_bytes(2 * MIB, seed=3))
    client.put_object(bucket, "doc.bin", b"replaced")
    assert old.version_id
    with vfs.open(f"{bucket}/doc.bin", "rb", block_size=MIB, version_id=old.version_id) as f:
        assert f.size == 2 * MIB
        assert f.read(MIB) == pattern_bytes(2 * MIB, seed=3)[:MIB]
        assert f.read() == pattern_bytes(2 * MIB, seed=3)[MIB:]
    assert vfs.cat(f"{bucket}/doc.bin") == b"replaced"


@pytest.mark.parametrize("mode", ["wb", "xb"])
def test_opening_a_version_for_writing_is_a_value_error(versioned, client, mode):
    vfs, bucket = versioned
    version = client.put_object(bucket, "v.bin", b"v1").version_id
    with pytest.raises(ValueError, match="version"):
        vfs.open(f"{bucket}/v.bin", mode, version_id=version)
    with pytest.raises(ValueError, match="version"):
        UnifiedFile(vfs, f"{bucket}/v.bin", mode, version_id=version)
    assert vfs.cat(f"{bucket}/v.bin") == b"v1"


# -- content type and metadata ----------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_content_type_and_metadata_are_stored(ufs, root, client, size):
    path = f"{root}/typed"  # no extension: nothing to guess the type from
    with ufs.open(path, "wb", block_size=5 * MIB, content_type="application/x-test",
                  metadata={"origin": "file-object-test"}) as handle:
        handle.write(pattern_bytes(size, seed=4))
    head = client.head_object(*ufs.split_path(path))
    assert head.size == size
    assert head.content_type == "application/x-test"
    assert head.metadata == {"origin": "file-object-test"}


# -- "xb" is create-only on the server ----------------------------------------------------------


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_two_exclusive_writers_racing_exactly_one_wins(ufs, root, client, size):
    path = f"{root}/race.bin"
    winner_bytes, loser_bytes = pattern_bytes(size, seed=5), pattern_bytes(size, seed=6)
    winner = ufs.open(path, "xb", block_size=5 * MIB)
    loser = ufs.open(path, "xb", block_size=5 * MIB)  # both pass the check at open
    winner.write(winner_bytes)
    loser.write(loser_bytes)
    winner.close()
    with pytest.raises(FileExistsError):
        loser.close()
    assert ufs.cat(path) == winner_bytes
    assert uploads_left(client, ufs, root) == []


# -- transactions -------------------------------------------------------------------------------


def test_transaction_writes_appear_only_when_the_block_ends(ufs, root, client):
    small, large = f"{root}/small.bin", f"{root}/large.bin"
    unclosed = f"{root}/unclosed.bin"
    with ufs.transaction:
        with ufs.open(small, "wb") as handle:
            handle.write(b"small")
        with ufs.open(large, "wb", block_size=5 * MIB) as handle:
            handle.write(pattern_bytes(11 * MIB, seed=7))
        open_handle = ufs.open(unclosed, "wb")  # the transaction closes it
        open_handle.write(b"left open")
        assert not any(stored(client, ufs, path) for path in (small, large, unclosed))
    assert ufs.cat(small) == b"small"
    assert ufs.cat(large) == pattern_bytes(11 * MIB, seed=7)
    assert ufs.cat(unclosed) == b"left open"
    assert uploads_left(client, ufs, root) == []


def test_transaction_block_that_raises_stores_nothing(ufs, root, client):
    paths = [f"{root}/a.bin", f"{root}/b.bin"]
    with pytest.raises(RuntimeError, match="rollback"), ufs.transaction:
        with ufs.open(paths[0], "wb") as handle:
            handle.write(b"a")
        with ufs.open(paths[1], "wb", block_size=5 * MIB) as handle:
            handle.write(pattern_bytes(7 * MIB, seed=8))
        raise RuntimeError("rollback")
    assert not any(stored(client, ufs, path) for path in paths)
    assert uploads_left(client, ufs, root) == []


def test_commit_and_discard_by_hand_with_autocommit_off(ufs, root, client):
    kept, dropped = f"{root}/kept.bin", f"{root}/dropped.bin"
    keep = ufs.open(kept, "wb", block_size=5 * MIB, autocommit=False)
    drop = ufs.open(dropped, "wb", block_size=5 * MIB, autocommit=False)
    keep.write(pattern_bytes(6 * MIB, seed=9))
    drop.write(pattern_bytes(6 * MIB, seed=10))
    keep.close()
    drop.close()
    assert not stored(client, ufs, kept)
    keep.commit()
    drop.discard()
    drop.discard()  # twice is harmless
    assert ufs.cat(kept) == pattern_bytes(6 * MIB, seed=9)
    assert not stored(client, ufs, dropped)
    assert uploads_left(client, ufs, root) == []


@pytest.fixture
def refused_fs(store):
    """A filesystem on the same server with a wrong secret: every request it makes is refused.

    Handing its client to an open file's upload makes that file's abort fail over HTTP
    (403)."""
    return fsspec.filesystem("unified", skip_instance_cache=True,
                             **storage_options(store, secret="not-the-secret"))


def test_exception_inside_open_survives_a_failing_abort(ufs, root, client, refused_fs):
    path = f"{root}/abort-fails.bin"
    with pytest.raises(RuntimeError, match="original"), ufs.open(
        path, "wb", block_size=5 * MIB
    ) as handle:
        handle.write(pattern_bytes(6 * MIB, seed=11))  # starts the multipart upload
        upload_id = handle._writer.upload_id
        handle._writer.parts()  # the part is on the server
        handle._writer.op.client = refused_fs.client  # the file's own abort will be refused
        raise RuntimeError("original")
    assert uploads_left(client, ufs, root) != []  # the abort really failed
    client.abort_multipart_upload(*ufs.split_path(path), upload_id)
    assert not stored(client, ufs, path)


def test_exception_inside_transaction_survives_a_failing_abort(ufs, root, client, refused_fs):
    path = f"{root}/abort-fails.bin"
    with pytest.raises(RuntimeError, match="original"), ufs.transaction:
        with ufs.open(path, "wb", block_size=5 * MIB) as handle:
            handle.write(pattern_bytes(6 * MIB, seed=12))
        upload_id = handle._writer.upload_id
        handle._writer.op.client = refused_fs.client
        raise RuntimeError("original")
    assert uploads_left(client, ufs, root) != []
    client.abort_multipart_upload(*ufs.split_path(path), upload_id)
    assert not stored(client, ufs, path)


def test_discard_by_hand_raises_a_failing_abort(ufs, root, client, refused_fs):
    path = f"{root}/abort-fails.bin"
    handle = ufs.open(path, "wb", block_size=5 * MIB, autocommit=False)
    handle.write(pattern_bytes(6 * MIB, seed=13))
    handle.close()
    upload_id = handle._writer.upload_id
    handle._writer.op.client = refused_fs.client
    with pytest.raises(PermissionError):
        handle.discard()  # nothing else is propagating: the failure is the caller's to see
    client.abort_multipart_upload(*ufs.split_path(path), upload_id)


# -- a closed file ---------------------------------------------------------------------------


def test_writing_to_a_closed_or_discarded_file_is_a_value_error(ufs, root):
    closed = ufs.open(f"{root}/closed.bin", "wb")
    closed.write(b"x")
    closed.close()
    discarded = ufs.open(f"{root}/discarded.bin", "wb")
    discarded.write(b"y")
    discarded.discard()
    for handle in (closed, discarded):
        with pytest.raises(ValueError):
            handle.write(b"more")
        with pytest.raises(ValueError):
            handle.flush()
    assert ufs.cat(f"{root}/closed.bin") == b"x"
    assert not ufs.exists(f"{root}/discarded.bin")
