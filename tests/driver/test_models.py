"""OSSConfig validation and secrecy, TransferProgress persistence (no server needed)."""

from __future__ import annotations

import logging
import pickle
from datetime import datetime, timezone

import pytest

from fsspec_unified import OSSConfig, TransferProgress, exceptions

SECRET = "s3cr3t-VALUE-never-shown"


def test_endpoint_scheme_decides_secure_and_is_normalised():
    config = OSSConfig(endpoint="http://127.0.0.1:9000", access_key="AK", secret_key=SECRET)
    assert (config.endpoint, config.secure, config.endpoint_url) == (
        "127.0.0.1:9000", False, "http://127.0.0.1:9000"
    )
    assert OSSConfig(endpoint="oss-cn-hangzhou.aliyuncs.com").endpoint_url == (
        "https://oss-cn-hangzhou.aliyuncs.com"
    )
    assert OSSConfig(endpoint="minio.local:9000", secure=False).endpoint_url == (
        "http://minio.local:9000"
    )
    assert OSSConfig(endpoint="https://[::1]:9000/").endpoint == "[::1]:9000"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"endpoint": "ftp://host"}, "endpoint"),
        ({"endpoint": "http://host:70000"}, "endpoint"),
        ({"endpoint": "http://host:0"}, "endpoint"),
        ({"endpoint": "http://host/path"}, "endpoint"),
        ({"endpoint": "http://user:pw@host"}, "endpoint"),
        ({"endpoint": "http://ho st"}, "endpoint"),
        ({"endpoint": "http://host", "secure": True}, "secure"),
        ({"region": "US East 1"}, "region"),
        ({"proxy": "not a url"}, "proxy"),
        ({"access_key": "AK"}, "access_key"),
        ({"read_timeout_s": 0}, "read_timeout_s"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_pool_connections": 0}, "max_pool_connections"),
        ({"provider": "gcs"}, "provider"),
    ],
)
def test_invalid_values_raise_a_value_error_naming_the_field(values, field):
    with pytest.raises(exceptions.ConfigurationError, match=field) as caught:
        OSSConfig(**values)
    assert isinstance(caught.value, ValueError)


def test_provider_aliases():
    assert OSSConfig(provider="AWS").provider == "s3"
    assert OSSConfig(provider="aliyun").provider == "oss"


def test_secret_never_appears_in_repr_str_or_logs(caplog):
    config = OSSConfig(access_key="AKID", secret_key=SECRET, session_token=SECRET + "-token")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").debug("config %s %r", config, config)
    for text in (repr(config), str(config), caplog.text):
        assert SECRET not in text
    assert "AKID" in repr(config)
    assert pickle.loads(pickle.dumps(config)).secret_key == SECRET  # workers still get it


def test_from_env_reads_prefixed_variables_and_converts_types():
    config = OSSConfig.from_env({
        "FSSPEC_UNIFIED_PROVIDER": "minio",
        "FSSPEC_UNIFIED_ENDPOINT": "http://localhost:9000",
        "FSSPEC_UNIFIED_ACCESS_KEY": "AK",
        "FSSPEC_UNIFIED_SECRET_KEY": SECRET,
        "FSSPEC_UNIFIED_MAX_RETRIES": "5",
        "FSSPEC_UNIFIED_READ_TIMEOUT_S": "2.5",
        "UNRELATED": "x",
    })
    assert (config.provider, config.max_retries, config.read_timeout_s) == ("minio", 5, 2.5)
    assert config.secure is False


def test_from_dict_rejects_unknown_and_malformed_values():
    with pytest.raises(exceptions.ConfigurationError, match="endpoit"):
        OSSConfig.from_dict({"endpoit": "http://x"})
    with pytest.raises(exceptions.ConfigurationError, match="max_retries"):
        OSSConfig.from_dict({"max_retries": "many"})
    with pytest.raises(exceptions.ConfigurationError, match="secure"):
        OSSConfig.from_dict({"secure": "maybe"})
    assert OSSConfig.from_dict({"secure": "false", "endpoint": "h:1"}).secure is False


def test_transfer_progress_round_trips_through_json():
    progress = TransferProgress(
        total_size=3 * 2**20,
        transferred=2**20,
        parts_completed={1: "etag-1", 3: "etag-3"},
        start_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        bucket="b",
        key="k",
        upload_id="u",
        part_size=2**20,
    )
    restored = TransferProgress.from_json(progress.to_json())
    assert restored == progress
    assert restored.parts_completed[3] == "etag-3"


@pytest.mark.parametrize("text", ["", "{}", "[1]", '{"total_size": 1}', "not json"])
def test_transfer_progress_rejects_foreign_json(text):
    with pytest.raises(ValueError):
        TransferProgress.from_json(text)
