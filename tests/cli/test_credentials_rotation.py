"""A long ``cp`` whose profile gets its keys from a command, while the server rotates them:
every key set lives a few seconds and is revoked when it expires."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading

from fsspec_unified.driver.types import MIB
from fsspec_unified.profiles import Profile, save_profile
from tests.credentials.rotating_keys import LIFETIME_S, RotatingKeys


def _publish(issuer: RotatingKeys, path) -> None:
    """Issue keys and publish them where the command reads them."""
    keys = issuer()
    record = {"AccessKeyId": keys.access_key, "SecretAccessKey": keys.secret_key,
              "Expiration": keys.expiry.isoformat()}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record))
    os.replace(temporary, path)


def _keep_publishing(issuer: RotatingKeys, path, stop: threading.Event) -> None:
    """New keys every half lifetime, until ``stop``."""
    while not stop.wait(LIFETIME_S / 2):
        _publish(issuer, path)


def test_cp_outlives_keys_rotated_by_the_server(cli_s3, s3_server, s3_remote, s3_client,
                                                tmp_path):
    current = tmp_path / "current-keys.json"
    command = f"{sys.executable} -c \"import sys; print(open(sys.argv[1]).read())\" {current}"
    save_profile(Profile("rotating", provider="s3", endpoint=s3_server.endpoint_url,
                         region="us-east-1", credentials="command",
                         credentials_command=command), cli_s3.config_dir / "profiles.toml")
    source = tmp_path / "long.bin"
    source.write_bytes(os.urandom(12 * MIB))
    stop = threading.Event()
    with RotatingKeys(s3_server) as issuer:
        _publish(issuer, current)  # before the command can first ask for keys
        publisher = threading.Thread(target=_keep_publishing, args=(issuer, current, stop))
        publisher.start()
        try:
            cli_s3.with_profile("rotating").ok(
                "cp", "--part-size", "5MiB", "--workers", "2", "--rate-limit", "2MiB/s",
                str(source), s3_remote + "long.bin")
        finally:
            stop.set()
            publisher.join()
        assert issuer.revoked >= 1, "no key was revoked during the copy"
    bucket, key = (s3_remote + "long.bin")[len("unified://"):].split("/", 1)
    body = s3_client.get_object(bucket, key)
    assert hashlib.sha256(body).digest() == hashlib.sha256(source.read_bytes()).digest()
