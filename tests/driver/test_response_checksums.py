"""The boto3 driver checks a whole-object read against the checksum the server stored.

An object uploaded with an ``x-amz-checksum-*`` keeps that checksum; a read of the whole object
asks for it (``ChecksumMode=ENABLED``) and botocore compares it with the bytes received. A
proxy that flips one byte of the response body shows that corruption in flight is caught. An
ETag is never used for this: it is not a checksum.
"""

from __future__ import annotations

import base64
import http.client
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from fsspec_unified import UnifiedFileSystem, create_client, exceptions
from tests.helpers import pattern_bytes

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


class _CorruptingProxy(ThreadingHTTPServer):
    """Forwards requests verbatim (the Host header too, so SigV4 signatures still verify) and
    flips the middle byte of the next ``corrupt`` successful response bodies."""

    daemon_threads = True

    def __init__(self, upstream_url: str) -> None:
        self.upstream = urlsplit(upstream_url)
        self.corrupt = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def take_corruption(self) -> bool:
        with self.lock:
            if self.corrupt > 0:
                self.corrupt -= 1
                return True
            return False


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _CorruptingProxy

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        connection = http.client.HTTPConnection(self.server.upstream.hostname,
                                                self.server.upstream.port, timeout=60)
        try:
            connection.putrequest(self.command, self.path, skip_host=True,
                                  skip_accept_encoding=True)
            for name, value in self.headers.items():
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if self.command == "GET" and response.status == 200 and data \
                and self.server.take_corruption():
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET


@pytest.fixture
def corrupting_proxy(s3_server) -> Iterator[_CorruptingProxy]:
    proxy = _CorruptingProxy(s3_server.endpoint_url)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


@pytest.mark.parametrize("provider", ["s3"], indirect=True)
def test_whole_object_read_is_checked_against_the_stored_checksum(
    client, store, bucket, prefix, corrupting_proxy
):
    key = prefix + "with-crc32"
    data = pattern_bytes(300_000)
    crc32 = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    client.sdk.put_object(Bucket=bucket, Key=key, Body=data, ChecksumCRC32=crc32)
    config = store.config(endpoint=corrupting_proxy.endpoint_url, max_retries=0)
    with create_client(config) as proxied:
        assert proxied.get_object(bucket, key) == data
        corrupting_proxy.corrupt = 1
        with pytest.raises(exceptions.IntegrityError):
            proxied.get_object(bucket, key)
        # A range has no stored checksum to compare with: it is read as sent.
        assert proxied.get_object(bucket, key, 10, 20) == data[10:20]


@pytest.mark.parametrize("provider", ["s3"], indirect=True)
@pytest.mark.parametrize("rate_limit", [None, 1e9], ids=["whole", "chunked"])
def test_filesystem_whole_object_read_never_returns_corrupted_bytes(
    client, store, bucket, prefix, corrupting_proxy, rate_limit
):
    """``cat_file`` of a whole object is one unranged GET, so the stored checksum is checked;
    a corrupted body is an ``IntegrityError``, which the engine retries from the first byte
    (a rate limit reads it in chunks: those already received are dropped, not kept)."""
    key = prefix + "fs-with-crc32"
    data = pattern_bytes(3 * 1024 * 1024, seed=1)
    crc32 = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    client.sdk.put_object(Bucket=bucket, Key=key, Body=data, ChecksumCRC32=crc32)
    fs = UnifiedFileSystem(provider="s3", endpoint=corrupting_proxy.endpoint_url,
                           access_key=store.access_key, secret_key=store.secret_key,
                           region=store.region, max_retries=0, skip_instance_cache=True,
                           rate_limit_bytes_per_s=rate_limit)
    corrupting_proxy.corrupt = 1
    assert fs.cat_file(f"{bucket}/{key}") == data
    assert corrupting_proxy.corrupt == 0  # the first body was corrupted, and refused
