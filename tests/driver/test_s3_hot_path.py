"""The boto3 driver's hot path: GET, HEAD, PUT, UploadPart and ListObjectsV2 signed by botocore
and sent on the driver's own urllib3 pool (``fsspec_unified.driver.s3_signed_requests``).

What it must keep from the boto3 path: every failure is the same exception (class, code, HTTP
status, message) with a request id, the same listings and object info, credentials from the
boto3 chain (refreshed as they expire) and session tokens, the configured proxy. What it adds
is checked too: a body read to its end gives its connection back to the pool, one closed
early is dropped instead of poisoning the pool, uploads with Content-MD5 are signed with
``UNSIGNED-PAYLOAD``. Everything runs against the real server; the only fakes are a forward
proxy (to see what was sent) and a raw socket server for the transport faults no server
produces on demand (a body cut short, a connection reset, a server that stops answering).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import socket
import struct
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from fsspec_unified import OSSConfig, create_client, exceptions
from fsspec_unified.driver.aws_s3 import AWSS3Client
from fsspec_unified.driver.types import MIB
from tests.helpers import pattern_bytes

S3_ONLY = pytest.mark.parametrize("provider", ["s3"], indirect=True)

SPECIAL_NAMES = [
    "with space.txt", "plus+sign", "percent%25and%", "ünï/日本語 ключ", "a&b<c>\"'",
    "control\x01char", "tab\there", "query?and#hash", "semi;colon=eq&amp", "tilde~", "emoji😀",
    "dir with space+/inner",
]


class Boto3Only(AWSS3Client):
    """The same driver with the hot path switched off: every request goes through boto3."""

    _signed = None


def both_paths(config: OSSConfig) -> tuple[AWSS3Client, AWSS3Client]:
    return AWSS3Client(config), Boto3Only(config)


def outcome(call: Callable[[], object]) -> tuple:
    """What a call did: its result, or the error's class, code, status and message, the class
    of the SDK exception under it, and whether it had a request id."""
    try:
        return ("returned", call())
    except exceptions.OSSError as error:
        return (
            type(error).__name__, error.code, error.status, error.message,
            type(error.__cause__).__name__, bool(error.request_id),
        )


def read_all(reader, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    filled = 0
    while filled < size:
        count = reader.readinto(view[filled:])
        if not count:
            break
        filled += count
    return buffer[:filled]


# -- the same errors -------------------------------------------------------------------------


def _open_range_past_end(client, bucket, key):
    # open_object turns a 416 into an empty read; the driver method shows the error itself.
    with client._operation("get_object", bucket, key):
        client._open_object(bucket, key, 100, 200, None, None)


def _wrong_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data + b"!").digest()).decode()


ERROR_CASES = {
    "get missing key": lambda c, b, p: c.get_object(b, p + "absent"),
    "head missing key": lambda c, b, p: c.head_object(b, p + "absent"),
    "get missing bucket": lambda c, b, p: c.get_object("no-such-bucket-hot", "k"),
    "head missing bucket": lambda c, b, p: c.head_object("no-such-bucket-hot", "k"),
    "list missing bucket": lambda c, b, p: list(c.list_objects("no-such-bucket-hot")),
    "put missing bucket": lambda c, b, p: c.put_object("no-such-bucket-hot", "k", b"x"),
    "part of unknown upload": lambda c, b, p: c.upload_part(b, p + "obj", "no-upload", 1, b"x"),
    "part with wrong md5": lambda c, b, p: c.upload_part(
        b, p + "obj", c.create_multipart_upload(b, p + "mpu"), 1, b"part",
        md5=_wrong_md5(b"part")),
    "get pinned to another etag (412)": lambda c, b, p: c.get_object(
        b, p + "obj", if_match="0" * 32),
    "create-only put of existing key (412)": lambda c, b, p: c.put_object(
        b, p + "obj", b"x", overwrite=False),
    "range past the end (416)": lambda c, b, p: _open_range_past_end(c, b, p + "obj"),
    "range past the end reads as empty": lambda c, b, p: c.get_object(b, p + "obj", 100, 200),
}


@S3_ONLY
@pytest.mark.parametrize("case", ERROR_CASES)
def test_errors_are_the_ones_the_boto3_path_raises(store, bucket, prefix, case):
    fast, boto3_only = both_paths(store.config(max_retries=0))
    fast.put_object(bucket, prefix + "obj", b"0123456789")
    call = ERROR_CASES[case]
    got = outcome(lambda: call(fast, bucket, prefix))
    assert got == outcome(lambda: call(boto3_only, bucket, prefix))
    if got[0] != "returned":
        assert got[-1], "the error has the server's request id"


IDENTITY_CASES = {
    "get": lambda c, b, p: c.get_object(b, p + "obj"),
    "head": lambda c, b, p: c.head_object(b, p + "obj"),
    "put": lambda c, b, p: c.put_object(b, p + "new", b"x"),
    "list": lambda c, b, p: list(c.list_objects(b, p)),
    "part": lambda c, b, p: c.upload_part(b, p + "obj", "any-upload", 1, b"x"),
}


@S3_ONLY
@pytest.mark.parametrize("case", IDENTITY_CASES)
@pytest.mark.parametrize("overrides", [
    {"secret_key": "not-the-secret"},
    # The server knows no session token: refused (InvalidAccessKeyId) only because the token
    # was sent and signed, on both paths alike.
    {"session_token": "not-a-session-token"},
], ids=["wrong secret", "session token"])
def test_refused_credentials_fail_alike(client, store, bucket, prefix, case, overrides):
    client.put_object(bucket, prefix + "obj", b"0123456789")
    fast, boto3_only = both_paths(store.config(max_retries=0, **overrides))
    call = IDENTITY_CASES[case]
    got = outcome(lambda: call(fast, bucket, prefix))
    assert got == outcome(lambda: call(boto3_only, bucket, prefix))
    assert got[0] == "AuthenticationError" and got[2] == 403
    assert got[3] and "not-the-secret" not in got[3] and "not-a-session-token" not in got[3]


@S3_ONLY
@pytest.mark.parametrize("case", IDENTITY_CASES)
def test_unreachable_endpoint_fails_alike(store, bucket, prefix, case):
    config = store.config(endpoint="http://127.0.0.1:9", max_retries=0, connect_timeout_s=2)
    fast, boto3_only = both_paths(config)
    call = IDENTITY_CASES[case]
    got = outcome(lambda: call(fast, bucket, prefix))
    assert got == outcome(lambda: call(boto3_only, bucket, prefix))
    assert got[0] == "ConnectionError"


# -- the same answers ------------------------------------------------------------------------


@S3_ONLY
def test_head_get_and_listings_answer_as_the_boto3_path(client, store, bucket, prefix):
    fast, boto3_only = both_paths(store.config())
    fast.put_object(bucket, prefix + "meta", b"x" * 1000, content_type="text/x-test",
                    metadata={"Owner": "alice", "stage": "raw"})
    for name in ("a", "b/1", "b/2", "c/1", "d"):
        fast.put_object(bucket, prefix + name, name.encode())
    assert fast.head_object(bucket, prefix + "meta") == boto3_only.head_object(
        bucket, prefix + "meta")
    info = fast.head_object(bucket, prefix + "meta")
    assert (info.size, info.content_type, dict(info.metadata)) == (
        1000, "text/x-test", {"owner": "alice", "stage": "raw"})
    for options in ({}, {"delimiter": "/"}, {"delimiter": "/", "page_size": 2},
                    {"page_size": 1, "start_after": prefix + "b/1"}):
        listed = list(fast.list_objects(bucket, prefix, **options))
        assert listed == list(boto3_only.list_objects(bucket, prefix, **options)), options
    assert [e.key for e in fast.list_objects(bucket, prefix, delimiter="/")] == [
        prefix + name for name in ("a", "b/", "c/", "d", "meta")]
    with fast.open_object(bucket, prefix + "meta", 10, 20) as ranged, \
            boto3_only.open_object(bucket, prefix + "meta", 10, 20) as expected:
        assert (ranged.size, ranged.etag, ranged.version_id) == (
            expected.size, expected.etag, expected.version_id)
        assert read_all(ranged, 10) == read_all(expected, 10) == b"x" * 10


@S3_ONLY
def test_a_large_listing_has_every_key_once_in_order(client, bucket, prefix):
    keys = [f"{prefix}{index:05d}" for index in range(2500)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: client.put_object(bucket, key, b""), keys))
    listed = list(client.list_objects(bucket, prefix))
    assert [entry.key for entry in listed] == keys
    assert all(entry.size == 0 and entry.last_modified is not None for entry in listed)


@S3_ONLY
def test_keys_with_special_characters_round_trip(client, store, bucket, prefix):
    boto3_only = Boto3Only(store.config())
    keys = sorted(prefix + name for name in SPECIAL_NAMES)
    for key in keys:
        if any(c < " " for c in key):
            # This library refuses to write control characters (see tests/test_bad_input.py),
            # but must read and list what another tool wrote.
            boto3_only.sdk.put_object(Bucket=bucket, Key=key, Body=key.encode())
        else:
            client.put_object(bucket, key, key.encode())
    listed = list(client.list_objects(bucket, prefix))
    assert [entry.key for entry in listed] == keys
    assert listed == list(boto3_only.list_objects(bucket, prefix))
    for key in keys:
        assert client.get_object(bucket, key) == key.encode()
        assert client.get_object(bucket, key, 1, 4) == key.encode()[1:4]
        assert client.head_object(bucket, key).size == len(key.encode())
    prefixes = [e.key for e in client.list_objects(bucket, prefix, delimiter="/") if e.is_prefix]
    assert prefixes == [prefix + "dir with space+/", prefix + "ünï/"]
    assert [e.key for e in client.list_objects(bucket, prefix + "dir with space+/")] == [
        prefix + "dir with space+/inner"]


# -- credentials -----------------------------------------------------------------------------


@S3_ONLY
def test_credentials_from_the_boto3_chain_are_refreshed(
    s3_server, store, bucket, prefix, tmp_path, monkeypatch
):
    """No keys in the config: the boto3 chain finds a credential_process whose credentials
    expire within botocore's mandatory refresh window, so every request refreshes them; the
    hot path signs with those refreshed credentials."""
    runs = tmp_path / "runs"
    script = tmp_path / "credentials.py"
    script.write_text(textwrap.dedent(f"""
        import datetime, json
        with open({str(runs)!r}, "a") as log:
            log.write("run\\n")
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
        print(json.dumps({{"Version": 1, "AccessKeyId": {s3_server.access_key!r},
                          "SecretAccessKey": {s3_server.secret_key!r},
                          "Expiration": expires.isoformat()}}))
    """))
    config_file = tmp_path / "aws-config"
    config_file.write_text(f"[default]\ncredential_process = {sys.executable} {script}\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = OSSConfig(endpoint=store.endpoint_url, region=store.region, max_retries=0)
    with create_client(config) as driver:
        driver.put_object(bucket, prefix + "chain", b"signed by the chain")
        before = len(runs.read_text().splitlines())
        assert driver.get_object(bucket, prefix + "chain") == b"signed by the chain"
        assert driver.head_object(bucket, prefix + "chain").size == 19
        assert [e.key for e in driver.list_objects(bucket, prefix)] == [prefix + "chain"]
        assert len(runs.read_text().splitlines()) >= before + 3


# -- what is sent: through a forward proxy ---------------------------------------------------


_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
               "transfer-encoding", "te", "upgrade"}


class ForwardProxy(ThreadingHTTPServer):
    """A plain HTTP forward proxy (absolute-form requests) that records every request."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.connections = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ForwardHandler)

    def handle_error(self, request, client_address) -> None:
        pass  # a client that closes a body early breaks the relay: expected here

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ForwardHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ForwardProxy

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:
        target = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.seen.append((self.command, self.path, headers))
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            upstream.putrequest(self.command, target.path + (f"?{target.query}" if target.query
                                                             else ""),
                                skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.endheaders(body)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and (
                    self.command == "HEAD" or name.lower() != "content-length"):
                self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET


@pytest.fixture
def forward_proxy() -> Iterator[ForwardProxy]:
    proxy = ForwardProxy()
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


def _signed_headers(headers: dict[str, str]) -> list[str]:
    authorization = headers["authorization"]
    return authorization.split("SignedHeaders=")[1].split(",")[0].split(";")


@S3_ONLY
def test_requests_go_through_the_proxy_as_signed(store, bucket, prefix, forward_proxy):
    proxy_url = forward_proxy.url.replace("http://", "http://user:proxy-pa55@")
    with create_client(store.config(proxy=proxy_url)) as driver:
        data = pattern_bytes(6 * MIB)
        driver.put_object(bucket, prefix + "small", b"small body", content_type="text/plain")
        upload_id = driver.create_multipart_upload(bucket, prefix + "parts")
        parts = [driver.upload_part(bucket, prefix + "parts", upload_id, 1, data)]
        driver.complete_multipart_upload(bucket, prefix + "parts", upload_id, parts)
        assert driver.get_object(bucket, prefix + "parts") == data
        assert driver.head_object(bucket, prefix + "small").size == 10
        assert len(list(driver.list_objects(bucket, prefix))) == 2
        assert "proxy-pa55" not in repr(driver) + repr(driver._signed)
    seen = {(method, urlsplit(url).query.split("&")[0].split("=")[0]): headers
            for method, url, headers in forward_proxy.seen}
    expected_auth = "Basic " + base64.b64encode(b"user:proxy-pa55").decode()
    assert all(headers.get("proxy-authorization") == expected_auth
               for _, _, headers in forward_proxy.seen)
    for method_and_query in (("PUT", ""), ("PUT", "uploadId")):
        headers = seen[method_and_query]
        # Content-MD5 is signed, and stands in for a hash of the payload.
        assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
        assert "content-md5" in _signed_headers(headers)
    assert seen[("POST", "uploads")] and seen[("POST", "uploadId")]  # boto3's own requests
    assert seen[("GET", "list-type")]["x-amz-content-sha256"] == hashlib.sha256().hexdigest()
    assert "x-amz-checksum-mode" in _signed_headers(seen[("GET", "")])


@S3_ONLY
def test_a_session_token_is_sent_and_signed(store, bucket, prefix, forward_proxy):
    config = store.config(proxy=forward_proxy.url, session_token="token-value", max_retries=0)
    with create_client(config) as driver:
        with pytest.raises(exceptions.AuthenticationError) as caught:
            driver.get_object(bucket, prefix + "any")
        assert "token-value" not in str(caught.value) + repr(driver._signed)
    (method, _, headers), = forward_proxy.seen
    assert method == "GET" and headers["x-amz-security-token"] == "token-value"
    assert "x-amz-security-token" in _signed_headers(headers)


# -- the pool --------------------------------------------------------------------------------
# A forward proxy counts the connections the driver opens to it.


@S3_ONLY
def test_a_body_read_to_its_end_returns_its_connection(store, bucket, prefix, forward_proxy):
    data = pattern_bytes(3 * MIB + 17)
    config = store.config(max_pool_connections=1, proxy=forward_proxy.url)
    with create_client(config) as driver:
        driver.put_object(bucket, prefix + "big", data)
        for _ in range(4):
            with driver.open_object(bucket, prefix + "big") as reader:
                assert read_all(reader, len(data) + 1) == data
            with driver.open_object(bucket, prefix + "big", 1000, 2000) as reader:
                assert read_all(reader, 1000) == data[1000:2000]
        assert driver.get_object(bucket, prefix + "big") == data
        assert driver._signed.pool.num_requests == 10
    assert len(forward_proxy.seen) == 10
    assert forward_proxy.connections == 1


@S3_ONLY
def test_a_body_closed_early_is_dropped_and_does_not_poison_the_pool(
    store, bucket, prefix, forward_proxy
):
    data = pattern_bytes(8 * MIB)
    small = {f"{prefix}small-{index}": pattern_bytes(1000 + index, seed=index)
             for index in range(4)}
    config = store.config(max_pool_connections=1, proxy=forward_proxy.url)
    with create_client(config) as driver:
        driver.put_object(bucket, prefix + "big", data)
        for key, value in small.items():
            driver.put_object(bucket, key, value)
        assert forward_proxy.connections == 1
        with driver.open_object(bucket, prefix + "big") as reader:
            assert read_all(reader, 10) == data[:10]  # most of the body still in flight
        with driver.open_object(bucket, prefix + "big", 5, 6 * MIB):
            pass  # not read at all
        for key, value in small.items():
            assert driver.get_object(bucket, key) == value
            assert driver.head_object(bucket, key).size == len(value)
        assert driver.get_object(bucket, prefix + "big") == data
    assert forward_proxy.connections == 3  # each early close cost one new connection


def test_the_rest_of_a_body_closed_early_is_never_read_as_another_response():
    """The rest of the first body arrives only after the next request could have been sent
    on the same connection: a connection given back to the pool would then read it as the
    next response. A real server cannot be made to pause like this, so a raw one does."""
    def respond(connection: socket.socket, head: bytes) -> None:
        if head.startswith(b"GET /bucket/big"):
            connection.sendall(_headers_then(b"0123456789", 1000))
            time.sleep(0.3)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 980\r\n\r\n".ljust(990))
        else:
            connection.sendall(_headers_then(b"second", 6))

    with RawServer(respond) as server, _raw_client(server.url, max_pool_connections=1) as driver:
        with driver.open_object("bucket", "big", 0, 1000) as body:
            assert read_all(body, 10) == b"0123456789"
        for _ in range(3):
            assert driver.get_object("bucket", "small", 0, 6) == b"second"
            time.sleep(0.2)


@S3_ONLY
def test_more_open_bodies_than_pooled_connections(store, bucket, prefix):
    objects = {f"{prefix}{index}": pattern_bytes(200_000, seed=index) for index in range(6)}
    with create_client(store.config(max_pool_connections=2)) as driver:
        for key, value in objects.items():
            driver.put_object(bucket, key, value)
        with contextlib.ExitStack() as stack:
            readers = {key: stack.enter_context(driver.open_object(bucket, key))
                       for key in objects}
            for key, reader in readers.items():
                assert read_all(reader, 200_000) == objects[key]
        assert driver.get_object(bucket, prefix + "0") == objects[prefix + "0"]


# -- transport faults: a raw socket server ---------------------------------------------------


class RawServer:
    """A loopback server that reads each request and answers it with ``respond(connection,
    request_head)``: faults no S3 server produces on demand."""

    def __init__(self, respond: Callable[[socket.socket, bytes], None]) -> None:
        self._respond = respond
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(None)
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        """Serve the requests of one connection, one after the other, until it closes."""
        connection.settimeout(10)
        pending = b""
        with connection, contextlib.suppress(OSError):
            while not self._stop.is_set():
                while b"\r\n\r\n" not in pending:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    pending += chunk
                head, _, pending = pending.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(pending) < length:
                    pending += connection.recv(65536)
                pending = pending[length:]
                self._respond(connection, head)

    def stalled(self) -> bool:
        return self._stop.wait(30)


def _headers_then(body: bytes, declared: int) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nETag: \"abc\"\r\n"
            b"Content-Type: application/xml\r\n\r\n" % declared) + body


def _raw_client(url: str, **overrides) -> AWSS3Client:
    config = OSSConfig(endpoint=url, access_key="AK", secret_key="SK", max_retries=0,
                       read_timeout_s=1, connect_timeout_s=2, **overrides)
    return AWSS3Client(config)


@pytest.mark.parametrize("reader", ["get_object", "open_object"])
def test_a_body_shorter_than_its_content_length_is_a_connection_error(reader):
    def respond(connection: socket.socket, head: bytes) -> None:
        connection.sendall(_headers_then(b"0123456789", 1000))
        connection.shutdown(socket.SHUT_WR)

    with RawServer(respond) as server, _raw_client(server.url) as driver:
        with pytest.raises(exceptions.ConnectionError) as caught:
            if reader == "get_object":
                driver.get_object("bucket", "key")
            else:
                with driver.open_object("bucket", "key", 0, 1000) as body:
                    read_all(body, 1000)
        assert not isinstance(caught.value, exceptions.RequestTimeoutError)
        assert caught.value.key == "key"
        with pytest.raises(exceptions.ConnectionError):
            list(driver.list_objects("bucket"))  # a listing cut short, too


def test_a_connection_reset_mid_body_is_a_connection_error():
    def respond(connection: socket.socket, head: bytes) -> None:
        connection.sendall(_headers_then(b"x" * 100, 100_000))
        time.sleep(0.2)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()  # a reset

    with RawServer(respond) as server, _raw_client(server.url) as driver:
        with pytest.raises(exceptions.ConnectionError) as caught:
            driver.get_object("bucket", "key")
        assert not isinstance(caught.value, exceptions.RequestTimeoutError)


@pytest.mark.parametrize("call", list(IDENTITY_CASES))
def test_a_server_that_stops_answering_is_a_timeout(call):
    def respond(connection: socket.socket, head: bytes) -> None:
        server.stalled()

    with RawServer(respond) as server, _raw_client(server.url) as driver:
        started = time.monotonic()
        with pytest.raises(exceptions.RequestTimeoutError):
            IDENTITY_CASES[call](driver, "bucket", "p/")
        assert time.monotonic() - started < 10


def test_a_body_that_stalls_is_a_timeout():
    def respond(connection: socket.socket, head: bytes) -> None:
        connection.sendall(_headers_then(b"x" * 100, 100_000))
        server.stalled()

    with RawServer(respond) as server, _raw_client(server.url) as driver, \
            driver.open_object("bucket", "key", 0, 100_000) as body:
        assert read_all(body, 100) == b"x" * 100
        with pytest.raises(exceptions.RequestTimeoutError):
            read_all(body, 1000)


def test_secrets_stay_out_of_reprs_and_errors():
    with RawServer(lambda connection, head: None) as server:
        config = OSSConfig(endpoint=server.url, access_key="AK", secret_key="secret-value",
                           session_token="token-value", max_retries=0, read_timeout_s=1)
        with create_client(config) as driver:
            text = repr(driver) + repr(driver._signed)
            with pytest.raises(exceptions.ConnectionError) as caught:
                driver.get_object("bucket", "key")
            text += str(caught.value) + repr(caught.value.__cause__)
    assert "secret-value" not in text and "token-value" not in text


def test_without_an_endpoint_every_request_goes_through_boto3():
    driver = AWSS3Client(OSSConfig(access_key="AK", secret_key="SK", region="eu-west-1"))
    assert driver._signed is None
    assert driver.sdk.meta.region_name == "eu-west-1"


# -- fork: each process its own pool ---------------------------------------------------------


@S3_ONLY
@pytest.mark.skipif(sys.platform == "win32", reason="fork exists only on POSIX")
def test_a_forked_child_builds_its_own_pool(client, bucket, prefix):
    import multiprocessing

    client.put_object(bucket, prefix + "fork", b"parent's object")
    parent_pool = client._signed.pool
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe()

    def child() -> None:
        child_end.send(json.dumps([
            client.get_object(bucket, prefix + "fork").decode(),
            client._signed.pool is parent_pool,
        ]))

    process = context.Process(target=child)
    process.start()
    assert json.loads(parent_end.recv()) == ["parent's object", False]
    process.join(timeout=60)
    assert process.exitcode == 0
    assert client._signed.pool is parent_pool
