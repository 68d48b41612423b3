"""Options shared by several commands, so each is spelt and documented once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..exceptions import ConfigurationError
from ..units import parse_rate, parse_size


class _UnitType(click.ParamType):
    """A size or rate with units (``8MiB``, ``10MB/s``), parsed by :mod:`..units`."""

    def __init__(self, name: str, parse: Callable[..., Any]) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        try:
            return self._parse(value, name=param.name if param else self.name)
        except ConfigurationError as exc:
            self.fail(str(exc), param, ctx)


SIZE = _UnitType("size", parse_size)
RATE = _UnitType("rate", parse_rate)


def transfer_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--workers``, ``--part-size``, ``--rate-limit`` and ``--no-progress``; values left out
    come from the profile, then the library's defaults. The command receives them as
    ``workers``, ``part_size``, ``rate_limit`` and ``no_progress``."""
    decorators = (
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Requests in flight at once (default: profile, else 8)."),
        click.option("--part-size", type=SIZE, default=None,
                     help="Part size of multipart transfers, e.g. 16MiB (default: profile, "
                          "else 8MiB)."),
        click.option("--rate-limit", type=RATE, default=None,
                     help="Most bytes per second, e.g. 10MB/s (default: profile, else none)."),
        click.option("--no-progress", is_flag=True,
                     help="No progress bars (they are off anyway when stderr is not a "
                          "terminal)."),
    )
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def filesystem_overrides(workers: int | None, part_size: int | None,
                         rate_limit: float | None) -> dict[str, Any]:
    """The storage options of :func:`transfer_options`' values."""
    return {"max_workers": workers, "block_size": part_size,
            "rate_limit_bytes_per_s": rate_limit}


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Machine-readable JSON on stdout.")
