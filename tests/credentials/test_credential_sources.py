"""Where each provider's keys come from, against the real server: a ``credentials_provider``
refreshed during a transfer, the provider's environment variables, boto3's profiles, a
credentials command, and anonymous requests."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone

import fsspec
import pytest

from fsspec_unified import CommandCredentialsProvider, Credentials, exceptions
from fsspec_unified.driver.types import MIB

SIZE = 11 * MIB


@pytest.fixture(scope="session")
def keys_bucket(client, provider) -> str:
    name = f"keys-{provider}"
    client.create_bucket(name)
    return name


def _options(store, **credentials) -> dict:
    return {"provider": store.provider, "endpoint_url": store.endpoint_url,
            "region": store.region, "skip_instance_cache": True, **credentials}


def test_a_credentials_provider_is_refreshed_during_a_long_upload(store, keys_bucket):
    """Keys that live 2 s are fetched again about every second while an upload paced to take
    ~3 s runs; every part is signed with keys that are still valid."""
    fetched = []
    lock = threading.Lock()

    def provider() -> Credentials:
        with lock:
            fetched.append(datetime.now(timezone.utc))
        return Credentials(store.access_key, store.secret_key, None,
                           datetime.now(timezone.utc) + timedelta(seconds=2))

    fs = fsspec.filesystem("unified", **_options(store, credentials_provider=provider),
                           block_size=5 * MIB, rate_limit_bytes_per_s=4 * MIB)
    data = os.urandom(SIZE)
    path = f"{keys_bucket}/{uuid.uuid4().hex}/big.bin"
    fs.pipe_file(path, data)
    assert hashlib.sha256(fs.cat_file(path)).digest() == hashlib.sha256(data).digest()
    assert len(fetched) >= 3, fetched
    fs.close()


def test_a_provider_returning_wrong_keys_fails_as_a_permission_error(store, keys_bucket):
    fs = fsspec.filesystem("unified", **_options(
        store, credentials_provider=lambda: ("AKWRONG0000000000000", "not-the-secret")))
    with pytest.raises(exceptions.AuthenticationError) as caught:
        fs.ls(keys_bucket)
    assert isinstance(caught.value, PermissionError)
    assert "not-the-secret" not in str(caught.value)


def test_the_providers_usual_environment_variables_are_used(store, keys_bucket, monkeypatch):
    names = {"s3": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
             "minio": ("MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"),
             "oss": ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET")}[store.provider]
    monkeypatch.setenv(names[0], store.access_key)
    monkeypatch.setenv(names[1], store.secret_key)
    fs = fsspec.filesystem("unified", **_options(store))
    path = f"{keys_bucket}/{uuid.uuid4().hex}.txt"
    fs.pipe_file(path, b"from the environment")
    assert fs.cat_file(path) == b"from the environment"
    monkeypatch.setenv(names[1], "a-wrong-secret")
    with pytest.raises(exceptions.AuthenticationError):
        fsspec.filesystem("unified", **_options(store)).cat_file(path)


def test_anonymous_requests_are_unsigned_and_refused_by_a_private_bucket(store, keys_bucket,
                                                                        monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MINIO_ACCESS_KEY",
                 "MINIO_SECRET_KEY", "OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET"):
        monkeypatch.setenv(name, "set-but-ignored")
    fs = fsspec.filesystem("unified", **_options(store, anon=True))
    with pytest.raises(PermissionError):
        fs.ls(keys_bucket)


def test_a_credentials_command_supplies_the_keys(store, keys_bucket, tmp_path):
    script = tmp_path / "issue_keys.py"
    keys = {"AccessKeyId": store.access_key, "SecretAccessKey": store.secret_key,
            "Expiration": "2099-01-01T00:00:00Z"}
    script.write_text(f"import json\nprint(json.dumps({keys!r}))\n")
    fs = fsspec.filesystem("unified", **_options(
        store, credentials_provider=CommandCredentialsProvider(f"{sys.executable} {script}")))
    assert isinstance(fs.ls(keys_bucket), list)


def test_boto3_named_profiles_are_read_for_s3(s3_server, tmp_path, monkeypatch):
    shared = tmp_path / "credentials"
    shared.write_text(f"[ci]\naws_access_key_id = {s3_server.access_key}\n"
                      f"aws_secret_access_key = {s3_server.secret_key}\n")
    (tmp_path / "config").write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    options = {"endpoint_url": s3_server.endpoint_url, "skip_instance_cache": True}
    fs = fsspec.filesystem("unified", aws_profile="ci", **options)
    assert isinstance(fs.ls(""), list)
    with pytest.raises(exceptions.ConfigurationError, match="no profile 'nope'"):
        fsspec.filesystem("unified", aws_profile="nope", **options).ls("")


def test_only_one_way_to_authenticate_is_accepted(store):
    with pytest.raises(exceptions.ConfigurationError, match="only one way"):
        fsspec.filesystem("unified", **_options(
            store, key="AK", secret="S", credentials_provider=lambda: ("A", "B")))
    with pytest.raises(exceptions.ConfigurationError, match="callable"):
        fsspec.filesystem("unified", **_options(store, credentials_provider=json.dumps({})))
