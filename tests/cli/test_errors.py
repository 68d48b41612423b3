"""Failures: one ``error:`` line and a distinct exit code; a traceback only with --debug.

Also the progress bars: drawn on a terminal (checked in-process, with a stream that says it
is one), absent when stderr is a pipe.
"""

from __future__ import annotations

import io
import os
import socket

from fsspec.callbacks import NoOpCallback

from fsspec_unified.cli.errors import (
    EXIT_NETWORK,
    EXIT_NOT_FOUND,
    EXIT_PERMISSION,
    EXIT_USAGE,
)
from fsspec_unified.cli.progress import ProgressBars, progress_callback
from tests.cli.conftest import write_store_profile
from tests.conftest import Store


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    error_lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(error_lines) == 1 and error_lines[0].startswith("error: "), stderr
    return error_lines[0]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_missing_object_exits_3(cli_s3, s3_remote):
    result = cli_s3.run("stat", s3_remote + "missing.txt")
    assert result.returncode == EXIT_NOT_FOUND
    _one_error_line(result.stderr)


def test_wrong_secret_exits_4(cli_s3, s3_server, s3_bucket):
    store = Store("s3", s3_server.endpoint_url, s3_server.access_key, "not-the-secret",
                  "us-east-1")
    write_store_profile(cli_s3, "wrong-secret", store)
    result = cli_s3.with_profile("wrong-secret").run("ls", f"unified://{s3_bucket}/")
    assert result.returncode == EXIT_PERMISSION
    _one_error_line(result.stderr)


def test_unreachable_endpoint_exits_5(cli_s3):
    store = Store("s3", f"http://127.0.0.1:{_closed_port()}", "key", "secret", "us-east-1")
    write_store_profile(cli_s3, "unreachable", store)
    result = cli_s3.with_profile("unreachable").run("ls", "unified://some-bucket/", timeout=60)
    assert result.returncode == EXIT_NETWORK
    assert "connect" in _one_error_line(result.stderr).lower()


def test_usage_errors_exit_2(cli_s3, tmp_path):
    assert cli_s3.run("cp", str(tmp_path), str(tmp_path / "b")).returncode == EXIT_USAGE
    assert cli_s3.run("ls", "--no-such-option").returncode == EXIT_USAGE
    assert cli_s3.run("cp", "--part-size", "lots", "a", "unified://b/k").returncode == EXIT_USAGE


def test_debug_shows_the_traceback(cli_s3, s3_remote):
    result = cli_s3.run("--debug", "stat", s3_remote + "missing.txt")
    assert result.returncode == EXIT_NOT_FOUND
    assert "Traceback" in result.stderr


def test_no_progress_bar_without_a_terminal(cli_s3, s3_remote, tmp_path):
    (tmp_path / "f.bin").write_bytes(os.urandom(64 * 1024))
    result = cli_s3.ok("cp", str(tmp_path / "f.bin"), s3_remote)
    assert result.stderr == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_draw_per_file_and_total_on_a_terminal():
    terminal = _Terminal()
    bars = progress_callback(no_progress=False, stream=terminal)
    assert isinstance(bars, ProgressBars)
    with bars:
        bars.set_size(2)
        for name in ("first.bin", "second.bin"):
            with bars.branched(f"/tmp/{name}", f"bucket/{name}") as child:
                child.set_size(2048)
                child.relative_update(1024)
                child.relative_update(1024)
            bars.relative_update(1)
    drawn = terminal.getvalue()
    assert "first.bin" in drawn and "second.bin" in drawn
    assert "total" in drawn and "2/2" in drawn


def test_progress_is_off_when_asked_or_not_a_terminal():
    assert isinstance(progress_callback(no_progress=True, stream=_Terminal()), NoOpCallback)
    assert isinstance(progress_callback(no_progress=False, stream=io.StringIO()), NoOpCallback)
