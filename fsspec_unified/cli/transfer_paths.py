"""The copy behind ``cp``, ``mv`` and ``sync``, whichever side is remote, and what ``mv``
deletes afterwards.

Copies go through the filesystem's bulk ``put`` (local to remote), ``get`` (remote to local)
and ``copy`` (remote to remote, server-side), so paths follow fsspec's rules, as ``cp``'s do:
a destination ending in ``/`` or naming an existing directory receives the source under its
own name; otherwise the source is copied to that name.
"""

from __future__ import annotations

import contextlib
import glob
import os
from glob import has_magic

import click
from fsspec.callbacks import Callback

from ..filesystem import UnifiedFileSystem
from .locations import Location


def check_pair(source: Location, destination: Location) -> None:
    """Refuse what no copy can do: two local paths, or the bucket list on either side."""
    if not (source.remote or destination.remote):
        raise click.UsageError(f"{source.url} and {destination.url} are both local; one side "
                               "must be a unified:// URL")
    for location in (source, destination):
        if location.is_root:
            raise click.UsageError("unified:// is the list of buckets; name a bucket")


def check_not_directory(fs: UnifiedFileSystem, source: Location) -> None:
    """A directory needs ``-r``: refuse it rather than copy nothing, as ``cp`` does."""
    if has_magic(source.path):
        return
    is_directory = fs.isdir(source.path) if source.remote else os.path.isdir(source.path)
    if is_directory:
        raise click.UsageError(f"{source.url} is a directory (use -r)")


def copy_between(fs: UnifiedFileSystem, source: Location | list[Location],
                 destination: Location | list[Location], recursive: bool,
                 callback: Callback) -> None:
    """Copy one source (a path, possibly a glob) or a list of files to their list of
    destinations; ``callback`` counts the files and gets a child per file."""
    first_source = source[0] if isinstance(source, list) else source
    first_destination = destination[0] if isinstance(destination, list) else destination

    def paths(location: Location | list[Location]) -> str | list[str]:
        return [item.path for item in location] if isinstance(location, list) else location.path

    if first_source.remote and first_destination.remote:
        fs.copy(paths(source), paths(destination), recursive=recursive, callback=callback)
    elif first_source.remote:
        fs.get(paths(source), paths(destination), recursive=recursive, callback=callback)
    else:
        fs.put(paths(source), paths(destination), recursive=recursive, callback=callback)


def files_of(fs: UnifiedFileSystem, source: Location, recursive: bool) -> list[str]:
    """The files (and, recursively, directories) a copy of ``source`` reads, listed before
    the copy, so that ``mv`` deletes exactly those and nothing written meanwhile."""
    if source.remote:
        matched = (fs.glob(source.path, detail=True) if has_magic(source.path)
                   else {source.path: fs.info(source.path)})
        found: list[str] = []
        for name, entry in matched.items():
            if entry["type"] == "file":
                found.append(name)
            elif recursive:
                found.extend(fs.find(name, withdirs=True))
        return found
    matched = glob.glob(source.path) if has_magic(source.path) else [source.path]
    if not matched:
        raise FileNotFoundError(source.path)
    found = []
    for path in matched:
        if not os.path.isdir(path):
            found.append(path)
        elif recursive:
            for directory, _, file_names in os.walk(path, topdown=False):
                found.extend(os.path.join(directory, name) for name in file_names)
                found.append(directory)
    return found


def delete_sources(fs: UnifiedFileSystem, source: Location, names: list[str]) -> None:
    """Delete what :func:`files_of` listed: objects in bulk (directory markers included);
    local files, then their directories once empty (deepest first)."""
    if source.remote:
        if names:
            fs.rm(names)
        return
    for path in names:
        if os.path.isdir(path):
            with contextlib.suppress(OSError):  # holds what was added meanwhile: keep it
                os.rmdir(path)
        else:
            os.remove(path)
