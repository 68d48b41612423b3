"""What commands print: entries as records (for ``--json``) and as aligned text rows.

One record shape serves ``ls --json`` and ``stat --json``, so a script reads both the same
way: ``name`` (``bucket/key``), ``url`` (``unified://bucket/key``), ``type`` (``file``,
``directory`` or ``bucket``), ``size`` (bytes), ``last_modified`` (ISO 8601, UTC, or
``null``) and ``etag`` (or ``null``); ``stat`` adds ``content_type``, ``version_id``,
``storage_class`` and ``metadata``. Human output shows sizes in binary units (``1.5 MiB``)
and times in the local time zone, as ``aws s3 ls`` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import click

from ..units import format_size
from .locations import SCHEME, Location

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_BLANK_TIME = " " * len(datetime(2000, 1, 1).strftime(_TIME_FORMAT))


def entry_type(entry: dict) -> str:
    """``file``, ``directory`` or ``bucket`` (a directory whose name is a bucket's, as in
    the root listing and in ``info`` of ``bucket``)."""
    if entry["type"] == "directory" and Location(entry["name"], remote=True).is_bucket:
        return "bucket"
    return entry["type"]


def entry_time(entry: dict) -> datetime | None:
    return entry.get("LastModified") or entry.get("CreationDate")


def _aware(moment: datetime) -> datetime:
    """A time without a zone is UTC (what stores and checkpoints record)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def iso_time(moment: datetime | None) -> str | None:
    return None if moment is None else _aware(moment).astimezone(timezone.utc).isoformat()


def entry_record(entry: dict, detailed: bool = False) -> dict[str, Any]:
    """The JSON record of one info dict (see the module docstring)."""
    record: dict[str, Any] = {
        "name": entry["name"],
        "url": SCHEME + entry["name"],
        "type": entry_type(entry),
        "size": entry.get("size", 0),
        "last_modified": iso_time(entry_time(entry)),
        "etag": entry.get("ETag"),
    }
    if detailed:
        record.update(content_type=entry.get("ContentType"), version_id=entry.get("VersionId"),
                      storage_class=entry.get("StorageClass"),
                      metadata=entry.get("metadata") or {})
    return record


def human_time(moment: datetime | None) -> str:
    """Local time, to the second; blanks of the same width when there is none."""
    if moment is None:
        return _BLANK_TIME
    return _aware(moment).astimezone().strftime(_TIME_FORMAT)


def entry_row(entry: dict, shown_name: str) -> tuple[str, str, str]:
    """``(time, size, name)`` of one listing line; directories show ``DIR`` and end in
    ``/``, buckets show ``BUCKET``."""
    kind = entry_type(entry)
    if kind == "file":
        return human_time(entry_time(entry)), format_size(entry["size"]), shown_name
    label = "BUCKET" if kind == "bucket" else "DIR"
    return human_time(entry_time(entry)), label, shown_name.rstrip("/") + "/"


def print_rows(rows: Iterable[Sequence[str]], right_aligned: Sequence[int] = ()) -> None:
    """Rows as columns two spaces apart; columns in ``right_aligned`` (indices) are padded
    on the left, as numbers are."""
    rows = [list(row) for row in rows]
    if not rows:
        return
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        cells = [cell.rjust(width) if column in right_aligned else cell.ljust(width)
                 for column, (cell, width) in enumerate(zip(row, widths, strict=True))]
        click.echo("  ".join(cells).rstrip())


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))
