"""``serve``: a local S3 server (SeaweedFS) in the foreground, and a profile that reaches it.

The server keeps its data under ``<data dir>/server`` (or ``--data-dir``), so objects survive a
restart. Its credentials are generated on the first start and kept in that directory
(``credentials.json``, readable by the owner only), so a restart on the same data accepts the
same keys; they are printed, since this is the user's own server. The ``local`` profile
(``--profile-name``) is written on every start, as the port may change; with ``--oss`` an OSS
protocol gateway runs in front too, with a ``<name>-oss`` profile.

Ctrl-C (SIGINT) or SIGTERM stops SeaweedFS gracefully (it can take up to half a minute) and
exits with 0.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import click

from ... import local_server
from ...local_server import LocalS3Server
from ...profiles import Profile, data_dir, save_profile

CREDENTIALS_FILE = "credentials.json"
S3_REGION = "us-east-1"
OSS_REGION = "cn-hangzhou"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class ServerCredentials:
    """The full-access key pair of one server data directory."""

    access_key: str
    secret_key: str

    @classmethod
    def kept_in(cls, directory: Path) -> ServerCredentials:
        """The pair stored in ``directory``, made and stored (owner-only) on first use."""
        path = directory / CREDENTIALS_FILE
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            pass
        credentials = cls("AK" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({"access_key": credentials.access_key,
                       "secret_key": credentials.secret_key}, handle)
        return credentials


@click.command()
@click.option("--port", type=click.IntRange(1, 55535), default=None,
              help="S3 port (default: a free one; port + 10000 must be free too).")
@click.option("--data-dir", "server_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Where the server keeps its data (default: <data dir>/server).")
@click.option("--oss", is_flag=True,
              help="Also serve Aliyun OSS's protocol (a gateway in front of the server).")
@click.option("--profile-name", default="local", show_default=True,
              help="Profile to write for the server (replaced if it exists); with --oss, "
                   "NAME-oss too.")
def serve(port: int | None, server_dir: Path | None, oss: bool, profile_name: str) -> None:
    """Run a local S3 server on loopback until Ctrl-C, with a profile that reaches it.

    \b
    Examples:
      fsspec-unified serve
      fsspec-unified serve --port 9000 --data-dir ./s3-data
      fsspec-unified serve --oss --profile-name dev
      fsspec-unified --profile local mb unified://my-bucket   # in another terminal
    """
    local_server.find_weed_binary()  # fail now, with the install hint, if it is missing
    server_dir = server_dir or data_dir() / "server"
    credentials = ServerCredentials.kept_in(server_dir)
    server = LocalS3Server(server_dir, access_key=credentials.access_key,
                           secret_key=credentials.secret_key, s3_port=port)
    click.echo(f"starting SeaweedFS (data in {server_dir}) ...", err=True)
    with server:
        profiles = [Profile(profile_name, provider="s3", endpoint=server.endpoint_url,
                            region=S3_REGION, access_key=credentials.access_key,
                            secret_key=credentials.secret_key)]
        gateway = None
        if oss:
            from ...testing.oss_gateway import OSSGateway  # only here: oss2 loads slowly

            gateway = OSSGateway(server.endpoint_url, credentials.access_key,
                                 credentials.secret_key, region=OSS_REGION).start()
            profiles.append(Profile(f"{profile_name}-oss", provider="oss",
                                    endpoint=gateway.endpoint_url, region=OSS_REGION,
                                    access_key=credentials.access_key,
                                    secret_key=credentials.secret_key))
        try:
            for entry in profiles:
                save_profile(entry)
            _print_connection(profiles, credentials)
            _wait_for_stop_signal()
            click.echo("stopping (SeaweedFS may take up to 30 s) ...", err=True)
        finally:
            if gateway is not None:
                gateway.stop()
    click.echo("stopped", err=True)


def _print_connection(profiles: list[Profile], credentials: ServerCredentials) -> None:
    for entry in profiles:
        click.echo(f"{entry.provider.upper()} endpoint: {entry.endpoint}  "
                   f"(profile {entry.name!r})")
    click.echo(f"access key: {credentials.access_key}")
    click.echo(f"secret key: {credentials.secret_key}")
    click.echo(f"try: fsspec-unified --profile {profiles[0].name} mb unified://my-bucket")
    click.echo("Ctrl-C stops the server.")


def _wait_for_stop_signal() -> None:
    """Block until SIGINT or SIGTERM; later ones are ignored, so that the graceful stop that
    follows is not cut short (it is bounded: SeaweedFS is killed if it takes too long)."""
    stop = threading.Event()

    def request_stop(signal_number: int, frame: object) -> None:
        stop.set()

    for signal_number in _STOP_SIGNALS:
        signal.signal(signal_number, request_stop)
    while not stop.wait(timeout=1.0):
        pass


COMMANDS = [serve]
