"""Request and response bodies: bounded streaming readers that compute CRC-64 on the way."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO

from oss2.utils import Crc64

from .errors import OSSServiceError

COPY_CHUNK_BYTES = 1024 * 1024
SPOOL_MEMORY_BYTES = 16 * 1024 * 1024  # larger bodies spill to a temporary file


class BodyReader:
    """A file-like view of exactly ``length`` bytes of ``source``, CRC-64 computed as read.

    ``requests`` streams it upstream (it has ``read`` and ``__len__``), so an upload passes
    through the gateway without being held in memory.
    """

    def __init__(self, source: IO[bytes], length: int) -> None:
        self._source = source
        self._remaining = length
        self.length = length
        self._crc = Crc64()

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        if size is None or size < 0 or size > self._remaining:
            size = self._remaining
        data = self._source.read(size)
        if not data:
            raise OSSServiceError(400, "IncompleteBody",
                                  "The request body is shorter than Content-Length.")
        self._remaining -= len(data)
        self._crc.update(data)
        return data

    def read_all(self, limit_bytes: int) -> bytes:
        if self.length > limit_bytes:
            raise OSSServiceError(400, "EntityTooLarge", "The request body is too large.")
        return self.read()

    @property
    def fully_read(self) -> bool:
        return self._remaining <= 0

    @property
    def crc64(self) -> int:
        return self._crc.crc

    def drain(self, limit_bytes: int) -> bool:
        """Discard what is left (keeps the connection usable); False if too much is left."""
        if self._remaining > limit_bytes:
            return False
        while self._remaining > 0:
            self.read(min(self._remaining, COPY_CHUNK_BYTES))
        return True


def read_chunked(rfile: IO[bytes]) -> BodyReader:
    """Decode a ``Transfer-Encoding: chunked`` body into a spooled file (bounded memory)."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (returned)
    total = 0
    while True:
        size_line = rfile.readline(1024)
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise OSSServiceError(400, "InvalidRequest", "Malformed chunked body.") from None
        if size == 0:
            break
        remaining = size
        while remaining:
            data = rfile.read(min(remaining, COPY_CHUNK_BYTES))
            if not data:
                raise OSSServiceError(400, "IncompleteBody", "Truncated chunked body.")
            spool.write(data)
            remaining -= len(data)
        total += size
        rfile.readline(1024)  # the CRLF closing the chunk
    while rfile.readline(8192).strip():  # optional trailers up to the empty line
        pass
    spool.seek(0)
    return BodyReader(spool, total)


def spool_with_crc(chunks: Iterator[bytes]) -> tuple[IO[bytes], int, int]:
    """Copy a response body aside, returning ``(file, length, crc64)``.

    Needed because the CRC header has to be sent before the body it describes.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 (returned)
    crc = Crc64()
    length = 0
    for chunk in chunks:
        spool.write(chunk)
        crc.update(chunk)
        length += len(chunk)
    spool.seek(0)
    return spool, length, crc.crc


def iter_file(file: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := file.read(COPY_CHUNK_BYTES):
            yield chunk
    finally:
        file.close()
