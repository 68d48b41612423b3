"""Keys that the server rotates during a long transfer: each set lives a few seconds and is
revoked as soon as it expires, as temporary credentials of an STS are. A filesystem with a
``credentials_provider`` finishes; one holding the first keys fails once they are revoked."""

from __future__ import annotations

import hashlib
import os
import time
import uuid

import fsspec
import pytest

from fsspec_unified import exceptions
from fsspec_unified.driver.types import MIB
from tests.credentials.rotating_keys import RotatingKeys


@pytest.fixture
def rotating_keys(s3_server, store, request):
    gateway = request.getfixturevalue("oss_gateway") if store.provider == "oss" else None
    with RotatingKeys(s3_server, gateway) as issuer:
        yield issuer


@pytest.fixture(scope="session")
def rotation_bucket(client, provider) -> str:
    name = f"rotation-{provider}"
    client.create_bucket(name)
    return name


def _filesystem(store, **options):
    return fsspec.filesystem("unified", provider=store.provider, endpoint_url=store.endpoint_url,
                             region=store.region, skip_instance_cache=True, **options)


def test_a_long_upload_outlives_the_keys_it_started_with(store, rotating_keys, rotation_bucket):
    data = os.urandom(10 * MIB)
    fs = _filesystem(store, credentials_provider=rotating_keys, block_size=5 * MIB,
                     max_workers=2, rate_limit_bytes_per_s=2.5 * MIB)
    path = f"{rotation_bucket}/{uuid.uuid4().hex}/long.bin"
    fs.pipe_file(path, data)
    # The upload outlived its first keys: they expired and were revoked while it ran.
    assert rotating_keys.revoked >= 1 and rotating_keys.issued >= 3, (
        rotating_keys.issued, rotating_keys.revoked)
    assert hashlib.sha256(fs.cat_file(path)).digest() == hashlib.sha256(data).digest()
    fs.close()


def test_without_a_provider_the_revoked_keys_fail(store, rotating_keys, rotation_bucket):
    """The control: the same keys given once stop working when the server revokes them."""
    first = rotating_keys()
    fs = _filesystem(store, key=first.access_key, secret=first.secret_key)
    assert isinstance(fs.ls(rotation_bucket), list)
    time.sleep(first.expires_in_s() + 1.0)
    with pytest.raises(exceptions.AuthenticationError):
        fs.invalidate_cache()
        fs.ls(rotation_bucket)
    fs.close()
