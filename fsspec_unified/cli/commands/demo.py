"""``demo``: the first run, with no account anywhere (see :mod:`fsspec_unified.demo`)."""

from __future__ import annotations

import click

from ...demo import SUMMARY_HEADER, run_demo
from ..output import print_rows


@click.command()
@click.option("--size-mib", type=click.IntRange(min=1), default=64, show_default=True,
              help="Size of the sample file each provider uploads and downloads.")
def demo(size_mib: int) -> None:
    """Start a local S3 server, move a file through each driver, write and read Parquet
    with pandas, print a summary, and stop the server again."""
    runs = run_demo(size_mib)
    click.echo()
    print_rows([SUMMARY_HEADER, *(run.summary_row() for run in runs)],
               right_aligned=range(1, len(SUMMARY_HEADER)))
    click.echo("done.")


COMMANDS = [demo]
