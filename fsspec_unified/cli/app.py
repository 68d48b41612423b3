"""``fsspec-unified``: the command-line entry point and its top-level options.

Each command lives in :mod:`.commands`, one module per family, and does its work through
:class:`~fsspec_unified.filesystem.UnifiedFileSystem` (the same code path as the library).
:func:`main` turns exceptions into one line on stderr and an exit code (:mod:`.errors`).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

import click

from .commands import buckets, copying, demo, listing, profile, serve, transfers
from .context import CLIContext
from .errors import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_OK, exit_code_for, one_line

PROG_NAME = "fsspec-unified"

_EPILOG = """\b
Remote paths are unified://bucket/key URLs (unified:// alone lists the buckets); anything
else is a local path. Without a command, 'demo' runs.
\b
Exit codes: 0 success, 1 other error, 2 usage or configuration, 3 not found,
4 permission or credentials, 5 network or service, 6 exists, changed or in use,
130 interrupted, 141 output pipe closed.
"""


@click.group(invoke_without_command=True, epilog=_EPILOG,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--profile", envvar="UNIFIED_PROFILE", default=None, metavar="NAME",
              help="Profile to use (from 'fsspec-unified profile add'); default: $UNIFIED_PROFILE,"
                   " else the profile named 'default' if there is one.")
@click.option("--debug", is_flag=True,
              help="Log requests and operations to stderr, and show tracebacks.")
@click.version_option(package_name="fsspec-unified", prog_name=PROG_NAME)
@click.pass_context
def cli(ctx: click.Context, profile: str | None, debug: bool) -> None:
    """Copy, list and sync objects on Aliyun OSS, AWS S3 and MinIO, with one tool.

    Start with 'fsspec-unified demo' (no account needed), or 'fsspec-unified serve' for a
    local S3 server and a 'local' profile to try every command on.
    """
    state: CLIContext = ctx.ensure_object(CLIContext)
    state.profile = profile
    state.debug = debug
    if debug:
        # Our records only: botocore's and oss2's debug logs print signed headers, session
        # tokens included (ours never hold a secret).
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("fsspec_unified").setLevel(logging.DEBUG)
    else:
        # The library logs each retry and failure; without --debug a failure is the one
        # line main() prints, not those records (Python's last-resort handler would).
        logging.getLogger("fsspec_unified").addHandler(logging.NullHandler())
    if ctx.invoked_subcommand is None:
        ctx.invoke(demo.demo)


for _module in (listing, buckets, copying, transfers, profile, serve, demo):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Run the command line and exit with its code (see :mod:`.errors`).

    The context is made and invoked here rather than by ``click.main``, so that every
    outcome, a closed output pipe included, gets this module's exit codes and one line.
    """
    state = CLIContext()
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        with cli.make_context(PROG_NAME, args, obj=state) as ctx:
            cli.invoke(ctx)
        code = EXIT_OK
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        code = exc.exit_code
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        code = exc.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("interrupted", err=True)
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as a tool killed by SIGPIPE does,
        # and keep Python from complaining while it flushes stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_BROKEN_PIPE
    except Exception as exc:
        if state.debug:
            traceback.print_exc()
        click.echo(one_line(exc), err=True)
        code = exit_code_for(exc)
    sys.exit(code)
