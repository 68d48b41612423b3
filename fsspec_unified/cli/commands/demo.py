"""``demo``: the first run, with no account anywhere (see :mod:`fsspec_unified.demo`).

Progress and the checks go to stderr; stdout gets only the summary table.
"""

from __future__ import annotations

import click

from ...demo import SUMMARY_HEADER, run_demo
from ..output import print_rows


@click.command()
@click.option("--size-mib", type=click.IntRange(min=1), default=64, show_default=True,
              help="Size of the sample file each provider uploads and downloads.")
def demo(size_mib: int) -> None:
    """Start a local S3 server, move a file through each driver, write and read Parquet
    with pandas, print a summary, and stop the server again.

    Progress and checks go to stderr, the summary table to stdout.

    \b
    Examples:
      fsspec-unified demo
      fsspec-unified demo --size-mib 256 > summary.txt
    """
    runs = run_demo(size_mib)
    click.echo(err=True)  # sets the table apart from the progress on a terminal
    print_rows([SUMMARY_HEADER, *(run.summary_row() for run in runs)],
               right_aligned=range(1, len(SUMMARY_HEADER)))
    click.echo("done.", err=True)


COMMANDS = [demo]
