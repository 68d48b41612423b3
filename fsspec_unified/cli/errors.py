"""Exit codes, and the one line a failure prints instead of a traceback.

Scripts can tell failures apart by the code: :data:`EXIT_USAGE` for a command line or
configuration that cannot work, :data:`EXIT_NOT_FOUND`, :data:`EXIT_PERMISSION` (refused
credentials or access), :data:`EXIT_NETWORK` (the store could not be reached, timed out or
failed), :data:`EXIT_EXISTS` (the target exists or changed, or another process is running
the same transfer), :data:`EXIT_INTERRUPTED` (Ctrl-C; a resumable transfer can go on with
``fsspec-unified transfers resume``), :data:`EXIT_BROKEN_PIPE` (the reader of the output
went away), :data:`EXIT_ERROR` for anything else. ``--debug`` adds the traceback.
"""

from __future__ import annotations

import builtins

import click

from .. import exceptions as errors

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # click's own code for usage errors
EXIT_NOT_FOUND = 3
EXIT_PERMISSION = 4
EXIT_NETWORK = 5
EXIT_EXISTS = 6
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a tool whose reader went away reports

#: Checked in order: the first class the error is an instance of decides.
_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (errors.TransferInProgressError, EXIT_EXISTS),
    (errors.ConfigurationError, EXIT_USAGE),
    (click.UsageError, EXIT_USAGE),
    (FileNotFoundError, EXIT_NOT_FOUND),
    (PermissionError, EXIT_PERMISSION),
    (FileExistsError, EXIT_EXISTS),
    (errors.PreconditionFailedError, EXIT_EXISTS),
    (builtins.ConnectionError, EXIT_NETWORK),
    (builtins.TimeoutError, EXIT_NETWORK),
    (errors.ServiceError, EXIT_NETWORK),
    (errors.InvalidArgumentError, EXIT_USAGE),
    (IsADirectoryError, EXIT_USAGE),
    (NotADirectoryError, EXIT_USAGE),
    (ValueError, EXIT_USAGE),
)


def exit_code_for(error: BaseException) -> int:
    """The code of ``error``; a transfer that failed for a reason (a connection that kept
    failing, keys refused) takes the code of that reason."""
    for error_class, code in _CODES:
        if isinstance(error, error_class):
            return code
    if isinstance(error, errors.TransferError) and error.__cause__ is not None:
        return exit_code_for(error.__cause__)
    return EXIT_ERROR


def one_line(error: BaseException) -> str:
    """``error: <message>`` on one line (a multi-line message keeps its first line); a
    not-found error that only names its path says so."""
    text = str(error).strip() or type(error).__name__
    if isinstance(error, FileNotFoundError) and not any(c.isspace() for c in text):
        text = f"not found: {text}"
    return f"error: {text.splitlines()[0]}"
