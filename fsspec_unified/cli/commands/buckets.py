"""``mb`` and ``rb``: making and deleting buckets."""

from __future__ import annotations

import click

from ...driver.exceptions import BucketNotEmptyError
from ...filesystem import UnifiedFileSystem
from ..context import CLIContext
from ..locations import parse_location


def _bucket_of(url: str) -> str:
    location = parse_location(url)
    if not location.is_bucket:
        raise click.UsageError(f"{url} is not a bucket URL (unified://bucket)")
    return location.bucket


def delete_bucket_contents(fs: UnifiedFileSystem, bucket: str) -> None:
    """Delete every object of ``bucket`` (directory markers included); the bucket stays."""
    names = fs.find(bucket, withdirs=True)
    if names:
        fs.rm(names)


@click.command()
@click.argument("url", metavar="unified://BUCKET")
@click.pass_obj
def mb(state: CLIContext, url: str) -> None:
    """Make a bucket (in the profile's region).

    Exits with 6 if the bucket exists already.

    \b
    Example:
      fsspec-unified mb unified://my-new-bucket
    """
    bucket = _bucket_of(url)
    state.filesystem().mkdir(bucket)
    click.echo(f"made bucket unified://{bucket}", err=True)


@click.command()
@click.argument("url", metavar="unified://BUCKET")
@click.option("--force", is_flag=True,
              help="Delete every object and every unfinished multipart upload of the bucket "
                   "first (this cannot be undone).")
@click.pass_obj
def rb(state: CLIContext, url: str, force: bool) -> None:
    """Remove a bucket.

    A bucket that still holds objects is refused (exit code 6) unless --force, which
    deletes its objects and aborts its unfinished multipart uploads (interrupted transfers
    can then no longer be resumed) before deleting the bucket.

    \b
    Examples:
      fsspec-unified rb unified://old-bucket
      fsspec-unified rb --force unified://scratch-bucket
    """
    bucket = _bucket_of(url)
    fs = state.filesystem()
    if force:
        delete_bucket_contents(fs, bucket)
        for upload in list(fs.client.list_multipart_uploads(bucket)):
            fs.client.abort_multipart_upload(bucket, upload.key, upload.upload_id)
    try:
        fs.rmdir(bucket)
    except BucketNotEmptyError as error:
        raise FileExistsError(f"bucket {bucket} is not empty; 'rb --force' deletes its "
                              "contents first") from error
    click.echo(f"removed bucket unified://{bucket}", err=True)


COMMANDS = [mb, rb]
