"""The copy behind ``cp``, ``mv`` and ``sync``, whichever side is remote, where each source
goes, and what ``mv`` deletes afterwards.

Where a source goes is decided from the command line alone, never from whether the
destination exists, so running the same command again writes the same paths (an
interrupted transfer then continues instead of nesting a second copy):

* a directory (with ``-r``): ``DST`` is its copy (``cp -r photos b/pics`` writes
  ``b/pics/...``), unless ``DST`` ends in ``/``, which receives it by name
  (``cp -r photos b/pics/`` writes ``b/pics/photos/...``); a source ending in ``/``
  (``photos/``) means its contents, which go into ``DST`` either way (as rsync's);
* a file: ``DST`` ending in ``/`` or naming an existing directory (local) or prefix
  (remote) receives it by name, otherwise the file is copied to ``DST`` (the same on a rerun);
* a glob: fsspec's rules, the matches go into ``DST``;
* several sources: ``DST`` is a directory that receives each source by name.

Copies go through the filesystem's bulk ``put`` (local to remote), ``get`` (remote to local)
and ``copy`` (remote to remote, server-side). A download whose local paths come from a
listing (a directory, a glob) passes ``get`` one destination string, so ``get`` checks that
no key places a file outside it (``fsspec_unified.paths``).
"""

from __future__ import annotations

import contextlib
import glob
import os
from dataclasses import dataclass
from glob import has_magic

import click
from fsspec.callbacks import Callback

from ..filesystem import UnifiedFileSystem
from .locations import Location


@dataclass(frozen=True)
class Transfer:
    """One command-line source and what ``put``/``get``/``copy`` receive for it.

    For a directory or a glob, ``source`` is expanded by fsspec into ``destination``
    (``source`` ends in ``/`` for a directory: its contents go into ``destination``). For
    one file, ``destination`` is its exact target, passed as a one-element list so that
    fsspec takes it as is; that target is the user's own (a typed path, or a typed key's
    name under a typed directory), never a name from a listing.
    """

    source: Location
    destination: Location
    single_file: bool


def check_pair(source: Location, destination: Location) -> None:
    """Refuse what no copy can do: two local paths, or the bucket list on either side."""
    if not (source.remote or destination.remote):
        raise click.UsageError(f"{source.url} and {destination.url} are both local; one side "
                               "must be a unified:// URL")
    for location in (source, destination):
        if location.is_root:
            raise click.UsageError("unified:// is the list of buckets; name a bucket")


def is_directory(fs: UnifiedFileSystem, location: Location) -> bool:
    return fs.isdir(location.path) if location.remote else os.path.isdir(location.path)


def check_not_directory(fs: UnifiedFileSystem, source: Location) -> None:
    """A directory needs ``-r``: refuse it rather than copy nothing, as ``cp`` does."""
    if not has_magic(source.path) and is_directory(fs, source):
        raise click.UsageError(f"{source.url} is a directory (use -r)")


def as_directory(location: Location) -> Location:
    """The same path spelled as a directory (ending in ``/``)."""
    return Location(location.path.rstrip("/" + os.sep) + "/", location.remote)


def plan_transfer(fs: UnifiedFileSystem, source: Location, destination: Location,
                  recursive: bool) -> Transfer:
    """Where ``source`` goes (the rules of the module docstring). Refuses, before anything
    is written, a directory without ``-r`` and a copy of anything onto itself (which
    ``mv`` would follow by deleting the only copy)."""
    if has_magic(source.path):  # only with -r: expand_globs turned the others into files
        _check_not_overlapping(source, _glob_directory(source), destination)
        return Transfer(source, destination, single_file=False)
    if is_directory(fs, source):
        if not recursive:
            raise click.UsageError(f"{source.url} is a directory (use -r)")
        target = destination
        if destination.ends_with_separator and not source.ends_with_separator:
            target = destination.child(_name_of(source))
        _check_not_overlapping(source, source, target)
        return Transfer(as_directory(source), target, single_file=False)
    target = destination
    if destination.ends_with_separator or is_directory(fs, destination):
        target = destination.child(_name_of(source))
    _check_not_onto_itself(source, source, target)
    return Transfer(source, target, single_file=True)


def expand_globs(fs: UnifiedFileSystem, locations: list[Location],
                 recursive: bool) -> tuple[list[Location], bool]:
    """Without ``-r``, each glob becomes the files it matches (directories among the
    matches are left out, as the shell's ``cp`` leaves them); with ``-r`` globs stay for
    fsspec to expand, directories and all. Returns the sources and whether any was a glob
    (whose matches then go into ``DST`` as a directory)."""
    expanded: list[Location] = []
    had_glob = False
    for location in locations:
        if not has_magic(location.path):
            expanded.append(location)
            continue
        had_glob = True
        if recursive:
            expanded.append(location)
            continue
        if location.remote:
            matches = [Location(path, True) for path, entry in fs.glob(
                location.path, detail=True).items() if entry["type"] == "file"]
        else:
            matches = [Location(path, False) for path in sorted(glob.glob(location.path))
                       if os.path.isfile(path)]
        if not matches:
            raise FileNotFoundError(f"no files match {location.url}")
        expanded.extend(matches)
    return expanded, had_glob


def check_distinct_targets(transfers: list[Transfer]) -> None:
    """Two sources that would land on the same target (``a/x.txt`` and ``b/x.txt`` into
    one directory) are refused: the second would overwrite the first, and a move would
    then delete both sources."""
    seen: dict[str, Location] = {}
    for transfer in transfers:
        key = transfer.destination.path.rstrip("/" + os.sep)
        if key in seen:
            raise click.UsageError(f"{seen[key].url} and {transfer.source.url} would both be "
                                   f"written to {transfer.destination.url}; nothing done")
        seen[key] = transfer.source


def _check_not_overlapping(typed: Location, source: Location, target: Location) -> None:
    """A tree copied onto itself, into itself (``b/d`` to ``b/d/sub``) or into a tree that
    holds it (``b/d/sub`` to ``b/d``): concurrent copies could overwrite sources not yet
    read, a rerun would nest again, and a move would delete copies."""
    _check_not_onto_itself(typed, source, target)
    if source.remote and target.remote and (source.contains(target)
                                            or target.contains(source)):
        raise click.UsageError(f"{typed.url} and {target.url} overlap (one is inside the "
                               "other); nothing done")


def _check_not_onto_itself(typed: Location, source: Location, target: Location) -> None:
    """``source`` (the file, the directory, or the directory a glob's matches are named
    under) would be written over by its own copy at ``target``."""
    if source.remote and target.remote and source.path.strip("/") == target.path.strip("/"):
        raise click.UsageError(f"{typed.url} would be copied onto itself "
                               f"({target.url}); nothing done")


def _name_of(location: Location) -> str:
    return os.path.basename(location.path.rstrip("/" + os.sep))


def _glob_directory(location: Location) -> Location:
    """The directory above a glob's first magic component (``b/logs`` of
    ``b/logs/*.csv``): its matches are copied under ``DST`` by their names below it."""
    literal = []
    for part in location.path.split("/"):
        if has_magic(part):
            break
        literal.append(part)
    return Location("/".join(literal), location.remote)


def run_transfer(fs: UnifiedFileSystem, transfer: Transfer, callback: Callback) -> None:
    if transfer.single_file:
        copy_between(fs, [transfer.source], [transfer.destination], False, callback)
    else:
        copy_between(fs, transfer.source, transfer.destination, True, callback)


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
        if has_magic(source.path):
            matched = fs.glob(source.path, detail=True)
        else:
            try:
                matched = {source.path: fs.info(source.path)}
            except FileNotFoundError as error:
                raise FileNotFoundError(f"no such object or prefix: {source.url}") from error
        found: list[str] = []
        for name, entry in matched.items():
            if entry["type"] == "file":
                found.append(name)
            elif recursive:
                found.extend(fs.find(name, withdirs=True))
        return found
    matched = glob.glob(source.path) if has_magic(source.path) else [source.path]
    if not matched or not all(os.path.lexists(path) for path in matched):
        raise FileNotFoundError(f"no such file or directory: {source.path}")
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
