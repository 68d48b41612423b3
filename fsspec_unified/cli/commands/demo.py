"""``demo``: the first run, with no account anywhere (see :mod:`fsspec_unified.demo`)."""

from __future__ import annotations

import click

from ...demo import run_demo


@click.command()
@click.option("--size-mib", type=click.IntRange(min=1), default=64, show_default=True,
              help="Size of the sample file each provider uploads and downloads.")
def demo(size_mib: int) -> None:
    """Start a local S3 server, move a file through each driver, and stop it again."""
    run_demo(size_mib)


COMMANDS = [demo]
