"""Failures: one ``error:`` line and a distinct exit code; a traceback only with --debug.

Also the progress bars: drawn on a terminal (checked in-process, with a stream that says it
is one), absent when stderr is a pipe.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess

from fsspec.callbacks import NoOpCallback

from fsspec_unified import exceptions
from fsspec_unified.cli.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_EXISTS,
    EXIT_NETWORK,
    EXIT_NOT_FOUND,
    EXIT_PERMISSION,
    EXIT_USAGE,
    exit_code_for,
    one_line,
)
from fsspec_unified.cli.progress import ProgressBars, progress_callback
from fsspec_unified.profiles import Profile, save_profile
from tests.cli.conftest import write_store_profile
from tests.conftest import Store

TOKEN = "session-token-never-printed-Kq4"


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


def test_usage_errors_exit_2_with_one_line(cli_s3, tmp_path):
    assert cli_s3.run("cp", str(tmp_path), str(tmp_path / "b")).returncode == EXIT_USAGE
    for args in (("ls", "--no-such-option"), ("cp", "--part-size", "lots", "a", "unified://b/k"),
                 ("cp",)):
        result = cli_s3.run(*args)
        assert result.returncode == EXIT_USAGE
        assert "--help" in _one_error_line(result.stderr)


def test_debug_never_prints_a_session_token(cli_s3, s3_server, s3_bucket):
    """botocore logs the canonical request (token included) at DEBUG: --debug shows our
    records, not its."""
    profile = Profile("with-token", provider="s3", endpoint=s3_server.endpoint_url,
                      region="us-east-1", access_key=s3_server.access_key,
                      secret_key=s3_server.secret_key, session_token=TOKEN)
    save_profile(profile, cli_s3.config_dir / "profiles.toml")
    result = cli_s3.with_profile("with-token").run("--debug", "ls", f"unified://{s3_bucket}/")
    assert result.returncode == EXIT_PERMISSION  # the server knows no such token
    assert "fsspec_unified" in result.stderr  # the debug records are there ...
    assert TOKEN not in result.stderr and s3_server.secret_key not in result.stderr  # ... safe


def test_a_closed_output_pipe_stops_quietly_with_141(cli_s3, s3_remote, tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(4 * 1024 * 1024))
    cli_s3.ok("cp", str(source), s3_remote + "big.bin")
    reader = cli_s3.popen("cat", s3_remote + "big.bin", stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    assert reader.stdout.read(1)
    reader.stdout.close()  # as `| head -c1` does
    assert reader.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert reader.stderr.read() == b""


def test_a_failed_transfer_exits_with_the_code_of_its_cause():
    upload = exceptions.UploadError("upload of b/k failed")
    upload.__cause__ = exceptions.ConnectionError("connection refused")
    assert exit_code_for(upload) == EXIT_NETWORK
    assert exit_code_for(exceptions.TransferInProgressError("busy")) == EXIT_EXISTS
    assert exit_code_for(exceptions.UploadError("no cause")) == EXIT_ERROR
    assert one_line(FileNotFoundError("bucket/key")) == "error: not found: bucket/key"


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
