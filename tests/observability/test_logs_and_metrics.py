"""What a user sees of a full workflow on a real server, for every provider: one structured
log record per operation, metrics that add up, no secret anywhere in the logs (presigned
URLs included), errors and retries counted, alerts raised, and both exporters.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from urllib.parse import parse_qsl, urlsplit

import fsspec
import pytest

from fsspec_unified import TransferManager
from fsspec_unified.driver.engine.retry import RetryPolicy
from fsspec_unified.exceptions import ConfigurationError
from fsspec_unified.observability import AlertPolicy, JSONLogFormatter
from tests.filesystem.conftest import storage_options
from tests.helpers import pattern_bytes

MIB = 2**20
MIN_PART = 5 * MIB  # SeaweedFS's smallest part


@pytest.fixture(scope="module")
def obs_bucket(client, provider) -> str:
    name = f"observed-{provider}"
    client.create_bucket(name)
    return name


@pytest.fixture
def fresh_fs(store):
    """A filesystem of its own (not fsspec's cached instance), so its metrics start at 0."""
    fs = fsspec.filesystem("unified", skip_instance_cache=True, block_size=MIN_PART,
                           **storage_options(store))
    yield fs
    fs.close()


class CaptureEverything(logging.Handler):
    """Every record of every logger, formatted as a user's handler would (with tracebacks)
    and as JSON (with the structured fields)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.texts: list[str] = []
        self._plain = logging.Formatter("%(name)s %(levelname)s %(message)s")
        self._json = JSONLogFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.texts.append(self._plain.format(record))
        self.texts.append(self._json.format(record))

    def operations(self, name: str) -> list[dict]:
        return [r.fsspec_unified for r in self.records
                if r.name == "fsspec_unified.operations" and r.fsspec_unified["operation"] == name]


@pytest.fixture
def everything_logged():
    """Every library logger at DEBUG for the test (ours, botocore, urllib3, oss2, ...): each
    is set by name, since pytest sets the root logger's level for each test phase."""
    handler = CaptureEverything()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level
             for name in ("", "fsspec_unified", "botocore", "urllib3", "oss2", "minio", "fsspec",
                          "s3transfer", "requests")}
    root.addHandler(handler)
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def run_workflow(fs, root: str, tmp_path) -> dict:
    """put/pipe/open/cat/ls/find/info/cp/get/sign/rm, and one failing read; returns what
    was written, read and signed."""
    big = pattern_bytes(2 * MIN_PART + 123, seed=1)
    local = tmp_path / "big.bin"
    local.write_bytes(big)
    fs.put_file(str(local), f"{root}/big.bin")
    fs.pipe_file(f"{root}/small.txt", b"hello")
    with fs.open(f"{root}/written.bin", "wb") as f:
        f.write(big[:MIN_PART + 7])
    assert fs.cat_file(f"{root}/big.bin") == big
    assert fs.cat_file(f"{root}/big.bin", 10, 20) == big[10:20]
    assert fs.cat_ranges([f"{root}/big.bin"] * 2, [0, 100], [5, 105]) == [big[:5], big[100:105]]
    with fs.open(f"{root}/small.txt", "rb") as f:
        assert f.read() == b"hello"
    assert len(fs.ls(root)) == 3
    assert len(fs.find(root)) == 3
    assert fs.info(f"{root}/small.txt")["size"] == 5
    fs.cp_file(f"{root}/small.txt", f"{root}/copy.txt")
    fs.get_file(f"{root}/big.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == big
    url = fs.sign(f"{root}/small.txt", expiration=300)
    with pytest.raises(FileNotFoundError):
        fs.cat_file(f"{root}/missing.bin")
    fs.rm(root, recursive=True)
    written = len(big) + 5 + MIN_PART + 7
    return {"written": written, "url": url}


def signatures_in(url: str) -> list[str]:
    query = dict(parse_qsl(urlsplit(url).query))
    found = [query[name] for name in ("X-Amz-Signature", "Signature", "x-oss-signature")
             if name in query]
    assert found, f"no signature found in the presigned URL's query: {sorted(query)}"
    return found


def test_workflow_logs_one_record_per_operation_without_secrets(
        fresh_fs, obs_bucket, store, tmp_path, everything_logged):
    root = f"{obs_bucket}/{uuid.uuid4().hex[:10]}"
    done = run_workflow(fresh_fs, root, tmp_path)

    # No secret in any record of any library, however formatted.
    for text in everything_logged.texts:
        assert store.secret_key not in text
    for record in everything_logged.records:
        assert store.secret_key not in repr(record.__dict__)
    # No presigned URL's signature in our records (the URL itself is the caller's).
    records, texts = everything_logged.records, everything_logged.texts
    ours = [text for i, text in enumerate(texts)
            if records[i // 2].name.startswith("fsspec_unified")]
    for signature in signatures_in(done["url"]):
        assert not [t for t in ours if signature in t]

    # One record per operation, with the fields the issue lists.
    for name in ("put_file", "pipe_file", "write", "cat_ranges", "ls", "cp_file", "get_file",
                 "sign"):
        records = everything_logged.operations(name)
        assert len(records) == 1, (name, records)
    put = everything_logged.operations("put_file")[0]
    assert put["provider"] == store.provider
    assert (put["bucket"], put["key"]) == (obs_bucket, f"{root.split('/', 1)[1]}/big.bin")
    assert put["bytes"] == 2 * MIN_PART + 123
    assert put["attempts"] >= 5  # create, three parts, complete
    assert put["status"] == 200 and put["request_id"]
    assert put["outcome"] == "ok" and put["duration_s"] > 0
    write = everything_logged.operations("write")[0]
    assert write["bytes"] == MIN_PART + 7 and write["attempts"] >= 3
    cats = everything_logged.operations("cat_file")
    failed = [r for r in cats if r["outcome"] == "error"]
    assert len(failed) == 1 and failed[0]["status"] == 404
    assert failed[0]["error"] == "ObjectNotFoundError" and failed[0]["request_id"]
    # Each request at DEBUG, tied to its operation.
    parts = [r.fsspec_unified for r in everything_logged.records
             if r.name == "fsspec_unified.requests"
             and r.fsspec_unified["request"] == "upload_part"]
    assert len(parts) >= 4 and all(p["status"] == 200 and p["request_id"] for p in parts)
    # The JSON formatter writes the fields.
    entries = [json.loads(t) for t in everything_logged.texts if t.startswith("{")]
    entry = next(e for e in entries if e["logger"] == "fsspec_unified.operations"
                 and e.get("operation") == "put_file")
    assert entry["bytes"] == put["bytes"] and entry["request_id"] == put["request_id"]


def test_metrics_snapshot_adds_up(fresh_fs, obs_bucket, tmp_path):
    root = f"{obs_bucket}/{uuid.uuid4().hex[:10]}"
    done = run_workflow(fresh_fs, root, tmp_path)
    snapshot = fresh_fs.metrics()
    assert snapshot.bytes_written == done["written"]
    big = 2 * MIN_PART + 123
    assert snapshot.bytes_read >= 2 * big  # cat_file and get_file at least
    ops = snapshot.operations
    assert ops["put_file"].count == 1 and ops["put_file"].bytes == big
    assert ops["cat_file"].count == 3 and ops["cat_file"].errors == 1
    assert ops["get_file"].latency.p50_ms > 0
    assert snapshot.requests["upload_part"].count >= 4
    assert snapshot.requests["upload_part"].bytes >= big
    assert sum(snapshot.errors_by_code.values()) >= 1
    assert snapshot.responses_by_status.get(200, 0) > 10
    assert 1 <= snapshot.concurrency_peak <= fresh_fs.options.max_workers
    assert snapshot.concurrency_current == 0
    report = fresh_fs.error_report(window_s=60)
    # The one failure, a 404, is an answer and not a fault: counted by code above, but it
    # does not make the window's error rate.
    assert report.requests > 10 and report.errors == 0
    json.dumps(snapshot.as_dict())


def test_transfer_manager_has_a_registry_of_its_own(client, obs_bucket):
    with TransferManager() as first, TransferManager() as second:
        first.upload_bytes(client, b"x" * 1000, f"tm/{uuid.uuid4().hex}", bucket=obs_bucket)
        assert first.metrics().operations["upload_bytes"].count == 1
        assert first.metrics().bytes_written == 1000
        assert second.metrics().operations == {}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_retries_errors_and_an_alert_when_the_endpoint_is_down(store, provider):
    alerts = []
    fs = fsspec.filesystem(
        "unified", skip_instance_cache=True, provider=provider,
        endpoint_url=f"http://127.0.0.1:{closed_port()}", key="AKEXAMPLE",
        secret="not-a-real-secret", region=store.region, max_retries=0,
        connect_timeout_s=1, read_timeout_s=1,
        retry_policy=RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02),
        alert_policy=AlertPolicy(on_alert=alerts.append, min_requests=3, window_s=60))
    deadline = time.monotonic() + 10
    while not alerts and time.monotonic() < deadline:  # the policy looks once a second
        with pytest.raises(ConnectionError):
            fs.cat_file("some-bucket/key")
        time.sleep(0.2)
    snapshot = fs.metrics()
    assert snapshot.retries >= 2
    assert snapshot.errors_by_code.get("ConnectionError", 0) >= 3
    assert snapshot.operations["cat_file"].errors >= 1
    assert alerts and {alert.kind for alert in alerts} <= {"error_rate", "retry_rate"}
    assert alerts[0].report.by_code.get("ConnectionError")
    assert fs.error_report(60).by_operation["get_object"]["ConnectionError"] >= 3
    fs.close()


def test_on_alert_option_and_its_misuse(store):
    fs = fsspec.filesystem("unified", skip_instance_cache=True, on_alert=print,
                           **storage_options(store))
    assert fs.transfers.config.alert_policy.on_alert is print
    with pytest.raises(ConfigurationError):
        fsspec.filesystem("unified", skip_instance_cache=True, on_alert=print,
                          alert_policy=AlertPolicy(), **storage_options(store))
    with pytest.raises(ConfigurationError):
        fsspec.filesystem("unified", skip_instance_cache=True, on_alert="pager",
                          **storage_options(store))


def test_prometheus_export(fresh_fs, obs_bucket):
    from prometheus_client import CollectorRegistry, generate_latest

    from fsspec_unified.observability.prometheus import register

    fresh_fs.pipe_file(f"{obs_bucket}/{uuid.uuid4().hex}", b"z" * 4096)
    registry = CollectorRegistry()
    register(fresh_fs.metrics_registry, registry, labels={"filesystem": "lake"})
    text = generate_latest(registry).decode()
    assert 'fsspec_unified_bytes_total{direction="written",filesystem="lake"} 4096.0' in text
    assert 'fsspec_unified_operations_total{filesystem="lake",operation="pipe_file"} 1.0' in text
    assert 'fsspec_unified_request_latency_seconds{filesystem="lake",quantile="0.99"' in text
    assert "fsspec_unified_requests_in_flight_peak" in text


def test_opentelemetry_export(fresh_fs, obs_bucket):
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from fsspec_unified.observability.opentelemetry import instrument

    fresh_fs.pipe_file(f"{obs_bucket}/{uuid.uuid4().hex}", b"z" * 2048)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    instrument(fresh_fs.metrics_registry, provider.get_meter("test"),
               attributes={"filesystem": "lake"})
    points = {}
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    points[(metric.name, tuple(sorted(point.attributes.items())))] = point.value
    key = ("fsspec_unified.bytes", (("direction", "written"), ("filesystem", "lake")))
    assert points[key] == 2048
    assert points[("fsspec_unified.operations",
                   (("filesystem", "lake"), ("operation", "pipe_file")))] == 1
    provider.shutdown()


def test_a_discarded_write_is_recorded_as_failed(fresh_fs, obs_bucket):
    path = f"{obs_bucket}/{uuid.uuid4().hex}"
    with pytest.raises(RuntimeError), fresh_fs.open(path, "wb") as f:
        f.write(b"a" * (MIN_PART + 1))
        f.flush()
        raise RuntimeError("the caller gave up")
    write = fresh_fs.metrics().operations["write"]
    assert (write.count, write.errors) == (1, 1)
    assert not fresh_fs.exists(path)


def test_not_found_answers_are_quiet_and_do_not_alert(fresh_fs, obs_bucket, caplog):
    """exists() then pipe(), the usual check-then-write loop: 404s are counted by code, but
    they are answers, not faults: no WARNING, no error rate, no alert."""
    alerts = []
    fs = fsspec.filesystem("unified", skip_instance_cache=True, on_alert=alerts.append,
                           **fresh_fs.storage_options)
    with caplog.at_level(logging.DEBUG, logger="fsspec_unified"):
        for i in range(25):
            path = f"{obs_bucket}/{uuid.uuid4().hex}/{i}"
            assert not fs.exists(path)
            fs.pipe_file(path, b"x")
            with pytest.raises(FileNotFoundError):
                fs.info(path + ".missing")
    assert sum(fs.metrics().errors_by_code.values()) >= 25
    assert fs.error_report(60).errors == 0
    assert alerts == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    fs.close()
