"""Under transient faults every operation completes, with the right bytes.

Each test runs one group of filesystem operations (uploads, reads, listings and deletes,
copies) through the fault proxy with one kind of fault injected on a seeded schedule, for
every provider, then checks the result through a client that talks to the server directly. A
plan injects at most :data:`MAX_FAULTS` faults (one stall; an error answer repeated for a
second try counts twice), fewer than the retry policy's attempts, so every operation must
survive; each test also asserts that faults of its kind were injected, so none passes
vacuously.

No multipart upload may be left on the server either, including the ones started by a
CreateMultipartUpload whose answer was lost (reset or truncated after the server made the
upload): the client aborts those once its retry succeeds (``UploadOperation.create_upload``).
"""

from __future__ import annotations

import os

import pytest

from fsspec_unified.driver.types import MIB
from fsspec_unified.testing.fault_proxy import (
    ERROR_RESPONSES,
    FAULT_KINDS,
    RESET_REQUEST,
    STALL,
    FaultPlan,
    FaultProxy,
)
from tests.faults.conftest import PART_BYTES, STALL_S
from tests.helpers import force_multipart_copy, pattern_bytes
from tests.reliability_tally import TALLY

SEED = 20261130
MAX_FAULTS = 3
PROBABILITY = 0.4
SMALL_BYTES = 300 * 1024
#: Two parts: one of PART_BYTES and a shorter last one.
LARGE_BYTES = PART_BYTES + MIB + 7

#: Faults that need no request body (reads, listings and copies send none).
NO_BODY_KINDS = [kind for kind in FAULT_KINDS if kind != RESET_REQUEST]


def transient(kind: str, **filters) -> FaultPlan:
    """Faults of one kind on a seeded schedule, few enough for every request to survive."""
    return FaultPlan(seed=SEED, probability=PROBABILITY, kinds=(kind,),
                     max_faults=1 if kind == STALL else MAX_FAULTS,  # a stall costs seconds
                     burst=2 if kind in ERROR_RESPONSES else 1, stall_s=STALL_S, **filters)


def survived(operation: str, data_bytes: int = 0) -> None:
    TALLY.add("operations_survived", kind=operation)
    TALLY.add("bytes_verified", data_bytes)


def assert_injected(proxy: FaultProxy, kind: str) -> None:
    assert proxy.injected[kind] > 0, f"no {kind} fault was injected: the test proved nothing"
    assert set(proxy.injected) == {kind}


def stored(client, path: str) -> bytes:
    bucket, key = path.split("/", 1)
    return client.get_object(bucket, key)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_uploads_complete_with_the_right_bytes(kind, faulty_fs, fault_proxy, fault_root,
                                               client, tmp_path):
    small, large = pattern_bytes(SMALL_BYTES, 1), pattern_bytes(LARGE_BYTES, 2)
    (tmp_path / "small").write_bytes(small)
    (tmp_path / "large").write_bytes(large)
    fault_proxy.plan = transient(kind)

    faulty_fs.put_file(str(tmp_path / "small"), f"{fault_root}/put-small")
    faulty_fs.put_file(str(tmp_path / "large"), f"{fault_root}/put-large")
    faulty_fs.pipe(f"{fault_root}/pipe-small", small)
    faulty_fs.pipe(f"{fault_root}/pipe-large", large)
    with faulty_fs.open(f"{fault_root}/open-wb", "wb") as handle:
        for offset in range(0, LARGE_BYTES, 1000 * 1000):
            handle.write(large[offset:offset + 1000 * 1000])

    fault_proxy.plan = None
    assert_injected(fault_proxy, kind)
    bucket, directory = fault_root.split("/", 1)
    assert list(client.list_multipart_uploads(bucket, f"{directory}/")) == []
    for name, data in [("put-small", small), ("put-large", large), ("pipe-small", small),
                       ("pipe-large", large), ("open-wb", large)]:
        assert stored(client, f"{fault_root}/{name}") == data, name
        survived(name.replace("-small", "").replace("-large", "_multipart").replace("-", "_"),
                 len(data))


@pytest.mark.parametrize("kind", NO_BODY_KINDS)
def test_reads_return_the_right_bytes(kind, faulty_fs, fault_proxy, fault_root, client,
                                      tmp_path):
    bucket, directory = fault_root.split("/", 1)
    data = pattern_bytes(LARGE_BYTES, 3)
    client.put_object(bucket, f"{directory}/object", data)
    path = f"{fault_root}/object"
    fault_proxy.plan = transient(kind)

    assert faulty_fs.cat_file(path) == data
    survived("cat_file", len(data))
    assert faulty_fs.cat_file(path, start=PART_BYTES - 100, end=PART_BYTES + 4000) == (
        data[PART_BYTES - 100:PART_BYTES + 4000])
    assert faulty_fs.cat_file(path, start=-5000) == data[-5000:]
    survived("cat_file_range", 5100 + 4000)
    ranges = [(0, 10), (1000, 300_000), (PART_BYTES - 1, PART_BYTES + 2 * MIB), (-20, None)]
    assert faulty_fs.cat_ranges([path] * len(ranges), [r[0] for r in ranges],
                                [r[1] for r in ranges], on_error="raise") == [
        data[0:10], data[1000:300_000], data[PART_BYTES - 1:PART_BYTES + 2 * MIB], data[-20:]]
    survived("cat_ranges", 10 + 299_000 + 2 * MIB + 1 + 20)
    with faulty_fs.open(path, "rb", block_size=MIB) as handle:
        for offset in (LARGE_BYTES - 10, 17, PART_BYTES, 3 * MIB + 5):
            handle.seek(offset)
            assert handle.read(MIB + 3) == data[offset:offset + MIB + 3], offset
    survived("open_rb_seeks", 4 * MIB)
    faulty_fs.get_file(path, str(tmp_path / "downloaded"))
    assert (tmp_path / "downloaded").read_bytes() == data
    assert os.listdir(tmp_path) == ["downloaded"]  # no partial file left beside it
    survived("get_file", len(data))

    fault_proxy.plan = None
    assert_injected(fault_proxy, kind)


#: ``h/``, ``h-1/`` and ``h.txt`` sort in that order in a tree (SeaweedFS lists that way) but
#: not by key (``-`` and ``.`` sort before ``/``): a listing must give all of them whatever the
#: order across its pages.
KEPT_NAMES = ["top-a", "top-b", "h/x", "h-1/y", "h.txt"]
LISTED_NAMES = [f"d{i % 3}/f{i:02d}" for i in range(30)] + KEPT_NAMES


@pytest.mark.parametrize("kind", NO_BODY_KINDS)
def test_listings_and_batch_deletes_complete(kind, faulty_fs, fault_proxy, fault_root, client):
    bucket, directory = fault_root.split("/", 1)
    for name in LISTED_NAMES:
        client.put_object(bucket, f"{directory}/{name}", name.encode())
    fault_proxy.plan = transient(kind, requests={"list", "head", "delete_objects"})

    assert sorted(faulty_fs.ls(fault_root)) == sorted(
        [f"{fault_root}/{name}" for name in ("d0", "d1", "d2", "top-a", "top-b", "h", "h-1",
                                             "h.txt")])
    faulty_fs.invalidate_cache()
    assert faulty_fs.find(fault_root) == sorted(f"{fault_root}/{n}" for n in LISTED_NAMES)
    survived("ls")
    survived("find")
    faulty_fs.invalidate_cache()
    # A page that fails is sent again with its continuation token: nothing repeated or lost.
    for page_size in (1, 7):
        listed = [entry.key for entry in faulty_fs.transfers.list_objects(
            faulty_fs.client, bucket, f"{directory}/", page_size=page_size)]
        assert sorted(listed) == sorted(f"{directory}/{n}" for n in LISTED_NAMES)
        assert len(listed) == len(set(listed))
    survived("list_pages")
    doomed = [f"{fault_root}/{name}" for name in LISTED_NAMES if name.startswith("d")]
    faulty_fs.rm(doomed)
    survived("rm_many")

    fault_proxy.plan = None
    assert_injected(fault_proxy, kind)
    left = sorted(item.key for item in client.list_objects(bucket, f"{directory}/"))
    assert left == sorted(f"{directory}/{name}" for name in KEPT_NAMES)


@pytest.mark.parametrize("kind", NO_BODY_KINDS)
def test_copies_complete_with_the_right_bytes(kind, faulty_fs, fault_proxy, fault_root,
                                              client, monkeypatch):
    bucket, directory = fault_root.split("/", 1)
    small, large = pattern_bytes(SMALL_BYTES, 4), pattern_bytes(LARGE_BYTES, 5)
    client.put_object(bucket, f"{directory}/small", small)
    client.put_object(bucket, f"{directory}/large", large)
    force_multipart_copy(faulty_fs, monkeypatch, PART_BYTES)
    fault_proxy.plan = transient(kind)

    faulty_fs.cp_file(f"{fault_root}/small", f"{fault_root}/small-copy")
    faulty_fs.cp_file(f"{fault_root}/large", f"{fault_root}/large-copy")

    fault_proxy.plan = None
    assert_injected(fault_proxy, kind)
    assert stored(client, f"{fault_root}/small-copy") == small
    survived("cp_file", len(small))
    assert stored(client, f"{fault_root}/large-copy") == large
    survived("cp_file_multipart", len(large))



def test_an_upload_whose_create_answer_was_lost_is_aborted_even_if_the_listing_fails_once(
        faulty_fs, fault_proxy, fault_root, client, tmp_path):
    """The create's answer is lost after the server made the upload; the retry succeeds; the
    listing that finds the lost upload is itself cut once. The lost upload must still be
    aborted, and the object must be right."""
    data = pattern_bytes(LARGE_BYTES, 6)
    (tmp_path / "large").write_bytes(data)
    fault_proxy.plan = FaultPlan(requests={"create_upload", "list"},
                                 script=("reset_response", None, "reset_response"))

    faulty_fs.put_file(str(tmp_path / "large"), f"{fault_root}/lost-create")

    fault_proxy.plan = None
    assert fault_proxy.injected["reset_response"] == 2
    bucket, directory = fault_root.split("/", 1)
    assert list(client.list_multipart_uploads(bucket, f"{directory}/")) == []
    assert stored(client, f"{fault_root}/lost-create") == data
    survived("put_multipart_lost_create", len(data))
