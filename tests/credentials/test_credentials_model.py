"""Credentials as providers return them, and when they are fetched again (no server)."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from fsspec_unified import CommandCredentialsProvider, Credentials, exceptions
from fsspec_unified.driver.credentials import (
    RefreshingCredentials,
    environment_credentials,
    refresh_margin_s,
)

SECRET = "secret-VALUE-never-shown"
TOKEN = "token-VALUE-never-shown"


def _in(seconds: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


@pytest.mark.parametrize("returned", [
    ("AK", SECRET, TOKEN, "2030-01-01T00:00:00Z"),
    {"access_key": "AK", "secret_key": SECRET, "token": TOKEN,
     "expiry_time": "2030-01-01T00:00:00+00:00"},
    {"Version": 1, "AccessKeyId": "AK", "SecretAccessKey": SECRET, "SessionToken": TOKEN,
     "Expiration": "2030-01-01T00:00:00Z"},  # AWS credential_process
    {"RequestId": "x", "Credentials": {"AccessKeyId": "AK", "AccessKeySecret": SECRET,
                                       "SecurityToken": TOKEN,
                                       "Expiration": "2030-01-01T00:00:00Z"}},  # Aliyun STS
    Credentials("AK", SECRET, TOKEN, datetime(2030, 1, 1, tzinfo=timezone.utc)),
    ("AK", SECRET, TOKEN, datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp()),
])
def test_every_accepted_shape_gives_the_same_credentials(returned):
    credentials = Credentials.coerce(returned)
    assert credentials == Credentials("AK", SECRET, TOKEN,
                                      datetime(2030, 1, 1, tzinfo=timezone.utc))
    assert SECRET not in repr(credentials) and TOKEN not in repr(credentials)


@pytest.mark.parametrize("returned", [None, "AK:secret", ("AK",), {"AccessKeyId": "AK"},
                                      ("", SECRET), ("AK", SECRET, None, "next tuesday")])
def test_malformed_credentials_are_refused_without_echoing_them(returned):
    with pytest.raises(exceptions.ConfigurationError) as caught:
        Credentials.coerce(returned)
    assert SECRET not in str(caught.value)


def test_keys_are_fetched_again_only_within_the_margin_before_expiry():
    calls = []

    def provider():
        calls.append(time.monotonic())
        return (f"AK{len(calls)}", SECRET, TOKEN, _in(1.0))

    credentials = RefreshingCredentials(provider)
    assert credentials.current().access_key == "AK1"
    assert credentials.current().access_key == "AK1"  # well before expiry: cached
    time.sleep(0.6)  # past lifetime - margin (margin = half of a 1 s lifetime)
    assert credentials.current().access_key == "AK2"
    assert credentials.refreshes == 2
    assert refresh_margin_s(3600) == 300 and refresh_margin_s(60) == 30


def test_keys_without_expiry_are_fetched_once():
    calls = []
    credentials = RefreshingCredentials(lambda: calls.append(1) or ("AK", SECRET))
    for _ in range(100):
        credentials.current()
    assert calls == [1]


def test_a_failing_provider_keeps_valid_keys_then_fails_clearly():
    state = {"fail": False}

    def provider():
        if state["fail"]:
            raise RuntimeError("sts unreachable")
        return ("AK", SECRET, None, _in(12.0))

    credentials = RefreshingCredentials(provider)
    credentials.current()
    state["fail"] = True
    credentials._refresh_at = 0  # as if the margin had begun
    assert credentials.current().access_key == "AK"  # still valid for ~12 s: kept
    credentials._current = Credentials("AK", SECRET, None, _in(1.0))  # nearly expired
    credentials._refresh_at = 0
    with pytest.raises(exceptions.AuthenticationError, match="sts unreachable"):
        credentials.current()


def test_keys_that_are_already_expired_are_refused_by_name():
    credentials = RefreshingCredentials(lambda: ("AK", SECRET, None, _in(-5)))
    with pytest.raises(exceptions.AuthenticationError, match="expired at"):
        credentials.current()


def test_command_provider_reads_json_and_hides_its_output_on_failure(tmp_path, capfd):
    script = tmp_path / "creds.py"
    script.write_text(
        "import json, sys\n"
        f"print(json.dumps({{'Version': 1, 'AccessKeyId': 'AK', 'SecretAccessKey': {SECRET!r},"
        " 'Expiration': '2030-01-01T00:00:00Z'}))\n"
        "print('choose an account', file=sys.stderr)\n"
        "sys.exit(int(sys.argv[1]))\n")
    good = CommandCredentialsProvider(f"{sys.executable} {script} 0")
    assert good().secret_key == SECRET
    with pytest.raises(exceptions.AuthenticationError) as caught:
        CommandCredentialsProvider(f"{sys.executable} {script} 3")()
    assert "exited with code 3" in str(caught.value) and SECRET not in str(caught.value)
    assert "choose an account" in capfd.readouterr().err  # its stderr reaches the user
    with pytest.raises(exceptions.AuthenticationError, match="failed to run"):
        CommandCredentialsProvider(str(tmp_path / "missing-command"))()


@pytest.mark.parametrize(("provider", "environ", "expected"), [
    ("oss", {"OSS_ACCESS_KEY_ID": "A", "OSS_ACCESS_KEY_SECRET": "S", "OSS_SESSION_TOKEN": "T"},
     Credentials("A", "S", "T")),
    ("oss", {"ALIBABA_CLOUD_ACCESS_KEY_ID": "A", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "S"},
     Credentials("A", "S")),
    ("minio", {"MINIO_ACCESS_KEY": "A", "MINIO_SECRET_KEY": "S", "AWS_ACCESS_KEY_ID": "X",
               "AWS_SECRET_ACCESS_KEY": "Y"}, Credentials("A", "S")),
    ("minio", {"AWS_ACCESS_KEY_ID": "X", "AWS_SECRET_ACCESS_KEY": "Y"}, Credentials("X", "Y")),
    ("minio", {"MINIO_ACCESS_KEY": "A"}, None),
    ("oss", {}, None),
])
def test_environment_variables_of_each_provider(provider, environ, expected):
    assert environment_credentials(provider, environ) == expected
