"""Data safety at the filesystem level, per provider, against the real server (issue 8).

Fork safety, reads pinned to one version, downloads kept inside their destination,
create-only writes and transactions.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from typing import ClassVar

import fsspec
import fsspec.spec
import pytest

from fsspec_unified.driver.exceptions import ConcurrentModificationError
from fsspec_unified.driver.types import MIB
from fsspec_unified.exceptions import UnsafeLocalPathError
from fsspec_unified.filesystem import UnifiedFileSystem
from tests.filesystem.conftest import storage_options
from tests.helpers import pattern_bytes


def new_fs(store, **extra) -> UnifiedFileSystem:
    return fsspec.filesystem("unified", skip_instance_cache=True,
                             **storage_options(store, **extra))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- fork safety -----------------------------------------------------------------------------

_FORKED_FS: UnifiedFileSystem | None = None  # inherited by fork, never pickled


def _read_in_child(task: tuple[list[str], str]) -> dict[str, list[str]]:
    """Read every object three ways through the filesystem the parent built."""
    names, directory = task
    fs = _FORKED_FS
    results = {name: [digest(data)] for name, data in fs.cat(names).items()}
    for name in names:
        with fs.open(name, "rb", cache_type="none") as handle:
            results[name].append(digest(handle.read()))
        target = os.path.join(directory, f"{os.getpid()}-{name.rsplit('/', 1)[-1]}")
        fs.get_file(name, target)
        with open(target, "rb") as local:
            results[name].append(digest(local.read()))
    return results


def test_filesystem_used_before_fork_reads_correctly_in_forked_pool(store, root, tmp_path):
    global _FORKED_FS
    fs = new_fs(store, max_workers=4)
    contents = {f"{root}/fork/{i:02d}.bin": pattern_bytes(64 * 1024 + i * 4099, seed=i)
                for i in range(24)}
    contents[f"{root}/fork/large.bin"] = pattern_bytes(11 * MIB, seed=99)  # parallel ranges
    # Use every connection path in the parent first: pooled keep-alive sockets now exist.
    fs.pipe({name: data for name, data in contents.items() if not name.endswith("large.bin")})
    local = tmp_path / "large.bin"
    local.write_bytes(contents[f"{root}/fork/large.bin"])
    fs.put_file(str(local), f"{root}/fork/large.bin")
    assert len(fs.ls(f"{root}/fork")) == 25
    assert fs.cat(list(contents)) == contents

    _FORKED_FS = fs
    names = sorted(contents)
    tasks = [(names[i::6], str(tmp_path)) for i in range(6)]
    try:
        with multiprocessing.get_context("fork").Pool(6) as pool:
            outcomes = pool.map(_read_in_child, tasks)
    finally:
        _FORKED_FS = None
    seen = {}
    for outcome in outcomes:
        seen.update(outcome)
    assert seen == {name: [digest(data)] * 3 for name, data in contents.items()}
    assert fs.cat(names[0]) == contents[names[0]]  # the parent still works afterwards


# -- reads pin the object --------------------------------------------------------------------


def replace_after_first_get(monkeypatch, fs, client, bucket, key, new_data):
    """Replace the object (a real PUT) once the filesystem's first GET was sent, before the
    second: the ranges after the first must not read the new bytes."""
    real_open = fs.client.open_object
    lock = threading.Lock()
    state = {"gets": 0}

    def open_object(*args, **kwargs):
        with lock:
            state["gets"] += 1
            if state["gets"] == 2:
                client.put_object(bucket, key, new_data)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(fs.client, "open_object", open_object)


@pytest.mark.parametrize("on_error", ["return", "raise"])
def test_cat_ranges_of_an_object_replaced_between_ranges_fail(
    store, root, client, fs_bucket, monkeypatch, on_error
):
    fs = new_fs(store)
    data = pattern_bytes(4000, seed=1)
    path = f"{root}/pinned.bin"
    fs.pipe({path: data, f"{root}/other.bin": data[::-1]})
    # Unchanged objects: pinned ranges (negative ones too) read as usual.
    assert fs.cat_ranges([path, f"{root}/other.bin", path, f"{root}/missing"],
                         [0, 10, -100, 0], [10, 20, None, 5])[:3] == [
        data[:10], data[::-1][10:20], data[-100:]]
    replace_after_first_get(monkeypatch, fs, client, fs_bucket, path.split("/", 1)[1],
                            pattern_bytes(4000, seed=2))
    # Apart, and not merged (max_gap=0): one request per range.
    paths, starts, ends = [path] * 4, [0, 1000, 2000, 3000], [900, 1900, 2900, 3900]
    if on_error == "raise":
        with pytest.raises(ConcurrentModificationError) as caught:
            fs.cat_ranges(paths, starts, ends, on_error="raise", max_gap=0)
        assert isinstance(caught.value, OSError)
        return
    results = fs.cat_ranges(paths, starts, ends, on_error="return", max_gap=0)
    assert all(isinstance(result, ConcurrentModificationError) for result in results), results


# -- downloads stay inside the destination ---------------------------------------------------


class HostileListingFS(UnifiedFileSystem):
    """Lists keys a hostile server could return; each maps to a real, harmless object.

    SeaweedFS refuses such keys, so the listing is the test's: ``find`` reports the hostile
    names and ``split_path`` resolves them to where their bytes really are.
    """

    hostile: ClassVar[dict[str, str]] = {}

    def find(self, path, *args, **kwargs):
        names = super().find(path, *args, **kwargs)
        extra = [name for name in self.hostile if name.startswith(self._strip_protocol(path))]
        if isinstance(names, dict):
            names.update({name: {"name": name, "type": "file", "size": 1} for name in extra})
            return names
        return sorted([*names, *extra])

    def split_path(self, path):
        path = self._strip_protocol(path)
        return super().split_path(self.hostile.get(path, path))

    def isdir(self, path):
        return False if self._strip_protocol(path) in self.hostile else super().isdir(path)


@pytest.mark.parametrize("hostile_key", ["dir/../../escaped.txt", "dir/../../../escaped.txt",
                                         "dir/sub/../../../escaped.txt"])
def test_recursive_get_never_writes_outside_the_destination(
    store, root, tmp_path, monkeypatch, hostile_key
):
    # The project's own check, not the installed fsspec's (older fsspec versions lack it).
    monkeypatch.setattr(fsspec.spec, "check_contained", lambda *args: None)
    fs = HostileListingFS(skip_instance_cache=True, **storage_options(store))
    fs.pipe({f"{root}/dir/ok.txt": b"ok", f"{root}/real-evil.txt": b"evil"})
    fs.hostile = {f"{root}/{hostile_key}": f"{root}/real-evil.txt"}
    destination = tmp_path / "a" / "b" / "destination"
    destination.mkdir(parents=True)
    with pytest.raises(UnsafeLocalPathError, match=r"escaped\.txt"):
        fs.get(f"{root}/dir", str(destination), recursive=True)
    written = [os.path.join(d, f) for d, _, files in os.walk(tmp_path) for f in files]
    assert not any(name.endswith("escaped.txt") for name in written), written
    assert isinstance(UnsafeLocalPathError("x"), ValueError)
    # Ordinary keys, even with dots inside a name, still download.
    fs.hostile = {}
    fs.pipe(f"{root}/dir/x..y/b.txt", b"b")
    fs.get(f"{root}/dir", str(destination), recursive=True)
    assert (destination / "dir" / "ok.txt").read_bytes() == b"ok"
    assert (destination / "dir" / "x..y" / "b.txt").read_bytes() == b"b"


def test_get_into_a_destination_written_with_dot_dot(store, root, tmp_path, monkeypatch):
    """Only keys may not climb out: a destination the caller spells with ``..`` is fine."""
    fs = new_fs(store)
    fs.pipe({f"{root}/src/a.txt": b"a", f"{root}/src/sub/b.txt": b"b"})
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    fs.get(f"{root}/src", "../out", recursive=True)
    fs.get(f"{root}/src/a.txt", "../single.bin")
    assert (tmp_path / "out" / "a.txt").read_bytes() == b"a"
    assert (tmp_path / "out" / "sub" / "b.txt").read_bytes() == b"b"
    assert (tmp_path / "single.bin").read_bytes() == b"a"




# -- create-only writes ----------------------------------------------------------------------


def race(writers) -> list[BaseException | None]:
    """Run the writers at the same moment; each result is the exception or ``None``."""
    barrier = threading.Barrier(len(writers))
    results: list[BaseException | None] = [None] * len(writers)

    def run(index, writer):
        barrier.wait()
        try:
            writer()
        except BaseException as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def assert_exactly_one_won(results, fs, path, candidates):
    failures = [result for result in results if result is not None]
    assert len(failures) == len(results) - 1, results
    assert all(isinstance(failure, FileExistsError) for failure in failures), failures
    assert fs.cat(path) in candidates


def test_racing_create_writers_exactly_one_succeeds(store, root, tmp_path):
    fs = new_fs(store)
    values = [pattern_bytes(1000, seed=seed) for seed in (3, 4, 5)]
    path = f"{root}/pipe-race"
    results = race([lambda v=v: fs.pipe_file(path, v, mode="create") for v in values])
    assert_exactly_one_won(results, fs, path, values)

    sources = []
    for seed, value in enumerate(values):
        source = tmp_path / f"source-{seed}.bin"
        source.write_bytes(value)
        sources.append(source)
    path = f"{root}/put-race"
    results = race([lambda s=s: fs.put_file(str(s), path, mode="create") for s in sources])
    assert_exactly_one_won(results, fs, path, values)


def complete_after_another_writer(monkeypatch, fs, other_writer):
    """Let ``other_writer`` finish its write just before ``fs`` completes its multipart upload.

    Deterministic: SeaweedFS checks ``If-None-Match`` on Complete, but does not serialise
    Completes that arrive at the same moment (measured: three at once can all succeed).
    """
    real_complete = fs.client.complete_multipart_upload

    def complete_multipart_upload(*args, **kwargs):
        other_writer()
        return real_complete(*args, **kwargs)

    monkeypatch.setattr(fs.client, "complete_multipart_upload", complete_multipart_upload)


@pytest.mark.parametrize("kind", ["put_file", "pipe_file"])
def test_create_only_multipart_write_loses_to_a_writer_that_completed_first(
    store, root, client, fs_bucket, tmp_path, monkeypatch, kind
):
    path = f"{root}/mp-create.bin"
    ours, theirs = pattern_bytes(11 * MIB, seed=1), pattern_bytes(6 * MIB, seed=2)
    complete_after_another_writer(monkeypatch, fs := new_fs(store),
                                  lambda: new_fs(store).pipe_file(path, theirs))
    with pytest.raises(FileExistsError):
        if kind == "put_file":
            source = tmp_path / "ours.bin"
            source.write_bytes(ours)
            fs.put_file(str(source), path, mode="create")
        else:
            fs.pipe_file(path, ours, mode="create")
    assert new_fs(store).cat(path) == theirs
    assert list(client.list_multipart_uploads(fs_bucket, root.split("/", 1)[1])) == []


def test_put_file_create_refuses_an_existing_object(store, root, tmp_path):
    fs = new_fs(store)
    source = tmp_path / "small.txt"
    source.write_bytes(b"new")
    fs.pipe(f"{root}/exists.txt", b"old")
    with pytest.raises(FileExistsError):
        fs.put_file(str(source), f"{root}/exists.txt", mode="create")
    assert fs.cat(f"{root}/exists.txt") == b"old"


# -- transactions ----------------------------------------------------------------------------


def write_every_kind(fs, root, local):
    fs.pipe_file(f"{root}/tx/small.bin", b"small")
    fs.pipe_file(f"{root}/tx/large.bin", pattern_bytes(11 * MIB, seed=7))
    fs.put_file(str(local), f"{root}/tx/put.bin")
    fs.touch(f"{root}/tx/touched")
    with fs.open(f"{root}/tx/opened.bin", "wb") as handle:
        handle.write(pattern_bytes(6 * MIB, seed=8))


TX_NAMES = ["small.bin", "large.bin", "put.bin", "touched", "opened.bin"]


def test_transaction_defers_every_write_to_commit(store, root, client, fs_bucket, tmp_path):
    fs = new_fs(store)
    observer = new_fs(store)
    local = tmp_path / "put.bin"
    local.write_bytes(pattern_bytes(7 * MIB, seed=9))
    with fs.transaction:
        write_every_kind(fs, root, local)
        visible = [name for name in TX_NAMES if observer.exists(f"{root}/tx/{name}")]
        assert visible == [], f"visible before commit: {visible}"
    assert sorted(observer.ls(f"{root}/tx")) == sorted(f"{root}/tx/{n}" for n in TX_NAMES)
    assert fs.cat(f"{root}/tx/put.bin") == local.read_bytes()
    assert fs.cat(f"{root}/tx/large.bin") == pattern_bytes(11 * MIB, seed=7)
    assert fs.cat(f"{root}/tx/touched") == b""
    assert list(client.list_multipart_uploads(fs_bucket, root.split("/", 1)[1])) == []


def test_transaction_that_raises_discards_every_write(store, root, client, fs_bucket,
                                                      tmp_path):
    fs = new_fs(store)
    local = tmp_path / "put.bin"
    local.write_bytes(pattern_bytes(7 * MIB, seed=9))
    with pytest.raises(RuntimeError, match="original"), fs.transaction:
        write_every_kind(fs, root, local)
        raise RuntimeError("original")
    assert not fs._intrans
    assert [name for name in TX_NAMES if fs.exists(f"{root}/tx/{name}")] == []
    assert list(client.list_multipart_uploads(fs_bucket, root.split("/", 1)[1])) == []
    fs.pipe_file(f"{root}/tx/after", b"immediate")  # no longer deferred
    assert new_fs(store).cat(f"{root}/tx/after") == b"immediate"


def test_get_file_into_a_stream_that_takes_part_of_each_write(ufs, root):
    """A stream may take fewer bytes than offered (a buffered pipe whose reader is slow or
    gone reports a short count): every byte must still arrive, in order."""

    class ShortWrites:
        def __init__(self) -> None:
            self.received = bytearray()

        def write(self, data) -> int:
            taken = bytes(data[:1000])
            self.received += taken
            return len(taken)

    data = pattern_bytes(3 * MIB + 17)
    ufs.pipe_file(f"{root}/short.bin", data)
    sink = ShortWrites()
    ufs.get_file(f"{root}/short.bin", None, outfile=sink)
    assert bytes(sink.received) == data
