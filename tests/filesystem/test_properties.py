"""Property tests of the filesystem, per provider, against the real server.

Hypothesis draws the inputs a user could pass and the assertions say what must hold for every
one of them: any key the naming rules allow round-trips through every way in and out (and
through ``unified://`` URLs); any byte range reads as the same slice of the source Python
slicing gives; any sequence of write sizes through ``open("wb")`` stores exactly the bytes
written. Examples are derandomized (CI runs the same ones every time) and few, so the three
providers together stay within about a minute; every example writes under its own prefix and
deletes what it wrote.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest
import requests
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from fsspec_unified.driver.types import MIB
from fsspec_unified.filesystem import UnifiedFileSystem
from fsspec_unified.paths import VERSION_MARKER
from tests.filesystem.conftest import storage_options
from tests.helpers import pattern_bytes

BASE_SETTINGS = settings(
    deadline=None,  # a request to the server takes what it takes
    derandomize=True,  # the same examples on every run: CI failures reproduce
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,  # derandomized runs need no example database
)


def property_settings(max_examples: int) -> settings:
    """The suite's settings with a per-test budget of examples (each one costs requests)."""
    return settings(BASE_SETTINGS, max_examples=max_examples)


# -- keys --------------------------------------------------------------------------------------

# Characters that URL handling, query strings, shells or HTML mistreat: each must be plain data.
AWKWARD_CHARACTERS = " +%?#=&'\"~;:,@$!*()[]{}<>|^`."

KEY_CHARACTERS = st.one_of(
    st.sampled_from(AWKWARD_CHARACTERS),
    st.sampled_from("abcXYZ019-_"),
    st.sampled_from("éßñ中文😀𝄞\u00a0\u200b\u0301\U0010fffd"),  # multi-byte, non-BMP, invisible
    st.characters(
        codec="utf-8",
        # Cs: lone surrogates have no UTF-8 encoding, so no key can hold them.
        # Cc: control characters are invalid by the key rules this suite follows (S3 advises
        #     against them, and XML 1.0 listings cannot carry most of them).
        exclude_categories=("Cs", "Cc"),
        exclude_characters=(
            "/"  # the separator: segments are drawn one by one and joined with it
            "\\"  # SeaweedFS refuses backslashes or stores them as "/" (seaweedfs.md)
            "\ufffe\uffff"  # not characters in XML 1.0, which DeleteObjects bodies (raw keys)
            # are: SeaweedFS answers MalformedXML, and its listings without URL encoding
            # (the OSS gateway's) send U+FFFD instead
        ),
    ),
)
# Segments that look like encodings, URLs or versioned paths, which a path layer may mangle.
TRICKY_SEGMENTS = st.sampled_from([
    "%2F", "%25", "%00", "a%20b", "+", " ", "?versionId=x", "a?b=c&d", "#frag", "x#y?z",
    "..a", "a..", "...", "~", "'", '"', "unified:", "s3:", "x::y", "e\u0301", "\u00e9",
])
# SeaweedFS's filer refuses a path segment longer than 255 bytes (KeyTooLongError); S3 has no
# such limit, so longer segments are left out rather than reported as failures.
MAX_SEGMENT_BYTES = 255


def _valid_segment(segment: str) -> bool:
    """Empty, ``.`` and ``..`` segments are not keys of a file (the rules exclude them), and a
    segment must fit SeaweedFS's filer."""
    return segment not in ("", ".", "..") and len(segment.encode()) <= MAX_SEGMENT_BYTES


SEGMENTS = st.one_of(
    TRICKY_SEGMENTS,
    st.text(KEY_CHARACTERS, min_size=1, max_size=12),
    st.text(KEY_CHARACTERS, min_size=40, max_size=100),
).filter(_valid_segment)
RELATIVE_KEYS = st.lists(SEGMENTS, min_size=1, max_size=4).map("/".join)


def _key_fits(fs: UnifiedFileSystem, path: str) -> bool:
    """Keys longer than the provider's documented limit (1,024 bytes on S3, 1,023 on OSS) are
    refused by design, not a round-trip failure."""
    _, key = fs.split_path(path)
    return len(key.encode()) <= fs.client.capabilities.max_key_bytes


def _example_root(root: str) -> str:
    """A prefix of its own for one example, so examples never see each other's objects."""
    return f"{root}/{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def versioned_root(client, provider: str) -> Iterator[str]:
    """A versioned bucket of this module's own, for the version-aware examples; every version
    written into it is deleted, then the bucket, once the module is done."""
    bucket = f"props-{provider}-{uuid.uuid4().hex[:8]}"
    client.create_bucket(bucket)
    client.set_bucket_versioning(bucket, True)
    yield bucket
    _delete_every_version(client, bucket, "")
    client.delete_bucket(bucket)


def _delete_every_version(client, bucket: str, prefix: str) -> None:
    """A recursive ``rm`` leaves old versions and delete markers behind; this removes them."""
    for version in list(client.list_object_versions(bucket, prefix)):
        client.delete_object(bucket, version.key, version_id=version.version_id)


@property_settings(30)
@given(
    relative_key=RELATIVE_KEYS,
    write_with=st.sampled_from(["pipe", "put_file", "open"]),
    as_url=st.booleans(),
    version_aware=st.booleans(),
)
@example(relative_key="a b/c+d/e%2Ff/g?h#i=j&k'l\"m", write_with="pipe", as_url=True,
         version_aware=False)
@example(relative_key="x?versionId=abc", write_with="put_file", as_url=False,
         version_aware=False)
@example(relative_key="#fragment/?query/😀𝄞", write_with="open", as_url=True,
         version_aware=True)
def test_any_valid_key_round_trips(store, ufs: UnifiedFileSystem, root: str, versioned_root: str,
                                   tmp_path: Path, relative_key: str, write_with: str,
                                   as_url: bool, version_aware: bool) -> None:
    """What is written under a key is listed under its parent with exactly that name, has that
    name and size in ``info``, and reads back byte for byte, whether the caller passes
    ``bucket/key``, a ``unified://`` URL (to the filesystem or to ``fsspec.url_to_fs``) or a
    presigned URL; on a version-aware filesystem also as ``path?versionId=...``."""
    if version_aware:
        fs = fsspec.filesystem("unified", **storage_options(store, version_aware=True))
        base = f"{versioned_root}/{uuid.uuid4().hex[:12]}/{uuid.uuid4().hex[:8]}"
    else:
        fs, base = ufs, _example_root(root)
    path = f"{base}/{relative_key}"
    assume(_key_fits(fs, path))
    # On a version-aware filesystem "?versionId=" in a path names a version (as in s3fs).
    assume(not (version_aware and VERSION_MARKER in path))
    name = f"unified://{path}" if as_url else path
    assert fs._strip_protocol(name) == path
    data = f"bytes of {relative_key!r}".encode()
    local = tmp_path / f"{uuid.uuid4().hex}.bin"
    try:
        if write_with == "pipe":
            fs.pipe(name, data)
        elif write_with == "put_file":
            local.write_bytes(data)
            fs.put_file(str(local), name)
        else:
            with fs.open(name, "wb") as handle:
                handle.write(data)

        parent = fs._parent(path)
        listing = fs.ls(f"unified://{parent}" if as_url else parent, detail=True)
        assert [(entry["name"], entry["size"], entry["type"]) for entry in listing] == [
            (path, len(data), "file")]
        assert fs.find(base) == [path]
        info = fs.info(name)
        assert (info["name"], info["size"], info["type"]) == (path, len(data), "file")
        assert fs.cat_file(name) == data
        fs.get_file(name, str(local))
        assert local.read_bytes() == data
        with fs.open(name, "rb") as handle:
            assert handle.read() == data
        if "::" not in path:  # fsspec's URL grammar: "::" chains filesystems
            url_fs, url_path = fsspec.core.url_to_fs(f"unified://{path}", **fs.storage_options)
            assert url_path == path
            assert url_fs.cat_file(url_path) == data
        assert requests.get(fs.sign(name, expiration=60), timeout=30).content == data
        if version_aware:
            version = f"{name}{VERSION_MARKER}{info['VersionId']}"
            assert fs.info(version)["name"] == path
            assert fs.cat_file(version) == data
            with fs.open(version, "rb") as handle:
                assert handle.read() == data
    finally:
        fs.rm(base, recursive=True)
        if version_aware:
            bucket, prefix = fs.split_path(base)
            _delete_every_version(fs.client, bucket, prefix)
    assert not fs.exists(path)


def _no_file_is_a_directory(relative_keys: list[str]) -> bool:
    """An object ``a`` next to an object ``a/b`` is both a file and a directory, which fsspec
    cannot show as one name; such sets are left out."""
    directories = {key.rsplit("/", 1)[0] for key in relative_keys if "/" in key}
    directories |= {parent.rsplit("/", i)[0] for parent in directories
                    for i in range(1, parent.count("/") + 1)}
    return not directories & set(relative_keys)


@property_settings(12)
@given(relative_keys=st.lists(RELATIVE_KEYS, min_size=2, max_size=5, unique=True)
       .filter(_no_file_is_a_directory))
@example(relative_keys=["d/a", "d!", "d b/c", "d/😀", "d/\uff01", "d/%2F"])
def test_keys_side_by_side_list_exactly_under_their_parents(ufs: UnifiedFileSystem, root: str,
                                                            relative_keys: list[str]) -> None:
    """Keys that share prefixes, and sort around ``/`` (``!`` and space sort before it),
    each appear exactly once, under their own parent only, next to their sibling
    directories."""
    base = _example_root(root)
    paths = sorted(f"{base}/{key}" for key in relative_keys)
    assume(all(_key_fits(ufs, path) for path in paths))
    try:
        ufs.pipe({path: path.encode() for path in paths})
        assert ufs.find(base) == paths
        children: dict[str, set[str]] = {}
        for path in paths:
            child = path
            while child != base:
                children.setdefault(ufs._parent(child), set()).add(child)
                child = ufs._parent(child)
        for parent, expected in children.items():
            listed = ufs.ls(parent, refresh=True)
            assert sorted(listed) == sorted(expected), parent
    finally:
        ufs.rm(base, recursive=True)


def _filled(size_bytes: int) -> str:
    """A segment of exactly ``size_bytes`` in UTF-8, mostly 4-byte (non-BMP) characters."""
    wide, narrow = divmod(size_bytes, 4)
    return "😀" * wide + "x" * narrow


def test_a_key_of_the_provider_maximum_length_round_trips(ufs: UnifiedFileSystem,
                                                          root: str) -> None:
    """The longest key the provider allows, in multi-byte characters, is still one key."""
    base = _example_root(root)
    _, base_key = ufs.split_path(base)
    room = ufs.client.capabilities.max_key_bytes - len(base_key.encode()) - 1
    segments = []
    while room > MAX_SEGMENT_BYTES:  # segments within SeaweedFS's 255 bytes, "/" included
        segments.append(_filled(MAX_SEGMENT_BYTES - 1))
        room -= MAX_SEGMENT_BYTES
    segments.append(_filled(room))
    path = f"{base}/" + "/".join(segments)
    _, key = ufs.split_path(path)
    assert len(key.encode()) == ufs.client.capabilities.max_key_bytes
    try:
        ufs.pipe(path, b"longest")
        assert ufs.ls(ufs._parent(path)) == [path]
        assert ufs.cat_file(f"unified://{path}") == b"longest"
    finally:
        ufs.rm(base, recursive=True)


# -- byte ranges -------------------------------------------------------------------------------

RANGED_SIZE_BYTES = 300 * 1024 + 7  # an odd size, so no range lines up with it by accident
RANGED_DATA = pattern_bytes(RANGED_SIZE_BYTES, seed=17)


@pytest.fixture(scope="module")
def ranged_object(store, fs_bucket: str) -> Iterator[tuple[UnifiedFileSystem, str]]:
    """One object per provider that every range example reads (written once: cheap)."""
    fs = fsspec.filesystem("unified", skip_instance_cache=True, **storage_options(store))
    path = f"{fs_bucket}/ranges-{uuid.uuid4().hex[:12]}/source.bin"
    fs.pipe_file(path, RANGED_DATA)
    yield fs, path
    fs.rm(path)


# Offsets from well before the start to well past the end, including both edges.
OFFSETS = st.one_of(
    st.none(),
    st.integers(-RANGED_SIZE_BYTES - 1000, RANGED_SIZE_BYTES + 1000),
    st.sampled_from([0, 1, -1, RANGED_SIZE_BYTES, -RANGED_SIZE_BYTES, RANGED_SIZE_BYTES - 1,
                     RANGED_SIZE_BYTES + 1, -RANGED_SIZE_BYTES - 1]),
)


@property_settings(40)
@given(start=OFFSETS, end=OFFSETS)
@example(start=10, end=5)  # inverted
@example(start=RANGED_SIZE_BYTES + 5, end=None)  # past the end
@example(start=-5, end=-10)  # inverted, counted from the end
@example(start=None, end=-RANGED_SIZE_BYTES - 3)  # ends before the start of the object
def test_cat_file_of_any_range_is_the_python_slice(ranged_object, start: int | None,
                                                   end: int | None) -> None:
    """``cat_file(path, start, end) == data[start:end]``: negative bounds count from the end,
    ``None`` is open, and past-the-end or inverted ranges give ``b""`` as slicing does."""
    fs, path = ranged_object
    assert fs.cat_file(path, start=start, end=end) == RANGED_DATA[start:end]


@property_settings(20)
@given(ranges=st.lists(st.tuples(OFFSETS, OFFSETS), min_size=1, max_size=6),
       max_gap=st.sampled_from([None, 0, 64 * 1024]))
def test_cat_ranges_of_any_ranges_are_the_python_slices(ranged_object, ranges, max_gap) -> None:
    """Every range of a ``cat_ranges`` call is its slice, whatever merging of nearby ranges
    the filesystem does, and none of them comes back as an error."""
    fs, path = ranged_object
    starts = [start for start, _ in ranges]
    ends = [end for _, end in ranges]
    results = fs.cat_ranges([path] * len(ranges), starts, ends, max_gap=max_gap)
    assert results == [RANGED_DATA[start:end] for start, end in ranges]


SEEKS = st.tuples(st.just("seek"), st.integers(-RANGED_SIZE_BYTES - 10, RANGED_SIZE_BYTES + 10),
                  st.sampled_from([os.SEEK_SET, os.SEEK_CUR, os.SEEK_END]))
READS = st.tuples(st.just("read"), st.one_of(st.just(-1), st.integers(0, 100_000)),
                  st.just(0))


@property_settings(20)
@given(operations=st.lists(st.one_of(SEEKS, READS), min_size=1, max_size=8),
       block_size=st.sampled_from([1000, 64 * 1024, 5 * MIB]))
@example(operations=[("seek", RANGED_SIZE_BYTES + 10, os.SEEK_SET), ("read", -1, 0),
                     ("read", 5, 0)], block_size=1000)  # reads past the end
@example(operations=[("seek", -10, os.SEEK_END), ("read", 100, 0), ("seek", -5, os.SEEK_CUR),
                     ("read", -1, 0)], block_size=64 * 1024)
@example(operations=[("read", 2500, 0), ("seek", -3000, os.SEEK_CUR), ("read", 1, 0)],
         block_size=1000)  # a seek before the start
def test_seek_and_read_sequences_match_an_in_memory_file(ranged_object, operations,
                                                         block_size: int) -> None:
    """A file opened for reading behaves as ``io.BytesIO`` over the same bytes for any
    sequence of seeks and reads, across block boundaries; a seek before the start raises
    ``ValueError`` (fsspec's rule, where ``BytesIO`` would clamp it) and changes nothing."""
    fs, path = ranged_object
    model = io.BytesIO(RANGED_DATA)
    with fs.open(path, "rb", block_size=block_size) as handle:
        for operation, amount, whence in operations:
            if operation == "read":
                assert handle.read(amount) == model.read(amount)
            else:
                reference = {os.SEEK_SET: 0, os.SEEK_CUR: model.tell(),
                             os.SEEK_END: RANGED_SIZE_BYTES}[whence]
                if reference + amount < 0:
                    with pytest.raises(ValueError):
                        handle.seek(amount, whence)
                    continue
                assert handle.seek(amount, whence) == model.seek(amount, whence)
            assert handle.tell() == model.tell()


# -- writes ------------------------------------------------------------------------------------

# The smallest part SeaweedFS accepts, used as the block size for every provider (OSS allows
# 100 KB parts, but its gateway forwards them to SeaweedFS, which refuses them at Complete).
SERVER_MIN_PART_BYTES = 5 * MIB
MAX_WRITTEN_BYTES = 11 * MIB  # enough to cross SeaweedFS's 5 MiB minimum part twice
WRITE_SOURCE = pattern_bytes(MAX_WRITTEN_BYTES, seed=23)
WRITE_SIZES = st.one_of(
    st.just(0),
    st.integers(1, 4096),
    st.integers(4097, 256 * 1024),
    st.integers(MIB, 3 * MIB),  # a few of these in one file straddle a part boundary
)


@property_settings(15)
@given(sizes=st.lists(WRITE_SIZES, max_size=8).filter(lambda s: sum(s) <= MAX_WRITTEN_BYTES))
@example(sizes=[])  # nothing written: an empty object
@example(sizes=[0, 5 * MIB - 1, 1, 0, 5 * MIB + 1, 3])  # parts exactly at the boundaries
@example(sizes=[3 * MIB, 3 * MIB, 0, 3 * MIB])  # writes that straddle each part
def test_any_write_sizes_reproduce_the_source(ufs: UnifiedFileSystem, root: str,
                                              sizes: list[int]) -> None:
    """Writing the source in pieces of any sizes (0 bytes too) through ``open("wb")`` stores
    exactly the source, whether it stays a single PUT or becomes a multipart upload whose
    part boundaries fall anywhere inside the writes."""
    path = f"{_example_root(root)}/written.bin"
    expected = WRITE_SOURCE[:sum(sizes)]
    try:
        with ufs.open(path, "wb", block_size=SERVER_MIN_PART_BYTES) as handle:
            offset = 0
            for size in sizes:
                assert handle.write(expected[offset:offset + size]) == size
                offset += size
        assert ufs.info(path)["size"] == len(expected)
        assert ufs.cat_file(path) == expected
    finally:
        if ufs.exists(path):
            ufs.rm(path)
