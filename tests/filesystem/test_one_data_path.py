"""The one data path, seen from the filesystem: one budget, one rate limit, retried reads,
merged ranges, growing parts. Every test runs over HTTP against the real server; the only
fault made by hand is a connection dropped in the middle of a body, which no server does on
demand."""

from __future__ import annotations

import threading

import fsspec
import pytest

from fsspec_unified.driver import exceptions as errors
from fsspec_unified.driver.engine import part_sizes
from fsspec_unified.driver.types import MIB
from tests.filesystem.conftest import storage_options
from tests.helpers import pattern_bytes

#: SeaweedFS (behind the OSS gateway too) refuses smaller parts, whatever the provider allows.
SERVER_MIN_PART_BYTES = 5 * MIB


def new_fs(store, **options):
    return fsspec.filesystem("unified", skip_instance_cache=True,
                             **storage_options(store, **options))


class InFlight:
    """Counts the client's requests in flight (wrapping its methods), and the most at once."""

    def __init__(self, monkeypatch, client, names) -> None:
        self.now = self.peak = 0
        self._lock = threading.Lock()
        for name in names:
            monkeypatch.setattr(client, name, self._counting(getattr(client, name)))

    def _counting(self, method):
        def counted(*args, **kwargs):
            with self._lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            try:
                return method(*args, **kwargs)
            finally:
                with self._lock:
                    self.now -= 1
        return counted


def test_bulk_put_of_multipart_files_shares_one_budget(store, root, tmp_path, monkeypatch):
    """``put`` of many files, some of them multipart: never more requests in flight than
    ``max_workers`` (not files x parts), and every byte arrives."""
    block = SERVER_MIN_PART_BYTES
    fs = new_fs(store, max_workers=3, block_size=block)
    files = {f"big{i}.bin": pattern_bytes(2 * block + 1000, seed=i) for i in range(3)}
    files.update({f"small{i}.bin": pattern_bytes(2000, seed=10 + i) for i in range(12)})
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    counter = InFlight(monkeypatch, fs.client,
                       ["put_object", "upload_part", "create_multipart_upload",
                        "complete_multipart_upload"])
    fs.put(str(tmp_path) + "/", f"{root}/tree/", recursive=True)
    assert 1 < counter.peak <= 3
    assert fs.cat([f"{root}/tree/{name}" for name in files]) == {
        f"{root}/tree/{name}": data for name, data in files.items()}


def test_the_rate_limit_counts_every_byte_of_every_operation(store, root, monkeypatch):
    fs = new_fs(store, rate_limit_bytes_per_s=1e9)
    counted: list[int] = []
    bucket = fs.transfers.scheduler.bandwidth
    original = bucket.consume
    monkeypatch.setattr(bucket, "consume",
                        lambda size, **kwargs: (counted.append(size), original(size, **kwargs)))
    data = pattern_bytes(300_000, seed=1)
    fs.pipe(f"{root}/limited.bin", data)
    with fs.open(f"{root}/streamed.bin", "wb") as handle:
        handle.write(data)
    assert sum(counted) == 2 * len(data)
    counted.clear()
    assert fs.cat_file(f"{root}/limited.bin") == data
    with fs.open(f"{root}/streamed.bin", "rb", cache_type="none") as handle:
        assert handle.read() == data
    assert fs.cat_ranges([f"{root}/limited.bin"], [10], [20]) == [data[10:20]]
    assert sum(counted) == 2 * len(data) + 10


def test_rate_limited_reads_return_the_bytes_themselves(store, root):
    """Rate-limited reads come in chunks: every chunk must be kept, as bytes."""
    fs = new_fs(store, rate_limit_bytes_per_s=1e9)
    data = pattern_bytes(3 * MIB + 5, seed=5)
    fs.pipe(f"{root}/chunked.bin", data)
    whole = fs.cat_file(f"{root}/chunked.bin")
    part = fs.cat_file(f"{root}/chunked.bin", 10, 2 * MIB)
    ranges = fs.cat_ranges([f"{root}/chunked.bin"] * 2, [0, 3 * MIB], [MIB + 1, 3 * MIB + 5])
    assert isinstance(whole, bytes) and whole == data
    assert isinstance(part, bytes) and part == data[10:2 * MIB]
    assert ranges == [data[:MIB + 1], data[3 * MIB:]]
    assert all(isinstance(value, bytes) for value in ranges)


class DropsMidBody:
    """The client's first GET delivers ``cut`` bytes and then loses its connection."""

    def __init__(self, monkeypatch, client, cut: int) -> None:
        self.calls: list[tuple] = []
        self._real = client.open_object
        self._cut = cut
        monkeypatch.setattr(client, "open_object", self.open_object)

    def open_object(self, bucket, key, start=None, end=None, **kwargs):
        self.calls.append((start, end, kwargs.get("if_match")))
        reader = self._real(bucket, key, start, end, **kwargs)
        if len(self.calls) > 1:
            return reader
        cut, real_read, real_readinto = self._cut, reader.read, reader.readinto

        def allowed(size: int) -> int:
            if cut == 0:
                reader.close()
                raise errors.ConnectionError("connection reset by peer (test)")
            return min(size, cut) if size >= 0 else cut

        def read(size=-1):
            nonlocal cut
            data = real_read(allowed(size))
            cut -= len(data)
            return data

        def readinto(buffer):
            nonlocal cut
            count = real_readinto(memoryview(buffer)[:allowed(len(buffer))])
            cut -= count
            return count

        reader.read, reader.readinto = read, readinto
        return reader


@pytest.mark.parametrize("how", ["cat_file", "get_file", "open"])
def test_a_read_whose_connection_drops_mid_body_resumes_pinned(store, root, tmp_path,
                                                                 monkeypatch, how):
    fs = new_fs(store)
    data = pattern_bytes(3 * MIB, seed=2)
    path = f"{root}/dropped.bin"
    fs.pipe(path, data)
    etag = fs.info(path)["ETag"].strip('"')
    faults = DropsMidBody(monkeypatch, fs.client, cut=MIB + 17)
    if how == "cat_file":
        assert fs.cat_file(path) == data
    elif how == "get_file":
        fs.get_file(path, str(tmp_path / "out.bin"))
        assert (tmp_path / "out.bin").read_bytes() == data
    else:
        with fs.open(path, "rb", cache_type="none") as handle:
            assert handle.read() == data
    assert len(faults.calls) == 2
    start, _end, if_match = faults.calls[1]
    assert start == MIB + 17  # only the missing bytes were asked for again...
    assert if_match.strip('"') == etag  # ...from the same object


def test_cat_ranges_merges_nearby_ranges_into_few_requests(store, root, monkeypatch):
    fs = new_fs(store)
    data = pattern_bytes(4 * MIB, seed=3)
    path = f"{root}/ranges.bin"
    fs.pipe(path, data)
    starts = [(i * 20_011) % (4 * MIB - 1000) for i in range(200)]
    ends = [start + 1000 for start in starts]
    calls = []
    original = fs.client.open_object
    monkeypatch.setattr(fs.client, "open_object",
                        lambda *a, **k: (calls.append(a), original(*a, **k))[1])
    results = fs.cat_ranges([path] * 200, starts, ends)
    assert results == [data[s:e] for s, e in zip(starts, ends, strict=True)]
    assert len(calls) <= 4  # 200 ranges within 1 MiB of each other: a few spans


def test_open_wb_grows_its_part_size_as_the_file_grows(store, root, monkeypatch):
    """A file of unknown length is not limited to max_parts x block_size: parts double every
    PARTS_PER_DOUBLING parts (shortened here to 2)."""
    monkeypatch.setattr(part_sizes, "PARTS_PER_DOUBLING", 2)
    fs = new_fs(store)
    block = SERVER_MIN_PART_BYTES
    sizes: dict[int, int] = {}
    original = fs.client.upload_part

    def upload_part(bucket, key, upload_id, number, data, **kwargs):
        sizes[number] = len(data)
        return original(bucket, key, upload_id, number, data, **kwargs)

    monkeypatch.setattr(fs.client, "upload_part", upload_part)
    data = pattern_bytes(8 * block + 5, seed=4)
    with fs.open(f"{root}/growing.bin", "wb", block_size=block) as handle:
        for offset in range(0, len(data), block // 2):
            handle.write(data[offset:offset + block // 2])
    assert [sizes[n] for n in sorted(sizes)] == [block, block, 2 * block, 2 * block,
                                                2 * block + 5]
    assert fs.cat_file(f"{root}/growing.bin") == data
