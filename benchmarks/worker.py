"""Each client in a process of its own, so that its CPU time and memory are its own.

Memory is why: a process keeps most of what it once allocated (Python's allocator and the
C heap return little to the system), so in one shared process the second client's peak would
include the first client's leftovers, and the SDKs' imports alone (hundreds of MiB for some)
would be counted for everyone. CPU time is per process too: in a child, the server side
(SeaweedFS, the OSS gateway, the reference client that verifies) is never counted for the
client. The runner keeps one worker per client for the whole run and sends it one operation
at a time, so rounds still interleave the clients and connections stay warm, as in a
long-running application.

Peak memory comes from the kernel, not from sampling: Linux keeps each process's resident
high-water mark (``VmHWM``) and resets it to the current resident size when ``5`` is written
to ``/proc/self/clear_refs``. Before each operation the worker collects garbage, hands free
heap back with glibc's ``malloc_trim``, resets the mark and notes the resident size; after
it, the mark is the exact peak during the operation. Both the peak and its rise over the
starting size are reported: the peak is what the machine must have, the rise is what the
operation itself needed. Where the reset is not available the figures are left empty.

The protocol is one JSON line per message each way: the runner's setup, then
``{"workload": name}`` per measurement, then ``{"stop": true}``; the worker answers ``ready``
(or ``skip`` with a reason) and one result per measurement.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from benchmarks.clients import (
    SPECS_BY_NAME,
    NotSupported,
    StorageClient,
    Target,
    build_client,
    describe_error,
)
from benchmarks.workloads import LocalFile, Plan, Workload, build_workloads, fingerprint

RUN_SCRIPT = Path(__file__).resolve().with_name("run.py")
WORKER_FLAG = "--worker"
START_TIMEOUT_S = 120.0
# Far above any healthy operation of the full plan; a client that hangs is stopped and its
# remaining figures fail instead of the run hanging.
OPERATION_TIMEOUT_S = 600.0
_STOP_TIMEOUT_S = 30.0
_WARM_UP_PREFIX = "warm-up/"
_MIB = 1024 * 1024


class MemoryProbe:
    """This process's resident memory, and its peak since the last :meth:`reset`."""

    def __init__(self) -> None:
        libc_name = ctypes.util.find_library("c")
        libc = ctypes.CDLL(libc_name) if libc_name else None
        self._malloc_trim: Callable[[int], int] | None = getattr(libc, "malloc_trim", None)

    def reset(self) -> float | None:
        """Collect garbage, give free heap back, restart the peak; the resident MiB now, or
        ``None`` where the kernel cannot restart the peak."""
        gc.collect()
        if self._malloc_trim is not None:
            self._malloc_trim(0)
        try:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
        except OSError:
            return None
        return self._status_mib("VmRSS")

    def peak(self) -> float | None:
        return self._status_mib("VmHWM")

    @staticmethod
    def _status_mib(field: str) -> float | None:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024  # reported in kB
        return None


def measure(workload: Workload, client: StorageClient, memory: MemoryProbe) -> dict[str, Any]:
    """Time one operation and note its CPU time and memory; the result as JSON data.

    Everything that is not the operation (dropping cached listings, the collection,
    fingerprinting the outcome) happens outside the timed part.
    """
    client.drop_caches()
    rss_before = memory.reset()
    try:
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        outcome = workload.operate(client)
        seconds = time.perf_counter() - wall_start
        cpu_s = time.process_time() - cpu_start
    except NotSupported as reason:
        return {"not_supported": str(reason)}
    except Exception as error:  # a client's failure is a result to report, not a crash
        return {"error": describe_error(error)}
    peak = memory.peak() if rss_before is not None else None
    return {
        "seconds": seconds,
        "cpu_s": cpu_s,
        "peak_rss_mib": peak,
        "rss_rise_mib": None if peak is None else peak - rss_before,
        "outcome": fingerprint(outcome),
    }


def serve() -> int:
    """The worker's side: build the client named in the setup, then answer requests."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    # Anything an SDK prints goes to stderr, never into the replies.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def reply(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message) + "\n")

    setup = json.loads(sys.stdin.readline())
    workloads = {
        workload.name: workload
        for workload in build_workloads(
            Plan(**setup["plan"]), Path(setup["scratch_dir"]), LocalFile(**setup["source"])
        )
    }
    client = build_client(SPECS_BY_NAME[setup["client"]], Target(**setup["target"]))
    if isinstance(client, str):
        reply({"skip": client})
        return 0
    with client:
        # The warm-up makes the client create its SDK objects and first connection before
        # anything is timed; a client that cannot even list is left out.
        try:
            client.list_prefix(_WARM_UP_PREFIX)
        except Exception as error:  # one broken client must not stop the others
            reply({"skip": f"warm-up failed: {describe_error(error)}"})
            return 0
        # Frozen objects (the SDKs' loaded models, hundreds of thousands of them) are never
        # scanned again, so each collection costs only the garbage the client makes.
        gc.collect()
        gc.freeze()
        memory = MemoryProbe()
        reply({"ready": True})
        for line in sys.stdin:
            request = json.loads(line)
            if request.get("stop"):
                break
            reply(measure(workloads[request["workload"]], client, memory))
    return 0


class WorkerError(Exception):
    """The worker stopped answering: it exited, or an operation outlasted its timeout."""


class Worker:
    """The runner's side: one client's process."""

    def __init__(self, client: str, target: Target, plan: Plan, scratch_dir: Path,
                 source: LocalFile) -> None:
        self._process = subprocess.Popen(
            [sys.executable, str(RUN_SCRIPT), WORKER_FLAG],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self._stdin: IO[str] = self._process.stdin  # type: ignore[assignment]  # piped above
        self._stdout: IO[str] = self._process.stdout  # type: ignore[assignment]
        self._send({
            "client": client, "target": asdict(target), "plan": asdict(plan),
            "scratch_dir": str(scratch_dir), "source": asdict(source),
        })

    def ready(self) -> str | None:
        """``None`` once the client is built and warmed up, else why it cannot run."""
        try:
            return self._receive(START_TIMEOUT_S).get("skip")
        except WorkerError as error:
            return str(error)

    def measure(self, workload: str) -> dict[str, Any]:
        self._send({"workload": workload})
        return self._receive(OPERATION_TIMEOUT_S)

    def close(self) -> None:
        try:
            self._send({"stop": True})
            self._process.wait(_STOP_TIMEOUT_S)
        except (WorkerError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self._stdin.write(json.dumps(message) + "\n")
            self._stdin.flush()
        except OSError as error:  # a broken pipe: the worker exited
            raise WorkerError(f"the worker is gone ({describe_error(error)})") from error

    def _receive(self, timeout_s: float) -> dict[str, Any]:
        ready, _, _ = select.select([self._stdout], [], [], timeout_s)
        if not ready:
            self._process.kill()
            self._process.wait()
            raise WorkerError(f"no answer within {timeout_s:.0f} s; the worker was stopped")
        line = self._stdout.readline()
        if not line:
            raise WorkerError(f"the worker exited with code {self._process.wait()}")
        return json.loads(line)
