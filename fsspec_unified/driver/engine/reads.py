"""Reading bytes: one range, one object, or many ranges, always the same way.

Every read the library makes (``cat_file``, ``open("rb")`` block fetches, ``cat_ranges``,
downloads to a file or a stream) goes through :func:`read_range`, which gives it:

- **Retries** under the operation's policy for transient errors, including a connection that
  drops in the middle of a body: the retry asks only for the bytes still missing, and carries
  ``If-Match`` with the ETag of the first response, so the bytes kept and the bytes fetched
  again come from the same object (a replaced object raises ``ConcurrentModificationError``).
- **A slot** of the scheduler's budget while the request runs, and the **rate limit** on every
  chunk received.
- **Progress** for every chunk, and a **length check**: a body shorter than what was asked for
  (and the object has) is a connection error, retried like one.

Larger reads are split into ranges that run concurrently (:func:`read_object`,
:func:`read_ranges`); nearby ranges are merged into one request first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .. import exceptions as errors
from .operation import Operation
from .part_sizes import choose_range_size, streamed_range_size

#: Chunk read (and counted for progress and the rate limit) at a time when the bytes go to a
#: sink that can take them piecemeal (a file): read into a buffer each thread reuses, and
#: handed to the sink as a view of it. Memory reads take a range in one piece.
SINK_CHUNK_BYTES = 1024 * 1024
#: Ranges of one object closer than this are fetched by one request (the gap is discarded).
DEFAULT_MERGE_GAP_BYTES = 1024 * 1024

#: Where read bytes go: ``sink(offset in the object, bytes or a view valid until it returns)``.
Sink = Callable[[int, bytes | memoryview], None]
_BUFFERS = threading.local()


@dataclass
class ObjectSeen:
    """What the first response said about the object: its size and ETag."""

    size: int | None
    etag: str | None


def read_range(
    op: Operation,
    start: int,
    end: int | None,
    sink: Sink,
    *,
    etag: str | None = None,
    version_id: str | None = None,
    reuse_buffer: bool = False,
    restart: Callable[[], object] | None = None,
    report: Callable[[int], object] | None = None,
    on_open: Callable[[ObjectSeen], object] | None = None,
) -> ObjectSeen:
    """Read bytes ``[start, end)`` (``end=None``: to the end) into ``sink``, retried as the
    module docstring says; returns the object's size and ETag as the server gave them.

    ``etag`` pins the read from the first request; without it, retries are pinned to the ETag
    of the first response. Bytes reach the sink in one piece (one allocation) unless a rate
    limit or ``reuse_buffer`` asks for chunks of :data:`SINK_CHUNK_BYTES`; with
    ``reuse_buffer`` each chunk is a view of this thread's buffer, valid only until the sink
    returns (for sinks that copy at once, like a file write).

    A body that fails its whole-object checksum (``IntegrityError``, on the read that ends it)
    cannot be resumed mid-way: a ranged retry has no checksum to vouch for the bytes already
    delivered. With ``restart`` (which makes the sink forget them) the read starts over;
    without, it fails with ``DownloadError``. ``on_open`` is called with what the first
    response said, before its body is read; ``sink``, ``report`` and ``on_open`` run while
    the request holds its slot, so they must not wait for other requests.
    """
    position = start
    seen = ObjectSeen(None, etag)
    opened: list[bool] = []  # whether on_open was called
    chunk_bytes = SINK_CHUNK_BYTES if reuse_buffer or op.scheduler.bandwidth else None

    def attempt() -> None:
        nonlocal position
        try:
            receive()
        except errors.IntegrityError as error:
            if position == start:
                raise
            if restart is None:
                raise errors.DownloadError(
                    f"the body failed its checksum after {position - start} bytes had been "
                    f"passed on: {error}", operation="get_object", bucket=op.bucket, key=op.key,
                ) from error
            restart()
            position = start
            raise

    def receive() -> None:
        nonlocal position
        with op.scheduler.slot() as slot, op.client.open_object(
            op.bucket, op.key, position, end, if_match=seen.etag, version_id=version_id,
        ) as reader:
            if reader.size is not None:
                seen.size = reader.size
            seen.etag = seen.etag or reader.etag  # later attempts read this same object
            if on_open is not None and not opened:
                opened.append(True)
                on_open(seen)
            last = seen.size if end is None else (
                end if seen.size is None else min(end, seen.size))
            if reader.past_end:
                return  # a range that starts past the end: nothing to read
            while last is None or position < last:
                wanted = SINK_CHUNK_BYTES if last is None else last - position
                if chunk_bytes is not None:
                    wanted = min(wanted, chunk_bytes)
                op.throttle(wanted)
                if reuse_buffer:  # into this thread's buffer: no allocation per chunk
                    view = _thread_buffer(chunk_bytes)[:wanted]
                    data = view[:reader.readinto(view)]
                else:
                    data = reader.read(wanted)  # bytes the caller may keep
                if not data:
                    if last is None:
                        return  # no length was announced: the end of the body is the end
                    raise errors.ConnectionError(
                        f"the server sent {position - start} bytes of range {start}-{last} "
                        "and closed the body", operation="get_object", bucket=op.bucket,
                        key=op.key,
                    )
                sink(position, data)
                position += len(data)
                slot.moved(len(data))
                if report is not None:
                    report(len(data))

    op.retry(attempt, f"get range {start}-{'' if end is None else end}")
    return seen


def read_bytes(
    op: Operation,
    start: int,
    end: int | None,
    *,
    etag: str | None = None,
    version_id: str | None = None,
    report: Callable[[int], object] | None = None,
) -> tuple[bytes, ObjectSeen]:
    """One :func:`read_range` into memory: the bytes, and what the response said."""
    pieces: list[bytes] = []
    seen = read_range(op, start, end, lambda _offset, data: pieces.append(data), etag=etag,
                      version_id=version_id, restart=pieces.clear, report=report)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces), seen


def read_object(
    op: Operation,
    start: int = 0,
    end: int | None = None,
    *,
    etag: str | None = None,
    version_id: str | None = None,
) -> bytes:
    """Bytes ``[start, end)`` of the object (``end=None``: to its end), in one request when
    they fit one range, else the first range and then the rest concurrently, every range
    pinned to the first response's ETag.

    The whole object (``start=0``, ``end=None``) is one GET without a range, read to its end:
    only such a read gets the server's whole-object checksum (``ChecksumMode`` on S3, CRC64 on
    OSS), which the drivers verify; for bytes that end up in memory anyway, one stream is
    about as fast as several.
    """
    if start == 0 and end is None:
        return read_bytes(op, 0, None, etag=etag, version_id=version_id)[0]
    first_end = start + choose_range_size(op, None if end is None else end - start)
    if end is not None:
        first_end = min(first_end, end)
    first, seen = read_bytes(op, start, first_end, etag=etag, version_id=version_id)
    last = seen.size if end is None else (end if seen.size is None else min(end, seen.size))
    if last is None or last <= first_end:
        return first
    step = streamed_range_size(op, last - start)
    spans = [(offset, min(offset + step, last)) for offset in range(first_end, last, step)]
    pieces = {start: first}

    def fetch(span: tuple[int, int]) -> None:
        pieces[span[0]] = read_bytes(op, span[0], span[1], etag=seen.etag,
                                     version_id=version_id)[0]

    op.run_parts(fetch, spans)
    return b"".join(pieces[offset] for offset in sorted(pieces))


def read_ranges(
    op: Operation,
    ranges: Sequence[tuple[int, int]],
    *,
    etag: str | None = None,
    version_id: str | None = None,
    merge_gap_bytes: int = DEFAULT_MERGE_GAP_BYTES,
) -> list[bytes]:
    """Several ``[start, end)`` ranges of one object, in the order given.

    Ranges closer than ``merge_gap_bytes`` are fetched by one request; the requests run
    concurrently, all pinned to one ETag (``etag``, or the first response's).
    """
    spans = merge_spans(ranges, merge_gap_bytes, max_span=choose_range_size(op, None) * 2)
    fetched: dict[int, bytes] = {}
    pinned = [etag]

    def fetch(span: tuple[int, int]) -> None:
        data, seen = read_bytes(op, span[0], span[1], etag=pinned[0], version_id=version_id)
        pinned[0] = pinned[0] or seen.etag
        fetched[span[0]] = data

    if spans:
        fetch(spans[0])  # learns the ETag that pins the others
        op.run_parts(fetch, spans[1:])
    return [_slice(fetched, spans, start, end) for start, end in ranges]


def merge_spans(
    ranges: Sequence[tuple[int, int]], gap: int, *, max_span: int
) -> list[tuple[int, int]]:
    """Sorted, non-empty spans covering every range, nearby ranges merged (up to
    ``max_span`` bytes per span, so a merge never stops the requests running in parallel)."""
    spans: list[list[int]] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if spans and start - spans[-1][1] <= gap and max(end, spans[-1][1]) - spans[-1][0] <= (
            max_span
        ):
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return [(start, end) for start, end in spans]


def _slice(fetched: dict[int, bytes], spans: list[tuple[int, int]], start: int,
           end: int) -> bytes:
    if end <= start:
        return b""
    for span_start, span_end in spans:
        if span_start <= start and end <= span_end:
            data = fetched[span_start]
            return data[start - span_start:end - span_start]
    raise AssertionError(f"range {start}-{end} is in no span")  # merge_spans covers all


def _thread_buffer(size: int) -> memoryview:
    """A buffer of at least ``size`` bytes that belongs to the calling thread."""
    buffer = getattr(_BUFFERS, "buffer", None)
    if buffer is None or len(buffer) < size:
        buffer = _BUFFERS.buffer = memoryview(bytearray(size))
    return buffer
