"""fsspec and s3fs semantics of the filesystem, per provider, against the real server (issue 8).

Directory markers, the thread-safe listing cache, versions, options and the s3fs-shaped API.
"""

from __future__ import annotations

import io
import sys
import threading
import uuid

import fsspec
import pytest

from fsspec_unified.driver.exceptions import ConcurrentModificationError
from fsspec_unified.driver.types import MIB
from fsspec_unified.filesystem import UnifiedFileSystem
from tests.filesystem.conftest import storage_options
from tests.helpers import force_multipart_copy, pattern_bytes


def new_fs(store, **extra) -> UnifiedFileSystem:
    return fsspec.filesystem("unified", skip_instance_cache=True,
                             **storage_options(store, **extra))


def keys_under(client, bucket: str, prefix: str) -> list[str]:
    return sorted(item.key for item in client.list_objects(bucket, prefix))


# -- directory markers -----------------------------------------------------------------------


def test_directory_markers_are_directories_never_files(ufs, root, client, fs_bucket):
    prefix = root.split("/", 1)[1]
    client.put_object(fs_bucket, f"{prefix}/d/", b"")  # the AWS console's marker
    # The marker s3fs's old mkdir, Hadoop and Spark write: an empty "dir/" with a type.
    client.put_object(fs_bucket, f"{prefix}/d/sub/", b"", content_type="application/x-directory")
    client.put_object(fs_bucket, f"{prefix}/d/file.txt", b"x")
    client.put_object(fs_bucket, f"{prefix}/empty/", b"")

    assert ufs.find(root) == [f"{root}/d/file.txt"]
    found = ufs.find(root, withdirs=True, detail=True)
    assert {name: entry["type"] for name, entry in found.items()} == {
        root: "directory", f"{root}/d": "directory", f"{root}/d/file.txt": "file",
        f"{root}/d/sub": "directory", f"{root}/empty": "directory",
    }
    assert {e["name"]: e["type"] for e in ufs.ls(f"{root}/d", detail=True)} == {
        f"{root}/d/file.txt": "file", f"{root}/d/sub": "directory"}
    assert ufs.ls(f"{root}/empty") == []
    for directory in (f"{root}/empty", f"{root}/d/sub", f"{root}/d"):
        assert ufs.info(directory)["type"] == "directory"
        assert ufs.isdir(directory) and not ufs.isfile(directory)

    ufs.rm(f"{root}/d", recursive=True)  # deletes "d/" and "d/sub/" themselves
    assert keys_under(client, fs_bucket, f"{prefix}/") == [f"{prefix}/empty/"]
    ufs.rmdir(f"{root}/empty")  # an empty directory is its marker
    assert keys_under(client, fs_bucket, f"{prefix}/") == []

    # mkdir of a deeper path writes no marker (as s3fs): prefixes exist through objects.
    ufs.mkdir(f"{root}/made/deep")
    assert keys_under(client, fs_bucket, f"{prefix}/") == []


def test_rmdir_refuses_a_prefix_with_objects_and_deletes_an_empty_bucket(ufs, root, provider):
    ufs.pipe(f"{root}/full/x", b"x")
    with pytest.raises(FileExistsError):
        ufs.rmdir(f"{root}/full")
    assert ufs.cat(f"{root}/full/x") == b"x"
    with pytest.raises(FileNotFoundError):
        ufs.rmdir(f"{root}/nothing-here")
    bucket = f"rmdir-{provider}-{uuid.uuid4().hex[:8]}"
    ufs.mkdir(bucket)
    ufs.rmdir(bucket)
    assert not ufs.exists(bucket)


# -- the listing cache under concurrent writes -----------------------------------------------


def test_concurrent_writes_invalidate_a_populated_cache_without_key_error(store, root):
    fs = new_fs(store, max_workers=32)
    directories = [f"{root}/cache/{d}" for d in range(2)]
    names = {f"{directory}/{i:03d}": b"x" for directory in directories for i in range(60)}
    fs.pipe(names)
    cached = [root, f"{root}/cache", *directories, root.split("/")[0]]
    listings = {path: fs.ls(path, detail=True) for path in cached}
    errors: list[BaseException] = []
    stop = threading.Event()

    def keep_cache_populated() -> None:  # as concurrent readers and writers do
        while not stop.is_set():
            try:
                for path, listing in listings.items():
                    fs.dircache[path] = listing
                    fs.ls(path)
                    fs.invalidate_cache(f"{path}/written-elsewhere")
            except BaseException as error:
                errors.append(error)
                return

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: the race shows within seconds
    fillers = [threading.Thread(target=keep_cache_populated) for _ in range(4)]
    try:
        for thread in fillers:
            thread.start()
        for _ in range(4):
            fs.pipe(names)  # 32 threads, each invalidating the parents of what it wrote
    finally:
        stop.set()
        for thread in fillers:
            thread.join()
        sys.setswitchinterval(interval)
    assert errors == []
    assert len(fs.find(f"{root}/cache")) == len(names)


# -- versions --------------------------------------------------------------------------------


def test_version_aware_reads_every_version(store, ufs, versioned_bucket, tmp_path):
    fs = new_fs(store, version_aware=True)
    path = f"{versioned_bucket}/doc.txt"
    fs.pipe(path, b"first version")
    first = fs.info(path)["VersionId"]
    fs.pipe(path, b"second")
    second = fs.info(path)["VersionId"]
    assert first and second and first != second

    assert fs.cat_file(path) == b"second"
    assert fs.cat_file(path, version_id=first) == b"first version"
    assert fs.cat_file(f"{path}?versionId={first}", start=6) == b"version"
    with fs.open(path, "rb", version_id=first) as handle:
        assert handle.read() == b"first version"
    with fs.open(f"{path}?versionId={first}", "rb") as handle:
        assert handle.read() == b"first version"
    info = fs.info(path, version_id=first)
    assert info["size"] == len(b"first version") and info["VersionId"] == first
    fs.get_file(path, str(tmp_path / "old.txt"), version_id=first)
    assert (tmp_path / "old.txt").read_bytes() == b"first version"

    versions = fs.object_version_info(path)
    assert {v["VersionId"] for v in versions} == {first, second}
    assert [v["IsLatest"] for v in versions if v["VersionId"] == second] == [True]
    assert fs.ukey(path, version_id=first) != fs.ukey(path)
    assert fs.checksum(f"{path}?versionId={first}") != fs.checksum(path)
    assert fs.checksum(f"{path}?versionId={second}") == fs.checksum(path)

    with pytest.raises(ValueError, match="version"):
        ufs.cat_file(path, version_id=first)  # not version aware
    with pytest.raises(ValueError, match="version"):
        ufs.object_version_info(path)
    with pytest.raises(ValueError, match="version"):
        fs.open(path, "wb", version_id=first)


def test_version_aware_needs_a_driver_that_supports_versions(store, client):
    if client.capabilities.supports_versioning:
        assert new_fs(store, version_aware=True).version_aware
        return
    with pytest.raises(ValueError, match="versioning"):
        new_fs(store, version_aware=True)


# -- options, buckets that cannot be inspected, get_file targets, copies ---------------------


def test_block_size_option_reaches_reads_and_fsid_is_stable(store, root):
    fs = new_fs(store, block_size=7 * MIB)
    fs.pipe(f"{root}/blocks", b"x" * 100)
    with fs.open(f"{root}/blocks", "rb") as handle:
        assert handle.blocksize == 7 * MIB
    assert fs.blocksize == 7 * MIB
    assert fs.fsid == new_fs(store).fsid and fs.fsid.startswith("unified-")
    elsewhere = new_fs(store, endpoint_url="http://127.0.0.1:9")
    assert elsewhere.fsid != fs.fsid


def test_bucket_writable_but_not_inspectable_behaves_like_s3fs(store, limited_store, client,
                                                              provider):
    bucket = f"limited-{provider}-{uuid.uuid4().hex[:8]}"
    client.create_bucket(bucket)
    fs = new_fs(limited_store)
    assert fs.exists(bucket)
    assert fs.info(bucket)["type"] == "directory"
    fs.makedirs(bucket, exist_ok=True)
    fs.makedirs(f"{bucket}/deep/prefix", exist_ok=True)
    fs.mkdir(f"{bucket}/deeper")
    fs.pipe(f"{bucket}/k.txt", b"v")
    assert fs.exists(f"{bucket}/k.txt") and fs.cat(f"{bucket}/k.txt") == b"v"
    assert fs.ls(bucket) == [f"{bucket}/k.txt"]
    assert not fs.exists(f"{bucket}/absent")


def test_get_file_into_outfile_and_file_like_destinations(ufs, root, tmp_path):
    data = pattern_bytes(3 * MIB + 5, seed=4)
    ufs.pipe(f"{root}/g.bin", data)
    buffer = io.BytesIO()
    ufs.get_file(f"{root}/g.bin", buffer)
    assert buffer.getvalue() == data
    with open(tmp_path / "out.bin", "wb") as outfile:
        ufs.get_file(f"{root}/g.bin", str(tmp_path / "unused.bin"), outfile=outfile)
    assert (tmp_path / "out.bin").read_bytes() == data
    assert not (tmp_path / "unused.bin").exists()


def test_get_file_of_a_small_object_is_one_get(ufs, root, tmp_path, monkeypatch):
    """No isdir probe and no HEAD before a download: its first GET tells file from directory
    and gives the size and ETag; an object within one range costs that one request."""
    data = pattern_bytes(2 * MIB, seed=6)
    ufs.pipe({f"{root}/d/f.bin": data, f"{root}/d/sub/g.bin": b"g"})
    calls: list[str] = []
    for name in ("head_object", "list_objects", "open_object", "get_object_stream"):
        original = getattr(ufs.client, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(ufs.client, name, spy)
    ufs.get_file(f"{root}/d/f.bin", str(tmp_path / "f.bin"))
    assert (tmp_path / "f.bin").read_bytes() == data
    assert calls == ["open_object"], calls
    ufs.get_file(f"{root}/d/sub", str(tmp_path / "sub"))  # a directory is made locally
    assert (tmp_path / "sub").is_dir()
    with pytest.raises(FileNotFoundError):
        ufs.get_file(f"{root}/d/absent", str(tmp_path / "absent"))
    assert not (tmp_path / "absent").exists()


def test_find_withdirs_of_an_empty_directory_lists_it(ufs, root, client, fs_bucket):
    """As fsspec's own ``find``: the directory itself, even with nothing below it."""
    client.put_object(fs_bucket, f"{root.split('/', 1)[1]}/empty/", b"")
    assert ufs.find(f"{root}/empty", withdirs=True) == [f"{root}/empty"]
    assert ufs.find(f"{root}/empty") == []


def test_multipart_copy_keeps_content_type_and_metadata(ufs, root, client, fs_bucket,
                                                        monkeypatch):
    key = root.split("/", 1)[1]
    client.put_object(fs_bucket, f"{key}/src.csv", pattern_bytes(7 * MIB, seed=5),
                      content_type="text/csv", metadata={"owner": "h3", "stage": "raw"})
    force_multipart_copy(ufs, monkeypatch, 6 * MIB)
    ufs.cp_file(f"{root}/src.csv", f"{root}/copy.data")
    copied = client.head_object(fs_bucket, f"{key}/copy.data")
    assert copied.content_type == "text/csv"
    assert dict(copied.metadata) == {"owner": "h3", "stage": "raw"}
    assert ufs.cat(f"{root}/copy.data") == pattern_bytes(7 * MIB, seed=5)


def test_multipart_copy_of_a_source_replaced_mid_copy_fails_and_leaves_nothing(
    ufs, root, client, fs_bucket, monkeypatch
):
    """The part copies are pinned to the source's ETag: never an object of two versions."""
    key = root.split("/", 1)[1]
    client.put_object(fs_bucket, f"{key}/src.bin", pattern_bytes(7 * MIB, seed=7))
    force_multipart_copy(ufs, monkeypatch, 6 * MIB)
    original = ufs.client.upload_part_copy

    def replace_source_first(*args, **kwargs):
        client.put_object(fs_bucket, f"{key}/src.bin", pattern_bytes(7 * MIB, seed=8))
        return original(*args, **kwargs)

    monkeypatch.setattr(ufs.client, "upload_part_copy", replace_source_first)
    with pytest.raises(ConcurrentModificationError):
        ufs.cp_file(f"{root}/src.bin", f"{root}/copy.bin")
    assert not client.object_exists(fs_bucket, f"{key}/copy.bin")
    assert [u for u in client.list_multipart_uploads(fs_bucket, f"{key}/")] == []


# -- the s3fs-shaped API ---------------------------------------------------------------------


def test_info_and_ls_entries_carry_s3fs_keys_and_ls_returns_names(ufs, root):
    ufs.pipe({f"{root}/k.txt": b"abc", f"{root}/sub/x": b"x"})
    assert ufs.ls(root) == [f"{root}/k.txt", f"{root}/sub"]
    s3fs_keys = {"name", "size", "type", "Key", "Size", "LastModified", "ETag", "VersionId",
                 "ContentType", "StorageClass"}
    listed = {entry["name"]: entry for entry in ufs.ls(root, detail=True)}
    for entry in (ufs.info(f"{root}/k.txt"), listed[f"{root}/k.txt"]):
        assert s3fs_keys <= set(entry), s3fs_keys - set(entry)
        assert entry["Key"] == f"{root}/k.txt" and entry["Size"] == 3
        assert entry["StorageClass"] and entry["ETag"]
    directory = listed[f"{root}/sub"]
    assert directory["StorageClass"] == "DIRECTORY" and directory["Size"] == 0
    assert directory["Key"] == f"{root}/sub"


def test_find_with_prefix_and_maxdepth(ufs, root):
    ufs.pipe({f"{root}/{name}": b"x" for name in ["ab.txt", "ac/x", "b.txt", "ab/deep/y"]})
    assert ufs.find(root, prefix="a") == [f"{root}/ab.txt", f"{root}/ab/deep/y", f"{root}/ac/x"]
    assert ufs.find(root, prefix="a", maxdepth=1) == [f"{root}/ab.txt"]


def test_content_type_and_metadata_keywords_and_guessed_types(ufs, root, client, fs_bucket,
                                                              tmp_path):
    key = root.split("/", 1)[1]

    def head(name):
        return client.head_object(fs_bucket, f"{key}/{name}")

    ufs.pipe_file(f"{root}/guessed.csv", b"a,b")
    ufs.pipe_file(f"{root}/given.bin", b"x", ContentType="application/x-custom",
                  Metadata={"k": "v"})
    with ufs.open(f"{root}/opened.json", "wb", Metadata={"m": "1"}) as handle:
        handle.write(b"{}")
    local = tmp_path / "page.html"
    local.write_bytes(b"<p>")
    ufs.put_file(str(local), f"{root}/uploaded")
    ufs.put_file(str(local), f"{root}/uploaded-typed.html", ContentType="text/plain",
                 Metadata={"from": "put"})
    assert head("guessed.csv").content_type == "text/csv"
    assert head("given.bin").content_type == "application/x-custom"
    assert dict(head("given.bin").metadata) == {"k": "v"}
    assert head("opened.json").content_type == "application/json"
    assert dict(head("opened.json").metadata) == {"m": "1"}
    assert head("uploaded").content_type == "text/html"  # guessed from the local name
    assert head("uploaded-typed.html").content_type == "text/plain"
    assert dict(head("uploaded-typed.html").metadata) == {"from": "put"}


def test_rm_of_missing_paths_and_bad_modes_globs_and_closed_writes(ufs, root):
    with pytest.raises(FileNotFoundError):
        ufs.rm(f"{root}/missing")
    with pytest.raises(FileNotFoundError):
        ufs.rm(f"{root}/missing", recursive=True)
    ufs.pipe(f"{root}/f", b"x")
    for mode in ("ab", "r+b", "w+b", "rw"):
        with pytest.raises(ValueError):
            ufs.open(f"{root}/f", mode)
    handle = ufs.open(f"{root}/written", "wb")
    handle.write(b"x")
    handle.close()
    with pytest.raises(ValueError):
        handle.write(b"after close")
    for pattern in (f"{root}/a**b", f"{root}/***"):
        with pytest.raises(ValueError):
            ufs.glob(pattern)
    ufs.rm(f"{root}/f")
    assert not ufs.exists(f"{root}/f")
