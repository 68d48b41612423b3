"""The fault proxy itself: reproducible schedules, filters and bounds, and faults that look
like the real thing on the wire (an RST, a stall that ends, provider-shaped error answers).

None of these needs a server: error answers, resets and stalls happen before anything is
forwarded, so the upstream is an address nothing listens on.
"""

from __future__ import annotations

import base64
import http.client
import random
import socket
import time
from xml.etree import ElementTree

import pytest

from fsspec_unified.testing.fault_proxy import (
    FAULT_KINDS,
    RESET_REQUEST,
    SLOWDOWN,
    STALL,
    TOO_MANY_REQUESTS,
    FaultPlan,
    FaultProxy,
    RequestFacts,
)

NOWHERE = "http://127.0.0.1:9"


def requests(count: int, seed: int = 1) -> list[RequestFacts]:
    """A mix of requests, some of them tried more than once (same identity)."""
    rng = random.Random(seed)
    kinds = [("GET", "get_object", None), ("PUT", "upload_part", 6 * 1024 * 1024),
             ("PUT", "put_object", 1000), ("GET", "list", None), ("HEAD", "head", None)]
    out = []
    for _ in range(count):
        method, kind, length = rng.choice(kinds)
        out.append(RequestFacts(method, kind, f"{method} /b/k{rng.randrange(20)}", length))
    return out


def decisions(plan: FaultPlan, facts: list[RequestFacts]) -> list[str | None]:
    proxy = FaultProxy(NOWHERE, plan=plan)
    return [proxy.decide(request) for request in facts]


def test_the_same_seed_gives_the_same_faults_in_any_order():
    facts = requests(300)
    plan = FaultPlan(seed=7, probability=0.3)
    first = decisions(plan, facts)
    assert first == decisions(plan, facts)
    assert first != decisions(FaultPlan(seed=8, probability=0.3), facts)
    assert {kind for kind in first if kind} == set(FAULT_KINDS)
    # Concurrent requests arrive in any order: a request's fault does not depend on it.
    distinct = list({request.identity: request for request in facts}.values())
    shuffled = distinct[:]
    random.Random(3).shuffle(shuffled)
    by_identity = dict(zip([r.identity for r in distinct], decisions(plan, distinct),
                           strict=True))
    assert by_identity == dict(zip([r.identity for r in shuffled], decisions(plan, shuffled),
                                   strict=True))


def test_filters_skip_bounds_bursts_and_scripts():
    facts = requests(200)
    parts = [i for i, request in enumerate(facts) if request.kind == "upload_part"]
    persistent = decisions(FaultPlan.persistent(RESET_REQUEST, requests={"upload_part"},
                                                skip=2), facts)
    assert [i for i, kind in enumerate(persistent) if kind] == parts[2:]
    assert set(persistent) == {None, RESET_REQUEST}
    # A reset in the request body needs a body: GETs never get one.
    assert set(decisions(FaultPlan.persistent(RESET_REQUEST, methods={"GET"}), facts)) == {None}
    bounded = decisions(FaultPlan(seed=1, probability=1.0, max_faults=4), facts)
    assert sum(kind is not None for kind in bounded) == 4
    burst = decisions(FaultPlan(probability=1.0, kinds=(SLOWDOWN,), max_faults=1, burst=3),
                      [facts[0]] * 5)
    assert burst == [SLOWDOWN, None, None, None, None]  # the burst counts against the bound
    burst = decisions(FaultPlan(probability=1.0, kinds=(SLOWDOWN,), burst=3), [facts[0]] * 3)
    assert burst == [SLOWDOWN] * 3
    scripted = decisions(FaultPlan(script=(None, STALL, TOO_MANY_REQUESTS)), facts[:5])
    assert scripted == [None, STALL, TOO_MANY_REQUESTS, None, None]
    with pytest.raises(ValueError):
        FaultPlan(kinds=("meteor",))


@pytest.mark.parametrize("dialect", ["s3", "oss"])
def test_error_answers_are_shaped_like_the_provider(dialect):
    with FaultProxy(NOWHERE, dialect=dialect,
                    plan=FaultPlan.persistent(SLOWDOWN)) as proxy:
        host, port = proxy.endpoint_url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        connection.request("PUT", "/bucket/key", body=b"x" * 1000)
        response = connection.getresponse()
        document = ElementTree.fromstring(response.read())
        connection.request("HEAD", "/bucket/key")
        head = connection.getresponse()
        head.read()
        connection.close()
    assert response.status == 503
    assert document.tag == "Error"
    assert document.findtext("Code") == "SlowDown"
    assert document.findtext("Message")
    header = "x-oss-request-id" if dialect == "oss" else "x-amz-request-id"
    assert document.findtext("RequestId") == response.getheader(header)
    assert (document.find("HostId") is not None) == (dialect == "oss")
    assert head.status == 503
    if dialect == "oss":  # OSS sends a HEAD error's document in a header
        err = ElementTree.fromstring(base64.b64decode(head.getheader("x-oss-err")))
        assert err.findtext("Code") == "SlowDown"
    assert proxy.injected == {SLOWDOWN: 2}


def test_a_reset_is_an_rst_and_a_stall_ends():
    with FaultProxy(NOWHERE, plan=FaultPlan.persistent(RESET_REQUEST)) as proxy:
        address = proxy.endpoint_url.removeprefix("http://").split(":")
        with socket.create_connection((address[0], int(address[1])), timeout=5) as client:
            client.sendall(b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            client.sendall(b"y" * 60000)
            with pytest.raises(ConnectionResetError):
                while client.recv(1024):
                    pass
        proxy.plan = FaultPlan.persistent(STALL, stall_s=0.3)
        with socket.create_connection((address[0], int(address[1])), timeout=5) as client:
            started = time.monotonic()
            client.sendall(b"GET /b/k HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.recv(1024) == b""  # closed, nothing answered
            assert 0.25 < time.monotonic() - started < 3
    assert proxy.injected == {RESET_REQUEST: 1, STALL: 1}
