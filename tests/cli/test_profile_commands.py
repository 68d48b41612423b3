"""``profile add|list|show|remove``: a round trip, secrets that never show, an owner-only
file, and a profile made by the command line that the library and pandas use by name."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import CLI

SECRET = "s3cr3t-never-printed-Qx7"
TOKEN = "t0ken-never-printed-Zw9"


@pytest.fixture
def home_cli(tmp_path: Path) -> CLI:
    """A command line with a profiles file of its own (empty at first)."""
    return CLI(tmp_path)


def add_keys_profile(cli: CLI, name: str, *extra: str, access_key: str = "AKTEST",
                     secret: str = SECRET,
                     endpoint: str = "http://127.0.0.1:9") -> subprocess.CompletedProcess:
    """``profile add`` with the secret read from stdin (``--secret-key -``)."""
    return cli.ok("profile", "add", name, "--provider", "s3", "--endpoint", endpoint,
                  "--region", "us-east-1", "--access-key", access_key, "--secret-key", "-",
                  *extra, input=secret + "\n")


def assert_no_secret(*results: subprocess.CompletedProcess) -> None:
    for result in results:
        for text in (result.stdout, result.stderr):
            assert SECRET not in text and TOKEN not in text


def test_profile_round_trip_never_prints_the_secret(home_cli: CLI) -> None:
    added = add_keys_profile(home_cli, "work", "--session-token", TOKEN, "--part-size", "16MiB",
                             "--workers", "6", "--rate-limit", "20MB/s")
    add_keys_profile(home_cli, "other", "--force")

    listed = home_cli.ok("profile", "list")
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["NAME", "other", "work"]
    listed_json = home_cli.json("profile", "list")
    assert [entry["name"] for entry in listed_json] == ["other", "work"]

    shown = home_cli.ok("profile", "show", "work")
    assert "secret_key = ********" in shown.stdout
    assert "session_token = ********" in shown.stdout
    shown_json = home_cli.json("profile", "show", "work")
    assert shown_json == {
        "name": "work", "provider": "s3", "endpoint": "http://127.0.0.1:9",
        "region": "us-east-1", "credentials": "keys", "access_key": "AKTEST",
        "secret_key": "********", "session_token": "********", "part_size": 16 * 1024**2,
        "workers": 6, "rate_limit": 20e6,
    }
    assert SECRET in (home_cli.config_dir / "profiles.toml").read_text()

    removed = home_cli.ok("profile", "remove", "work")
    missing = home_cli.run("profile", "show", "work")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: profile 'work' not found")
    assert [entry["name"] for entry in home_cli.json("profile", "list")] == ["other"]
    assert_no_secret(added, listed, shown, removed, missing,
                     home_cli.ok("profile", "list", "--json"))


def test_errors_do_not_print_the_secret(home_cli: CLI) -> None:
    exists = home_cli.run("profile", "add", "dup", "--provider", "s3", "--access-key", "AK",
                          "--secret-key", SECRET)
    assert exists.returncode == 0, exists.stderr
    again = home_cli.run("profile", "add", "dup", "--provider", "s3", "--access-key", "AK",
                         "--secret-key", SECRET)
    assert again.returncode == 6 and "--force" in again.stderr
    conflicting = home_cli.run("profile", "add", "env-only", "--provider", "oss",
                               "--credentials", "env", "--secret-key", SECRET)
    assert conflicting.returncode == 2 and "only used with credentials = 'keys'" in \
        conflicting.stderr
    bad_size = home_cli.run("profile", "add", "bad", "--provider", "s3", "--access-key",
                                "AK", "--secret-key", SECRET, "--part-size", "lots")
    assert bad_size.returncode == 2
    assert_no_secret(exists, again, conflicting, bad_size)


def test_secret_is_not_asked_for_without_a_terminal(home_cli: CLI) -> None:
    result = home_cli.run("profile", "add", "nokey", "--provider", "s3", "--access-key", "AK",
                          input="")
    assert result.returncode == 2
    assert "--secret-key -" in result.stderr
    assert not (home_cli.config_dir / "profiles.toml").exists()


def test_replacing_a_profile_needs_force(home_cli: CLI) -> None:
    add_keys_profile(home_cli, "p")
    refused = home_cli.run("profile", "add", "p", "--provider", "oss", "--credentials", "env")
    assert refused.returncode == 6
    assert home_cli.json("profile", "show", "p")["provider"] == "s3"
    home_cli.ok("profile", "add", "p", "--provider", "aliyun", "--credentials", "env",
                "--region", "cn-hangzhou", "--force")
    assert home_cli.json("profile", "show", "p") == {
        "name": "p", "provider": "oss", "region": "cn-hangzhou", "credentials": "env"}


def test_profiles_file_is_owner_only(home_cli: CLI) -> None:
    add_keys_profile(home_cli, "private")
    add_keys_profile(home_cli, "second")  # a rewrite keeps the modes
    path = home_cli.config_dir / "profiles.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home_cli.config_dir.stat().st_mode) == 0o700


def test_profile_added_by_the_cli_works_in_the_library_and_pandas(
        home_cli: CLI, s3_server: Any) -> None:
    add_keys_profile(home_cli, "mine", access_key=s3_server.access_key,
                     secret=s3_server.secret_key, endpoint=s3_server.endpoint_url)
    script = textwrap.dedent("""
        import json, uuid
        import fsspec
        import pandas as pd

        fs = fsspec.filesystem("unified", profile="mine", skip_instance_cache=True)
        bucket = "profile-" + uuid.uuid4().hex[:10]
        fs.mkdir(bucket)
        fs.pipe(f"{bucket}/hello.txt", b"hi")
        frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
        url = f"unified://{bucket}/frame.parquet"
        frame.to_parquet(url, storage_options={"profile": "mine"})
        back = pd.read_parquet(url, storage_options={"profile": "mine"})
        print(json.dumps({"listed": sorted(fs.ls(bucket)), "same": bool(back.equals(frame)),
                          "bucket": bucket}))
    """)
    result = subprocess.run([sys.executable, "-c", script], env=home_cli.env(),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    bucket = report["bucket"]
    assert report["listed"] == [f"{bucket}/frame.parquet", f"{bucket}/hello.txt"]
    assert report["same"] is True


@pytest.mark.parametrize("settings, refused", [
    (("--credentials", "env", "--session-token", TOKEN), "session_token"),
    (("--credentials", "anonymous", "--credentials-command", "print-keys"),
     "credentials_command"),
])
def test_add_refuses_a_setting_its_credentials_source_ignores(
        home_cli: CLI, settings: tuple[str, ...], refused: str) -> None:
    result = home_cli.run("profile", "add", "p", "--provider", "s3", *settings)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {refused}: only used with credentials = ")
    assert len(result.stderr.splitlines()) == 1
    assert_no_secret(result)
    assert not (home_cli.config_dir / "profiles.toml").exists()
