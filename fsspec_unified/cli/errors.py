"""Exit codes, and the one line a failure prints instead of a traceback.

Scripts can tell failures apart by the code: :data:`EXIT_USAGE` for a command line or
configuration that cannot work, :data:`EXIT_NOT_FOUND`, :data:`EXIT_PERMISSION` (refused
credentials or access), :data:`EXIT_NETWORK` (the store could not be reached, timed out or
failed), :data:`EXIT_EXISTS` (the target exists or changed), :data:`EXIT_INTERRUPTED` (Ctrl-C;
a resumable transfer can go on with ``fsspec-unified transfers resume``), :data:`EXIT_ERROR`
for anything else. ``--debug`` adds the traceback.
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

#: Checked in order: the first class the error is an instance of decides.
_CODES: tuple[tuple[type[BaseException], int], ...] = (
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
    for error_class, code in _CODES:
        if isinstance(error, error_class):
            return code
    return EXIT_ERROR


def one_line(error: BaseException) -> str:
    """``error: <message>`` on one line (a multi-line message keeps its first line)."""
    text = str(error).strip() or type(error).__name__
    if isinstance(error, (KeyError,)) and text.startswith("'"):
        text = text.strip("'")
    return f"error: {text.splitlines()[0]}"
