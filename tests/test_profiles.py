"""Profiles in the library: the file, validation, and how a profile meets other options."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import uuid

import fsspec
import pytest

from fsspec_unified import Profile, exceptions
from fsspec_unified.driver.credentials import CommandCredentialsProvider
from fsspec_unified.profiles import get_profile, load_profiles, remove_profile, save_profile
from fsspec_unified.storage_options import parse_storage_options

SECRET = "profile-secret-never-shown"


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    directory = tmp_path / "config"
    monkeypatch.setenv("UNIFIED_CONFIG_DIR", str(directory))
    return directory


def test_profiles_are_saved_owner_only_and_read_back(config_dir):
    profile = Profile("prod", provider="aliyun", endpoint="https://oss-cn-hangzhou.aliyuncs.com",
                      region="cn-hangzhou", access_key="AK", secret_key=SECRET,
                      part_size="16MiB", workers=12, rate_limit="50MB/s")
    path = save_profile(profile)
    save_profile(Profile("other", credentials="anonymous", endpoint="http://127.0.0.1:9"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    loaded = load_profiles()
    assert loaded["prod"] == profile
    assert (loaded["prod"].provider, loaded["prod"].part_size, loaded["prod"].rate_limit) == (
        "oss", 16 * 1024**2, 50e6)
    assert SECRET not in repr(profile) and SECRET not in str(profile.describe())
    remove_profile("other")
    assert set(load_profiles()) == {"prod"}
    assert not [p for p in config_dir.iterdir() if p.name.startswith(".profiles-")]


@pytest.mark.parametrize(("values", "message"), [
    ({"provider": "gcs"}, "unknown provider"),
    ({"access_key": "AK"}, "needs access_key and secret_key"),
    ({"credentials": "env", "access_key": "AK", "secret_key": "S"}, "only used with"),
    ({"credentials": "aws", "provider": "oss"}, "needs provider 's3'"),
    ({"credentials": "command"}, "needs credentials_command"),
    ({"credentials": "vault"}, "is not one of"),
    ({"part_size": "lots"}, "is not a size"),
    ({"workers": 0}, "workers"),
    ({"rate_limit": "fast"}, "is not a size"),
    ({"signature_version": "v2"}, "signature_version"),
    ({"endpoit": "x"}, "unknown setting"),
    ({"credentials": "env", "session_token": "T"}, "session_token: only used with"),
    ({"credentials": "anonymous", "credentials_command": "x"}, "only used with"),
])
def test_malformed_profiles_are_refused_by_name(values, message):
    with pytest.raises(exceptions.ConfigurationError, match=message):
        Profile.from_mapping("bad", values)


def test_a_damaged_file_and_a_missing_profile_are_clear_errors(config_dir):
    save_profile(Profile("one", endpoint="http://127.0.0.1:9", access_key="AK",
                         secret_key=SECRET))
    with pytest.raises(exceptions.ProfileNotFoundError, match="profiles: one") as caught:
        parse_storage_options({"profile": "two"})
    assert isinstance(caught.value, LookupError)
    (config_dir / "profiles.toml").write_text("[one\n")
    with pytest.raises(exceptions.ConfigurationError, match="not valid TOML"):
        load_profiles()


def test_one_broken_profile_leaves_the_others_usable_and_removable(config_dir):
    save_profile(Profile("good", endpoint="http://127.0.0.1:9", access_key="AK",
                         secret_key=SECRET))
    with open(config_dir / "profiles.toml", "a", encoding="utf-8") as handle:
        handle.write('\n[broken]\nprovider = "gcs"\n')
    assert get_profile("good").access_key == "AK"
    with pytest.raises(exceptions.ConfigurationError, match=r"'broken'.*profile remove broken"):
        load_profiles()
    save_profile(Profile("another", credentials="anonymous"))
    remove_profile("broken")
    assert set(load_profiles()) == {"good", "another"}


def test_options_as_strings_and_numbers_mean_what_they_say(config_dir):
    """From FSSPEC_UNIFIED_* variables or fsspec's config file values arrive as strings (or
    JSON): anon="false" keeps a profile's keys, and a profile named 2024 is found."""
    save_profile(Profile("2024", endpoint="http://127.0.0.1:9", access_key="AK",
                         secret_key=SECRET))
    for anon in ("false", "False", False):
        config, _ = parse_storage_options({"profile": 2024, "anon": anon})
        assert (config.access_key, config.anonymous) == ("AK", False)
    config, _ = parse_storage_options({"profile": "2024", "anonymous": "true"})
    assert (config.access_key, config.anonymous) == (None, True)


def test_options_override_the_profile_and_credentials_replace_it_whole(config_dir):
    save_profile(Profile("base", endpoint="http://127.0.0.1:9", region="us-east-1",
                         access_key="AK", secret_key=SECRET, workers=3, part_size="6MiB"))
    config, options = parse_storage_options({"profile": "base", "max_workers": 5,
                                             "endpoint_url": "http://127.0.0.1:10"})
    assert (config.endpoint, config.access_key, config.region) == ("127.0.0.1:10", "AK",
                                                                   "us-east-1")
    assert (options.max_workers, options.block_size) == (5, 6 * 1024**2)
    provider = CommandCredentialsProvider("true")
    config, _ = parse_storage_options({"profile": "base", "credentials_provider": provider})
    assert (config.access_key, config.secret_key, config.credentials_provider) == (
        None, None, provider)
    config, _ = parse_storage_options({"profile": "base", "anon": True})
    assert config.anonymous and config.access_key is None
    # s3fs's default spelled out chooses nothing: the profile's keys stay.
    config, _ = parse_storage_options({"profile": "base", "anon": False})
    assert (config.access_key, config.anonymous) == ("AK", False)
    with pytest.raises(exceptions.ConfigurationError, match="session_token: needs"):
        parse_storage_options({"profile": "base", "token": "T"})


def test_every_way_of_naming_a_profile_reaches_the_same_store(store, client, tmp_path,
                                                              config_dir):
    """fsspec.filesystem(profile=), fsspec.open(unified://) with the option, pandas'
    storage_options, and the FSSPEC_UNIFIED_PROFILE variable of a fresh process."""
    name = f"store-{store.provider}"
    save_profile(Profile(name, provider=store.provider, endpoint=store.endpoint_url,
                         region=store.region, access_key=store.access_key,
                         secret_key=store.secret_key))
    bucket = f"profiles-{store.provider}"
    if bucket not in {b.name for b in client.list_buckets()}:
        client.create_bucket(bucket)
    path = f"{bucket}/{uuid.uuid4().hex}.csv"
    fs = fsspec.filesystem("unified", profile=name, skip_instance_cache=True)
    fs.pipe_file(path, b"a,b\n1,2\n")
    with fsspec.open(f"unified://{path}", "rb", profile=name) as handle:
        assert handle.read() == b"a,b\n1,2\n"
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(f"unified://{path}", storage_options={"profile": name})
    assert frame.to_dict("list") == {"a": [1], "b": [2]}
    script = textwrap.dedent(f"""
        import fsspec
        with fsspec.open("unified://{path}", "rb") as handle:
            print(handle.read().decode().splitlines()[1])
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FSSPEC_")}
    env.update(FSSPEC_UNIFIED_PROFILE=name, UNIFIED_CONFIG_DIR=str(config_dir))
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout.strip()) == (0, "1,2"), result.stderr
