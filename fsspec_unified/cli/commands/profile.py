"""``profile add|list|show|remove``: the named profiles of :mod:`fsspec_unified.profiles`.

A secret (``secret_key``, ``session_token``) is never printed: ``list`` and ``show`` print
:meth:`~fsspec_unified.profiles.Profile.describe`, which masks it. It is read from the command
line, from stdin (``--secret-key -``, so it stays out of the shell history and ``ps``), or from
a hidden prompt on a terminal. The profiles file stays readable by its owner only.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ...driver.models import PROVIDER_ALIASES, PROVIDERS, SIGNATURE_VERSIONS
from ...profiles import (
    CREDENTIAL_SOURCES,
    Profile,
    get_profile,
    load_profiles,
    profile_names,
    profiles_path,
    remove_profile,
    save_profile,
)
from ..options import RATE, SIZE, json_option
from ..output import print_json, print_rows

READ_FROM_STDIN = "-"
_LIST_COLUMNS = ("provider", "endpoint", "region", "credentials")


@click.group()
def profile() -> None:
    """Add, list, show and remove named profiles (where and how to connect)."""


@profile.command("add")
@click.argument("name")
@click.option("--provider", required=True,
              type=click.Choice([*PROVIDERS, *PROVIDER_ALIASES], case_sensitive=False),
              help="Which store: s3 (aws), minio or oss (aliyun).")
@click.option("--endpoint", help="Endpoint URL (default: the provider's public one).")
@click.option("--region", help="Region, e.g. us-east-1 or cn-hangzhou.")
@click.option("--signature-version", type=click.Choice(SIGNATURE_VERSIONS),
              help="OSS request signatures (default: v4).")
@click.option("--credentials", type=click.Choice(CREDENTIAL_SOURCES),
              help="Where the keys come from (default: keys when --access-key is given, "
                   "else env).")
@click.option("--access-key", help="Access key id (with --credentials keys).")
@click.option("--secret-key", metavar="SECRET|-",
              help="Secret key; '-' reads it from stdin. Left out with keys credentials: "
                   "asked for on the terminal, not echoed.")
@click.option("--session-token", help="Session token of temporary keys.")
@click.option("--aws-profile", help="Profile of ~/.aws to use (with --credentials aws).")
@click.option("--credentials-command",
              help="Command printing temporary keys as JSON (with --credentials command).")
@click.option("--part-size", type=SIZE, help="Default part size, e.g. 16MiB.")
@click.option("--workers", type=click.IntRange(min=1), help="Default requests in flight.")
@click.option("--rate-limit", type=RATE, help="Default bandwidth limit, e.g. 50MB/s.")
@click.option("--force", is_flag=True, help="Replace a profile of the same name.")
def add(name: str, force: bool, secret_key: str | None, **settings: Any) -> None:
    """Save profile NAME (replacing one only with --force).

    \b
    Where the keys come from (--credentials):
      keys       --access-key and its secret, stored in the profile (owner-only file);
                 the secret is asked for on the terminal without echo, or read from
                 stdin with '--secret-key -' (so it stays out of shell history and ps)
      env        the provider's usual variables when the command runs: AWS_* for s3,
                 OSS_* or ALIBABA_CLOUD_* for oss, MINIO_* or AWS_* for minio
      aws        boto3's chain (environment, ~/.aws, SSO, instance roles), with
                 --aws-profile for a named profile of ~/.aws (s3 only)
      command    --credentials-command prints JSON {"AccessKeyId", "SecretAccessKey",
                 "SessionToken", "Expiration"}; it is run again before they expire
      anonymous  unsigned requests, for public buckets
    Settings of another source (e.g. --session-token without keys) are refused.

    \b
    Examples:
      fsspec-unified profile add work --provider s3 --region eu-west-1 --access-key AKIA...
      vault read -field=secret kv/s3 | fsspec-unified profile add ci --provider minio \\
          --endpoint http://minio:9000 --access-key ci --secret-key -
      fsspec-unified profile add prod --provider oss --region cn-hangzhou --credentials env
      fsspec-unified profile add sso --provider s3 --credentials aws --aws-profile dev
      fsspec-unified profile add sts --provider s3 --credentials command \\
          --credentials-command 'my-sts-helper --role reader'
    """
    if name in profile_names() and not force:
        raise FileExistsError(f"profile {name!r} exists; use --force to replace it")
    uses_keys = settings["credentials"] == "keys" or (
        settings["credentials"] is None and settings["access_key"])
    if uses_keys:
        if not settings["access_key"]:
            raise click.UsageError("--credentials keys needs --access-key")
        settings["secret_key"] = _read_secret(secret_key)
    elif secret_key is not None:
        settings["secret_key"] = _read_secret(secret_key)  # Profile explains the conflict
    values = {key: value for key, value in settings.items() if value is not None}
    path = save_profile(Profile.from_mapping(name, values))
    click.echo(f"profile {name!r} saved in {path}")


def _read_secret(given: str | None) -> str:
    """The secret from the option, from stdin (``-``), or from a hidden prompt; refused when
    there is no terminal to prompt on (a script would otherwise hang on the prompt)."""
    if given == READ_FROM_STDIN:
        secret = sys.stdin.readline().rstrip("\r\n")
    elif given is not None:
        secret = given
    elif sys.stdin.isatty():
        secret = click.prompt("secret key", hide_input=True)
    else:
        raise click.UsageError("no terminal to ask for the secret key on: give --secret-key, "
                               "or '--secret-key -' to read it from stdin")
    if not secret:
        raise click.UsageError("the secret key is empty")
    return secret


@profile.command("list")
@json_option
def list_profiles(as_json: bool) -> None:
    """List the profiles (secrets masked).

    \b
    Examples:
      fsspec-unified profile list
      fsspec-unified profile list --json
    """
    profiles = load_profiles()
    if as_json:
        print_json([{"name": name, **entry.describe()}
                    for name, entry in sorted(profiles.items())])
        return
    if not profiles:
        click.echo(f"no profiles yet in {profiles_path()}; add one with "
                   "'fsspec-unified profile add'", err=True)
        return
    rows = [("NAME", *(column.upper() for column in _LIST_COLUMNS))]
    for name, entry in sorted(profiles.items()):
        shown = entry.describe()
        rows.append((name, *(str(shown.get(column, "-")) for column in _LIST_COLUMNS)))
    print_rows(rows)


@profile.command("show")
@click.argument("name")
@json_option
def show(name: str, as_json: bool) -> None:
    """Show profile NAME's settings (secrets masked).

    \b
    Examples:
      fsspec-unified profile show work
      fsspec-unified profile show work --json
    """
    shown = get_profile(name).describe()
    if as_json:
        print_json({"name": name, **shown})
        return
    click.echo(f"[{name}]")
    for key, value in shown.items():
        click.echo(f"{key} = {value}")


@profile.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Delete profile NAME (its interrupted transfers' records stay; see 'transfers').

    \b
    Example:
      fsspec-unified profile remove work
    """
    remove_profile(name)
    click.echo(f"profile {name!r} removed")


COMMANDS = [profile]
