"""UnifiedFileSystem's own behaviour, per provider, against the real server."""

from __future__ import annotations

import pickle
import threading
import tracemalloc
from datetime import datetime

import fsspec
import pytest
import requests
from fsspec.callbacks import Callback

from fsspec_unified import RetryPolicy, exceptions
from fsspec_unified.driver.types import MIB
from fsspec_unified.filesystem import UnifiedFileSystem
from tests.filesystem.conftest import storage_options
from tests.helpers import force_multipart_copy, pattern_bytes


class CountingCallback(Callback):
    """Records set_size calls and the sum of relative updates (thread-safe)."""

    def __init__(self):
        super().__init__()
        self.sizes: list[int] = []
        self.moved = 0
        self._lock = threading.Lock()

    def set_size(self, size):
        self.sizes.append(size)
        super().set_size(size)

    def relative_update(self, inc=1):
        with self._lock:
            self.moved += inc
        super().relative_update(inc)


def make_tree(ufs, root):
    for name in ["a.txt", "dir/b.txt", "dir/sub/c.txt", "other/d.txt"]:
        ufs.pipe(f"{root}/{name}", name.encode())


# -- registration and options ----------------------------------------------------------------


def test_protocol_is_registered_by_entry_point():
    assert fsspec.get_filesystem_class("unified") is UnifiedFileSystem


def test_fsspec_open_with_url_and_storage_options(store, root, ufs):
    options = storage_options(store)
    with fsspec.open(f"unified://{root}/via-url.txt", "wb", **options) as handle:
        handle.write(b"hello")
    with fsspec.open(f"unified://{root}/via-url.txt", "rb", **options) as handle:
        assert handle.read() == b"hello"


def test_options_from_fsspec_config(store, root, monkeypatch):
    monkeypatch.setitem(
        fsspec.config.conf, "unified",
        {"provider": store.provider, "endpoint": store.endpoint_url, "region": store.region,
         "access_key": store.access_key, "secret_key": store.secret_key},
    )
    fs = fsspec.filesystem("unified", skip_instance_cache=True)
    fs.pipe(f"{root}/configured", b"x")
    assert fs.cat(f"{root}/configured") == b"x"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"provider": "gcs"}, "provider"),
        ({"endpoint_url": "ftp://x"}, "endpoint"),
        ({"block_sise": 5}, "block_sise"),
        ({"client_kwargs": {"verify": False}}, "verify"),
        ({"max_workers": "many"}, "max_workers"),
        ({"retry_policy": "5 attempts"}, "retry_policy"),
    ],
)
def test_bad_options_raise_value_error_naming_the_option(options, named):
    with pytest.raises(ValueError, match=named):
        UnifiedFileSystem(skip_instance_cache=True, **options)


def test_provider_aliases_and_s3fs_names(store, root, provider):
    alias = {"s3": "aws", "minio": "minio", "oss": "aliyun"}[provider]
    fs = UnifiedFileSystem(
        provider=alias, client_kwargs={"endpoint_url": store.endpoint_url,
                                       "region_name": store.region},
        key=store.access_key, secret=store.secret_key, skip_instance_cache=True,
    )
    assert fs.client.provider == provider
    assert fs.exists(root.split("/")[0])


def test_wrong_secret_is_a_permission_error(store, fs_bucket):
    fs = UnifiedFileSystem(**storage_options(store, secret="wrong"),
                           skip_instance_cache=True)
    with pytest.raises(PermissionError):
        fs.ls(fs_bucket)
    assert "wrong" not in repr(fs.client)


def test_filesystem_pickles_and_rebuilds_its_client(ufs, root):
    ufs.pipe(f"{root}/p", b"pickled")
    clone = pickle.loads(pickle.dumps(ufs))
    assert clone.cat(f"{root}/p") == b"pickled"


# -- listing and info ------------------------------------------------------------------------


def test_ls_info_and_types(ufs, root, fs_bucket):
    make_tree(ufs, root)
    assert ufs.ls(root, detail=False) == [f"{root}/a.txt", f"{root}/dir", f"{root}/other"]
    entries = {e["name"]: e for e in ufs.ls(root, detail=True)}
    assert entries[f"{root}/a.txt"]["type"] == "file" and entries[f"{root}/a.txt"]["size"] == 5
    assert entries[f"{root}/dir"]["type"] == "directory"
    assert fs_bucket in ufs.ls("", detail=False)
    assert ufs.info(f"{root}/dir/b.txt")["size"] == len("dir/b.txt")
    assert ufs.isdir(f"{root}/dir") and ufs.isfile(f"{root}/a.txt")
    assert not ufs.isdir(f"{root}/a.txt") and not ufs.isfile(f"{root}/dir")
    assert ufs.isdir(fs_bucket) and ufs.exists(fs_bucket)
    assert ufs.ls(f"{root}/a.txt", detail=False) == [f"{root}/a.txt"]
    with pytest.raises(FileNotFoundError):
        ufs.ls(f"{root}/nothing")
    with pytest.raises(FileNotFoundError):
        ufs.info(f"{root}/nothing")
    assert not ufs.exists(f"{root}/nothing") and not ufs.exists("no-such-bucket-here/x")


def test_find_glob_walk_du(ufs, root):
    make_tree(ufs, root)
    assert ufs.find(root) == [f"{root}/{n}" for n in
                              ["a.txt", "dir/b.txt", "dir/sub/c.txt", "other/d.txt"]]
    assert ufs.find(root, maxdepth=1) == [f"{root}/a.txt"]
    assert f"{root}/dir/sub" in ufs.find(root, withdirs=True)
    assert ufs.find(root, prefix="di") == [f"{root}/dir/b.txt", f"{root}/dir/sub/c.txt"]
    assert ufs.glob(f"{root}/**/*.txt") == ufs.find(root)
    assert ufs.glob(f"{root}/dir/*") == [f"{root}/dir/b.txt", f"{root}/dir/sub"]
    walked = {path: (sorted(dirs), sorted(files)) for path, dirs, files in ufs.walk(root)}
    assert walked[root] == (["dir", "other"], ["a.txt"])
    assert walked[f"{root}/dir"] == (["sub"], ["b.txt"])
    assert ufs.du(root) == sum(len(n) for n in ["a.txt", "dir/b.txt", "dir/sub/c.txt",
                                                 "other/d.txt"])


def test_listing_cache_stays_consistent_after_changes(ufs, root):
    make_tree(ufs, root)
    assert f"{root}/new.txt" not in ufs.ls(root, detail=False)  # fills the cache
    ufs.pipe(f"{root}/new.txt", b"n")
    assert f"{root}/new.txt" in ufs.ls(root, detail=False)
    ufs.cp(f"{root}/new.txt", f"{root}/copy.txt")
    assert ufs.exists(f"{root}/copy.txt")
    ufs.mv(f"{root}/copy.txt", f"{root}/moved.txt")
    assert not ufs.exists(f"{root}/copy.txt") and ufs.exists(f"{root}/moved.txt")
    ufs.rm(f"{root}/moved.txt")
    assert f"{root}/moved.txt" not in ufs.ls(root, detail=False)
    with ufs.open(f"{root}/written.bin", "wb") as handle:
        handle.write(b"w")
    assert ufs.info(f"{root}/written.bin")["size"] == 1
    ufs.touch(f"{root}/touched")
    assert ufs.size(f"{root}/touched") == 0


# -- reading ---------------------------------------------------------------------------------


def test_cat_file_ranges_and_cat_of_many(ufs, root):
    data = pattern_bytes(1000)
    ufs.pipe(f"{root}/r.bin", data)
    assert ufs.cat_file(f"{root}/r.bin", 10, 20) == data[10:20]
    assert ufs.cat_file(f"{root}/r.bin", -10) == data[-10:]
    assert ufs.cat_file(f"{root}/r.bin", 990, 5000) == data[990:]
    assert ufs.cat_file(f"{root}/r.bin", 2000) == b""
    make_tree(ufs, root)
    many = ufs.cat(f"{root}/dir", recursive=True)
    assert many == {f"{root}/dir/b.txt": b"dir/b.txt", f"{root}/dir/sub/c.txt": b"dir/sub/c.txt"}
    assert ufs.cat_ranges([f"{root}/r.bin"] * 3, [0, 5, 100], [5, 10, 200]) == [
        data[0:5], data[5:10], data[100:200]
    ]
    with pytest.raises(FileNotFoundError):
        ufs.cat_file(f"{root}/absent")


def test_open_read_seek_and_eof(ufs, root):
    data = pattern_bytes(3 * MIB + 11)
    ufs.pipe(f"{root}/big.bin", data)
    for cache_type in ("readahead", "blockcache", "bytes", "none"):
        with ufs.open(f"{root}/big.bin", "rb", block_size=MIB, cache_type=cache_type) as handle:
            assert handle.read(100) == data[:100]
            handle.seek(2 * MIB)
            assert handle.read(MIB) == data[2 * MIB:3 * MIB]
            assert handle.read() == data[3 * MIB:]
            assert handle.read() == b""
            handle.seek(-5, 2)
            assert handle.read(100) == data[-5:]


def test_open_rb_callback_counts_bytes_read(ufs, root):
    ufs.pipe(f"{root}/cb.bin", pattern_bytes(100_000))
    callback = CountingCallback()
    with ufs.open(f"{root}/cb.bin", "rb", callback=callback, cache_type="none") as handle:
        handle.read()
    assert callback.moved == 100_000


# -- writing ---------------------------------------------------------------------------------


def test_open_wb_small_file_is_one_put(ufs, root):
    with ufs.open(f"{root}/small.bin", "wb") as handle:
        handle.write(b"tiny")
    assert ufs.cat(f"{root}/small.bin") == b"tiny"
    assert "-" not in ufs.info(f"{root}/small.bin")["ETag"]


def test_open_wb_large_file_is_multipart_with_parts_per_block(ufs, root, client, fs_bucket):
    data = pattern_bytes(17 * MIB + 1, seed=3)
    callback = CountingCallback()
    with ufs.open(f"{root}/big.bin", "wb", block_size=5 * MIB, callback=callback) as handle:
        for offset in range(0, len(data), 3 * MIB):  # writes not aligned to blocks
            handle.write(data[offset:offset + 3 * MIB])
    assert ufs.cat(f"{root}/big.bin") == data
    assert ufs.info(f"{root}/big.bin")["ETag"].endswith("-4")
    assert callback.moved == len(data)
    assert list(client.list_multipart_uploads(fs_bucket, root.split("/", 1)[1])) == []


def test_exception_inside_with_aborts_the_upload(ufs, root, client, fs_bucket):
    with pytest.raises(RuntimeError, match="boom"), ufs.open(
        f"{root}/aborted.bin", "wb", block_size=5 * MIB
    ) as handle:
        handle.write(pattern_bytes(12 * MIB))
        raise RuntimeError("boom")
    assert not ufs.exists(f"{root}/aborted.bin")
    assert list(client.list_multipart_uploads(fs_bucket, root.split("/", 1)[1])) == []


def test_write_memory_is_bounded_by_block_size(ufs, root):
    block = 5 * MIB
    chunk = pattern_bytes(MIB, seed=9)
    tracemalloc.start()
    try:
        with ufs.open(f"{root}/stream.bin", "wb", block_size=block) as handle:
            for _ in range(60):
                handle.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ufs.size(f"{root}/stream.bin") == 60 * MIB
    bound = (ufs.options.max_workers + 3) * block
    assert peak < bound, f"peak {peak / MIB:.1f} MiB for 60 MiB written"


def test_xb_mode_refuses_to_overwrite_and_pipe_create(ufs, root):
    ufs.pipe(f"{root}/exists", b"1")
    with pytest.raises(FileExistsError):
        ufs.open(f"{root}/exists", "xb")
    with pytest.raises(FileExistsError):
        ufs.pipe_file(f"{root}/exists", b"2", mode="create")
    assert ufs.cat(f"{root}/exists") == b"1"
    with pytest.raises(ValueError):
        ufs.open(f"{root}/exists", "ab")


def test_put_and_get_files_and_directories_with_progress(ufs, root, tmp_path):
    source = tmp_path / "src"
    (source / "nested").mkdir(parents=True)
    files = {"one.bin": pattern_bytes(6 * MIB, 1), "nested/two.bin": pattern_bytes(1000, 2)}
    for name, data in files.items():
        (source / name).write_bytes(data)
    callback = CountingCallback()
    ufs.put(str(source), f"{root}/up", recursive=True, callback=callback)
    # fsspec's convention: the outer callback counts the paths put (2 directories, 2 files).
    assert callback.sizes == [4] and callback.moved == 4
    assert ufs.cat(f"{root}/up/one.bin") == files["one.bin"]
    assert ufs.cat(f"{root}/up/nested/two.bin") == files["nested/two.bin"]

    byte_callback = CountingCallback()
    ufs.put_file(str(source / "one.bin"), f"{root}/single.bin", callback=byte_callback)
    assert byte_callback.sizes == [6 * MIB] and byte_callback.moved == 6 * MIB

    target = tmp_path / "down"
    ufs.get(f"{root}/up", str(target), recursive=True)
    assert (target / "one.bin").read_bytes() == files["one.bin"]
    assert (target / "nested" / "two.bin").read_bytes() == files["nested/two.bin"]
    byte_callback = CountingCallback()
    ufs.get_file(f"{root}/single.bin", str(tmp_path / "single.bin"), callback=byte_callback)
    assert byte_callback.moved == 6 * MIB


def test_tqdm_callback_works(ufs, root, tmp_path):
    from fsspec.callbacks import TqdmCallback

    path = tmp_path / "t.bin"
    path.write_bytes(pattern_bytes(2 * MIB))
    ufs.put_file(str(path), f"{root}/t.bin", callback=TqdmCallback())
    ufs.get_file(f"{root}/t.bin", str(tmp_path / "t2.bin"), callback=TqdmCallback())
    assert (tmp_path / "t2.bin").read_bytes() == path.read_bytes()


# -- copy, move, delete ----------------------------------------------------------------------


def test_cp_file_server_side_and_multipart_copy(ufs, root, monkeypatch):
    data = pattern_bytes(13 * MIB, seed=4)
    ufs.pipe(f"{root}/src.bin", data)
    ufs.cp_file(f"{root}/src.bin", f"{root}/copy.bin")
    assert ufs.cat(f"{root}/copy.bin") == data
    # Force the path used above the provider's 5 GiB single-copy limit.
    force_multipart_copy(ufs, monkeypatch, 6 * MIB)
    callback = CountingCallback()
    ufs.cp_file(f"{root}/src.bin", f"{root}/big-copy.bin", callback=callback)
    assert ufs.cat(f"{root}/big-copy.bin") == data
    assert ufs.info(f"{root}/big-copy.bin")["ETag"].endswith("-1")  # 64 MiB copy parts
    assert callback.moved == len(data)


def test_rm_recursive_and_many_paths_in_batches(ufs, root):
    names = [f"{root}/many/{i:04d}" for i in range(40)]
    ufs.pipe({name: b"x" for name in names})
    ufs.rm(names[:5])
    assert len(ufs.find(f"{root}/many")) == 35
    ufs.rm(f"{root}/many", recursive=True)
    assert not ufs.exists(f"{root}/many")
    ufs.rm([f"{root}/never-there"])  # bulk deletes ignore missing keys, as on S3
    with pytest.raises(FileNotFoundError):
        ufs.rm(f"{root}/never-there")
    with pytest.raises(FileNotFoundError):
        ufs.rm_file(f"{root}/never-there")


def test_bucket_mkdir_makedirs_rmdir(ufs, provider):
    import uuid

    bucket = f"mk-{provider}-{uuid.uuid4().hex[:8]}"
    ufs.mkdir(bucket)
    assert ufs.isdir(bucket) and bucket in ufs.ls("", detail=False)
    with pytest.raises(FileExistsError):
        ufs.makedirs(bucket)
    ufs.makedirs(bucket, exist_ok=True)
    ufs.makedirs(f"{bucket}/deep/prefix", exist_ok=True)  # prefixes need nothing
    ufs.pipe(f"{bucket}/deep/file", b"x")
    with pytest.raises(exceptions.BucketNotEmptyError):
        ufs.rmdir(bucket)
    ufs.rm(bucket, recursive=True)
    assert not ufs.exists(bucket)


# -- metadata and URLs -----------------------------------------------------------------------


def test_checksum_ukey_modified_created_sign(ufs, root):
    ufs.pipe(f"{root}/meta", b"content")
    ukey = ufs.ukey(f"{root}/meta")
    assert ukey == ufs.info(f"{root}/meta")["ETag"]
    ufs.pipe(f"{root}/meta", b"changed")
    assert ufs.ukey(f"{root}/meta") != ukey
    assert isinstance(ufs.checksum(f"{root}/meta"), int)
    modified = ufs.modified(f"{root}/meta")
    assert isinstance(modified, datetime) and ufs.created(f"{root}/meta") == modified
    assert isinstance(ufs.created(root.split("/")[0]), datetime)
    assert requests.get(ufs.sign(f"{root}/meta", expiration=60), timeout=10).content == b"changed"


def test_missing_and_wrong_kind_paths_raise_fsspec_errors(ufs, root):
    ufs.pipe(f"{root}/file", b"x")
    with pytest.raises(FileNotFoundError):
        ufs.open(f"{root}/missing", "rb")
    with pytest.raises(IsADirectoryError):
        ufs.cat_file(root.split("/")[0])
    with pytest.raises(FileNotFoundError):
        ufs.ls("no-such-bucket-anywhere")
    with pytest.raises(NotADirectoryError):
        ufs.rmdir(f"{root}/file")


def test_options_from_environment_variables(store, provider, root):
    """``FSSPEC_UNIFIED_<OPTION>`` variables reach the filesystem through fsspec's config."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "FSSPEC_UNIFIED_PROVIDER": provider,
        "FSSPEC_UNIFIED_ENDPOINT": store.endpoint_url,
        "FSSPEC_UNIFIED_ACCESS_KEY": store.access_key,
        "FSSPEC_UNIFIED_SECRET_KEY": store.secret_key,
        "FSSPEC_UNIFIED_REGION": store.region,
        "FSSPEC_UNIFIED_MAX_WORKERS": "3",
    }
    script = (
        "import fsspec, sys; fs = fsspec.filesystem('unified'); "
        f"fs.pipe('{root}/env', b'from env'); "
        "sys.stdout.write(str(fs.options.max_workers) + fs.cat('" + root + "/env').decode())"
    )
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout == "3from env"


def test_a_closed_filesystem_still_works_and_takes_a_retry_policy(store, root):
    """``close()`` releases threads and pools (counted in tests/faults/test_soak.py); used
    again, the filesystem builds them anew. ``retry_policy`` reaches every transfer."""
    policy = RetryPolicy(max_attempts=7, max_elapsed_s=30)
    fs = UnifiedFileSystem(**storage_options(store, retry_policy=policy),
                           skip_instance_cache=True)
    assert fs.transfers.config.retry_policy == policy
    fs.pipe({f"{root}/a": b"1", f"{root}/b": b"2"})
    fs.close()
    assert fs.cat([f"{root}/a", f"{root}/b"]) == {f"{root}/a": b"1", f"{root}/b": b"2"}
    fs.close()
    fs.close()  # twice is fine
