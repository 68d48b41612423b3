"""Sizes and rates as people write them: ``64MiB``, ``8MB``, ``10MB/s``, ``1.5G``.

Decimal units (``kB``, ``MB``, ``GB``, ``TB``) are powers of 1000 and binary ones (``KiB``,
``MiB``, ``GiB``, ``TiB``) powers of 1024, as in the SI/IEC standards; a bare letter (``K``,
``M``, ``G``, ``T``) is binary, as in ``dd`` and ``ls -h``. Used by profiles, storage options
given as strings and the command line, so one spelling means the same everywhere.
"""

from __future__ import annotations

import math
import re

from .exceptions import ConfigurationError

_MULTIPLIERS = {
    "": 1, "b": 1,
    "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_QUANTITY = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*)\s*")
_BINARY_STEPS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def parse_size(value: str | int | float, *, name: str = "size") -> int:
    """Bytes for ``value`` (``"64MiB"``, ``"8MB"``, ``"1048576"`` or a number).

    Raises :class:`~.exceptions.ConfigurationError` naming ``name`` for anything else,
    including zero, negative and fractional byte counts.
    """
    if isinstance(value, bool):
        raise ConfigurationError(f"{name}: {value!r} is not a size")
    if isinstance(value, (int, float)):
        amount = float(value)
    else:
        match = _QUANTITY.fullmatch(value)
        unit = match.group(2).lower() if match else None
        if unit not in _MULTIPLIERS:
            raise ConfigurationError(
                f"{name}: {value!r} is not a size (examples: 8MiB, 64MB, 1048576)")
        amount = float(match.group(1)) * _MULTIPLIERS[unit]
    if not math.isfinite(amount) or amount < 1 or amount != int(amount):
        raise ConfigurationError(f"{name}: {value!r} must be a whole, positive number of bytes")
    return int(amount)


def parse_rate(value: str | int | float, *, name: str = "rate_limit") -> float:
    """Bytes per second for ``value`` (``"10MB/s"``, ``"512KiB/s"``, ``"10MB"`` or a number)."""
    if isinstance(value, str):
        text = value.strip()
        if text.lower().endswith("/s"):
            text = text[:-2]
        return float(parse_size(text, name=name))
    return float(parse_size(value, name=name))


def format_size(size_bytes: float) -> str:
    """``1.5 MiB``-style text for a byte count (binary units, one decimal above bytes)."""
    amount, unit = float(size_bytes), 0
    while abs(amount) >= 1024 and unit < len(_BINARY_STEPS) - 1:
        amount /= 1024
        unit += 1
    return f"{amount:.0f} B" if unit == 0 else f"{amount:.1f} {_BINARY_STEPS[unit]}"
