"""``ls``, ``stat``, ``du``, ``cat`` and ``sign``: looking at what a store holds."""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from ...units import format_size
from ..context import CLIContext
from ..locations import Location, parse_location
from ..options import json_option
from ..output import entry_record, entry_row, entry_type, human_time, print_json, print_rows


def _remote(text: str, allow_root: bool = False) -> Location:
    location = parse_location(text)
    if not location.remote or (location.is_root and not allow_root):
        raise click.UsageError(f"{text} is not a unified://bucket/key URL")
    return location


@click.command()
@click.argument("path", default="unified://", metavar="[PATH]")
@click.option("-r", "--recursive", is_flag=True,
              help="Every object under PATH, at any depth (no directory rows).")
@json_option
@click.pass_obj
def ls(state: CLIContext, path: str, recursive: bool, as_json: bool) -> None:
    """List buckets, directories and objects.

    PATH defaults to unified:// (the buckets). Each line shows the last modification
    (local time), the size (DIR for a directory, BUCKET for a bucket) and the name relative
    to PATH. --json prints a list of records: name, url, type (file, directory or bucket),
    size (bytes), last_modified (ISO 8601, UTC) and etag.

    \b
    Examples:
      fsspec-unified ls
      fsspec-unified ls unified://my-bucket/logs/
      fsspec-unified ls -r --json unified://my-bucket/logs/
    """
    location = _remote(path, allow_root=True)
    root = location.path.strip("/")
    if recursive and not root:
        raise click.UsageError("ls -r needs a bucket (unified://bucket/...)")
    fs = state.filesystem()
    if recursive:
        entries = list(fs.find(root, detail=True).values())
    else:
        entries = sorted(fs.ls(root, detail=True), key=lambda entry: entry["name"])
    if as_json:
        print_json([entry_record(entry) for entry in entries])
        return
    print_rows((entry_row(entry, _relative_name(entry["name"], root)) for entry in entries),
               right_aligned=(1,))


def _relative_name(name: str, root: str) -> str:
    """The name as shown under ``root``; an object listed by its own path shows its base
    name."""
    if root and name.startswith(root + "/"):
        return name[len(root) + 1:]
    return name.rsplit("/", 1)[-1]


@click.command()
@click.argument("path", metavar="PATH")
@json_option
@click.pass_obj
def stat(state: CLIContext, path: str, as_json: bool) -> None:
    """Show what is known about one object, directory (prefix) or bucket.

    For an object: size, ETag, last modification, content type, storage class, version
    (where the bucket keeps versions) and user metadata. --json prints one record with the
    fields of 'ls --json' plus content_type, version_id, storage_class and metadata.

    \b
    Example:
      fsspec-unified stat unified://my-bucket/data.csv
    """
    location = _remote(path)
    entry = state.filesystem().info(location.path.strip("/"))
    record = entry_record(entry, detailed=True)
    if as_json:
        print_json(record)
        return
    rows = [("url", record["url"]), ("type", record["type"])]
    if entry_type(entry) == "file":
        rows += [("size", f"{format_size(record['size'])} ({record['size']} bytes)"),
                 ("etag", record["etag"]),
                 ("last modified", human_time(entry.get("LastModified"))),
                 ("content type", record["content_type"]),
                 ("storage class", record["storage_class"]),
                 ("version", record["version_id"])]
        rows += [(f"metadata {name}", value) for name, value in record["metadata"].items()]
    print_rows((f"{label}:", str(value)) for label, value in rows if value is not None)


@click.command()
@click.argument("path", metavar="PATH")
@click.option("-s", "--summarize", is_flag=True,
              help="Only the total, not a row per entry directly under PATH.")
@json_option
@click.pass_obj
def du(state: CLIContext, path: str, summarize: bool, as_json: bool) -> None:
    """Bytes and object count under a bucket or prefix, from one flat listing.

    Prints a row per entry directly under PATH (size, objects, name) and a total row;
    -s prints the total only. --json prints {"url", "size", "objects", "children": [{"name",
    "url", "size", "objects"}]} (no "children" with -s).

    \b
    Examples:
      fsspec-unified du unified://my-bucket/
      fsspec-unified du -s --json unified://my-bucket/logs/
    """
    location = _remote(path)
    root = location.path.strip("/")
    fs = state.filesystem()
    found = fs.find(root, detail=True)
    if not found and not fs.exists(root):
        raise FileNotFoundError(f"{location.url}: no such bucket, prefix or object")
    children: dict[str, list[int]] = {}
    total = [0, 0]
    for name, entry in found.items():
        child = _relative_name(name, root).split("/", 1)[0]
        counts = children.setdefault(child, [0, 0])
        for counter in (counts, total):
            counter[0] += entry["size"]
            counter[1] += 1
    url = location.url.rstrip("/")
    if as_json:
        result: dict[str, Any] = {"url": url, "size": total[0], "objects": total[1]}
        if not summarize:
            result["children"] = [
                {"name": name, "url": f"{url}/{name}", "size": size, "objects": count}
                for name, (size, count) in sorted(children.items())]
        print_json(result)
        return
    rows = [] if summarize else [(format_size(size), str(count), name)
                                 for name, (size, count) in sorted(children.items())]
    rows.append((format_size(total[0]), str(total[1]), url))
    print_rows(rows, right_aligned=(0, 1))


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.pass_obj
def cat(state: CLIContext, paths: tuple[str, ...]) -> None:
    """Write objects' bytes to stdout, one after the other (binary-safe, streamed).

    \b
    Examples:
      fsspec-unified cat unified://my-bucket/config.json
      fsspec-unified cat unified://my-bucket/archive.tar.gz | tar xz
    """
    locations = [_remote(path) for path in paths]
    fs = state.filesystem()
    output = sys.stdout.buffer
    for location in locations:
        fs.get_file(location.path.strip("/"), output)
    output.flush()


_DURATION = re.compile(r"\s*([0-9]+)\s*([smhd]?)\s*", re.IGNORECASE)
_SECONDS_PER_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class _Duration(click.ParamType):
    """Seconds, or a number with ``s``, ``m``, ``h`` or ``d`` (``3600``, ``30m``, ``1h``)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = _DURATION.fullmatch(str(value))
        seconds = int(match.group(1)) * _SECONDS_PER_UNIT[match.group(2).lower()] if (
            match) else 0
        if seconds < 1:
            self.fail(f"{value!r} is not a duration (examples: 3600, 30m, 1h, 7d)", param, ctx)
        return seconds


@click.command()
@click.argument("path", metavar="PATH")
@click.option("--expires", type=_Duration(), default="1h", show_default=True,
              help="How long the URL works: seconds, or 30m, 12h, 7d.")
@click.option("--method", type=click.Choice(["GET", "PUT"], case_sensitive=False),
              default="GET", show_default=True,
              help="GET to download the object, PUT to upload it.")
@click.pass_obj
def sign(state: CLIContext, path: str, expires: int, method: str) -> None:
    """Print a presigned URL: anyone holding it can GET (or PUT) the object until it
    expires, without credentials.

    \b
    Examples:
      fsspec-unified sign unified://my-bucket/report.pdf --expires 30m
      fsspec-unified sign unified://my-bucket/upload.bin --method PUT
    """
    location = _remote(path)
    click.echo(state.filesystem().sign(location.path.strip("/"), expiration=expires,
                                       method=method.upper()))


COMMANDS = [ls, stat, du, cat, sign]
