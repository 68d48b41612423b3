"""``cp``, ``mv``, ``rm`` and ``sync``: moving objects between the local disk and stores.

Transfers are resumable: a large upload or download interrupted (Ctrl-C, exit code 130)
keeps its multipart upload or partial file and its checkpoint, and running the same command
again (or ``fsspec-unified transfers resume``) continues where it stopped.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..context import CLIContext
from ..locations import Location, parse_location
from ..options import filesystem_overrides, json_option, transfer_options
from ..output import print_json
from ..progress import progress_callback
from ..sync_plan import SyncPlan, list_tree, locations_under, plan_sync
from ..transfer_paths import (
    as_directory,
    check_distinct_targets,
    check_not_directory,
    check_pair,
    copy_between,
    delete_sources,
    expand_globs,
    files_of,
    is_directory,
    plan_transfer,
    run_transfer,
)
from .buckets import delete_bucket_contents

_recursive_option = click.option("-r", "--recursive", is_flag=True,
                                 help="Copy directories and everything under them.")


def _copy_command(function: Any) -> click.Command:
    """``cp`` and ``mv`` take the same arguments and options."""
    for decorator in (click.pass_obj, transfer_options, _recursive_option,
                      click.argument("destination", metavar="DST"),
                      click.argument("sources", nargs=-1, required=True, metavar="SRC...")):
        function = decorator(function)
    return click.command()(function)


def _copy(state: CLIContext, sources: tuple[str, ...], destination: str, recursive: bool,
          transfer: dict[str, Any], move: bool) -> None:
    """``cp`` and ``mv``: check every source and where it goes (nothing is written if one
    is refused), copy them one after the other, and for ``mv`` delete each source only once
    all copies succeeded."""
    target = parse_location(destination)
    locations = [parse_location(source) for source in sources]
    for location in locations:
        check_pair(location, target)
    no_progress = transfer.pop("no_progress")
    fs = state.filesystem(**filesystem_overrides(**transfer))
    locations, had_glob = expand_globs(fs, locations, recursive)
    if len(locations) > 1 or had_glob:
        target = as_directory(target)  # receives each source by name
    transfers = [plan_transfer(fs, location, target, recursive) for location in locations]
    check_distinct_targets(transfers)
    moved = [(location, files_of(fs, location, recursive)) for location in locations] if (
        move) else []
    for planned in transfers:
        with progress_callback(no_progress) as callback:
            run_transfer(fs, planned, callback)
    for location, names in moved:
        delete_sources(fs, location, names)


@_copy_command
def cp(state: CLIContext, sources: tuple[str, ...], destination: str, recursive: bool,
       **transfer: Any) -> None:
    """Copy files to, from or between stores.

    Local to remote uploads, remote to local downloads, remote to remote copies on the
    server (no bytes pass through this machine). Remote sources may be globs
    (quote them: 'unified://b/logs/*.csv'); quoted local globs work too.

    Where a copy goes depends on the command line only, so running it again writes the
    same paths. A directory (-r) is copied TO DST: 'cp -r photos DST' writes DST/...; a
    DST ending in '/' receives it by name: 'cp -r photos DST/' writes DST/photos/...;
    'photos/' (trailing '/') means its contents, which go into DST either way. A file
    goes into DST by name when DST ends in '/' or is an existing directory (or prefix),
    else it is copied to DST. Several sources: DST is a directory receiving each by name.
    A copy onto the source itself is refused. Large files go in parts, concurrently; an
    interrupted transfer continues when the same command runs again.

    \b
    Examples:
      fsspec-unified cp data.csv unified://my-bucket/raw/      # raw/data.csv
      fsspec-unified cp -r photos unified://my-bucket/pics     # pics/...
      fsspec-unified cp -r photos unified://my-bucket/pics/    # pics/photos/...
      fsspec-unified cp -r unified://my-bucket/pics ./pics     # ./pics/...
      fsspec-unified cp 'unified://my-bucket/raw/*.csv' ./downloads/
      fsspec-unified cp unified://my-bucket/a.bin unified://other-bucket/a.bin
    """
    _copy(state, sources, destination, recursive, transfer, move=False)


@_copy_command
def mv(state: CLIContext, sources: tuple[str, ...], destination: str, recursive: bool,
       **transfer: Any) -> None:
    """Move files: copy them as 'cp' does (same rules for DST), then delete the sources.

    The sources are listed first and deleted only after every copy succeeded, so a failed
    or interrupted move leaves every source in place (and files added meanwhile are kept).
    A move onto the source itself is refused and changes nothing.

    \b
    Examples:
      fsspec-unified mv report.pdf unified://my-bucket/reports/    # reports/report.pdf
      fsspec-unified mv -r unified://my-bucket/tmp unified://my-bucket/archive
      fsspec-unified mv -r unified://my-bucket/tmp unified://my-bucket/archive/  # archive/tmp/
    """
    _copy(state, sources, destination, recursive, transfer, move=True)


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-r", "--recursive", is_flag=True,
              help="Delete everything under each path (asks first unless -f).")
@click.option("-f", "--force", is_flag=True,
              help="Do not ask, and ignore paths that do not exist.")
@click.pass_obj
def rm(state: CLIContext, paths: tuple[str, ...], recursive: bool, force: bool) -> None:
    """Delete objects (remote paths only; globs allowed when quoted).

    With -r, a directory and everything under it is deleted, after a confirmation
    (default No); without a terminal to ask on, -r needs -f. A bucket's URL with -r empties
    the bucket and keeps it (delete the bucket with 'rb').

    \b
    Examples:
      fsspec-unified rm unified://my-bucket/old.csv
      fsspec-unified rm 'unified://my-bucket/logs/*.tmp'
      fsspec-unified rm -r -f unified://my-bucket/scratch/
    """
    locations = [parse_location(path) for path in paths]
    for location in locations:
        if not location.remote or location.is_root:
            raise click.UsageError(f"rm deletes objects: {location.url} is not a "
                                   "unified://bucket/key URL")
        if location.is_bucket and not recursive:
            raise click.UsageError(f"{location.url} is a bucket: 'rm -r' empties it, 'rb' "
                                   "deletes it")
    if recursive and not force:
        _confirm_recursive_delete(locations)
    fs = state.filesystem()
    for location in locations:
        try:
            _remove(fs, location, recursive)
        except FileNotFoundError:
            if not force:
                raise


def _confirm_recursive_delete(locations: list[Location]) -> None:
    if not sys.stdin.isatty():
        raise click.UsageError("rm -r asks before deleting, and stdin is not a terminal; "
                               "pass -f to delete without asking")
    names = ", ".join(location.url for location in locations)
    if not click.confirm(f"Delete {names} and everything under it?", default=False):
        raise click.ClickException("nothing deleted")


def _remove(fs, location: Location, recursive: bool) -> None:
    if location.is_bucket:
        delete_bucket_contents(fs, location.bucket)
        return
    if not recursive:
        check_not_directory(fs, location)
    fs.rm(location.path.strip("/"), recursive=recursive)


@click.command()
@click.argument("source", metavar="SRC")
@click.argument("destination", metavar="DST")
@click.option("--delete", is_flag=True,
              help="Also delete destination files that are not in the source.")
@click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing.")
@json_option
@transfer_options
@click.pass_obj
def sync(state: CLIContext, source: str, destination: str, delete: bool, dry_run: bool,
         as_json: bool, **transfer: Any) -> None:
    """Make DST a copy of the directory SRC, copying only what differs.

    Either side may be local or remote (remote to remote copies on the server). A file is
    copied when DST lacks it or when it differs: different sizes, or, for equal sizes,
    different content where digests tell (equal ETags; an MD5 ETag of a single-part upload
    against a local file's MD5), else when the source was modified after the destination.
    Downloaded files get the object's modification time, so a second run copies nothing.
    --delete removes what DST has and SRC has not (after copying). SRC must be a directory
    (use 'cp' for one file), and SRC and DST must not overlap (one inside the other).

    \b
    Examples:
      fsspec-unified sync ./site unified://my-bucket/site --delete
      fsspec-unified sync unified://my-bucket/data ./data --dry-run
      fsspec-unified sync unified://a/photos unified://b/photos --json
    """
    source_location, target = parse_location(source), parse_location(destination)
    check_pair(source_location, target)
    if source_location.contains(target) or target.contains(source_location):
        raise click.UsageError(f"{source_location.url} and {target.url} overlap (one is, or "
                               "is inside, the other); sync needs two separate directories")
    no_progress = transfer.pop("no_progress")
    fs = state.filesystem(**filesystem_overrides(**transfer))
    _check_source_directory(fs, source_location)
    source_tree = list_tree(fs, source_location)
    plan = plan_sync(source_tree, list_tree(fs, target), delete)
    targets = locations_under(target, plan.copy)
    if not dry_run:
        with progress_callback(no_progress) as callback:
            _sync_copies(fs, locations_under(source_location, plan.copy), targets, callback)
        if source_location.remote and not target.remote:
            # The object's time on its copy: the next run sees it as not newer (sync_plan).
            for name, copied in zip(plan.copy, targets, strict=True):
                modified_s = source_tree[name].mtime_s
                os.utime(copied.path, (modified_s, modified_s))
        _sync_deletes(fs, locations_under(target, plan.delete), target)
    _report_sync(plan, source_location, target, dry_run, as_json)


def _check_source_directory(fs, source: Location) -> None:
    """A mistyped source must not look like an empty tree (with --delete that would
    empty the destination), and a file is for ``cp``."""
    if is_directory(fs, source):
        return
    exists = fs.exists(source.path) if source.remote else os.path.exists(source.path)
    if not exists:
        raise FileNotFoundError(f"no such directory: {source.url}")
    raise click.UsageError(f"{source.url} is a file; sync copies directories (use cp for "
                           "one file)")


def _sync_copies(fs, sources: list[Location], targets: list[Location], callback) -> None:
    if sources:
        copy_between(fs, sources, targets, False, callback)


def _sync_deletes(fs, doomed: list[Location], target: Location) -> None:
    if not doomed:
        return
    if target.remote:
        fs.rm([location.path for location in doomed])
        return
    for location in doomed:
        os.remove(location.path)


def _report_sync(plan: SyncPlan, source: Location, target: Location, dry_run: bool,
                 as_json: bool) -> None:
    if as_json:
        print_json({
            "dry_run": dry_run,
            **{group: {"count": len(names), "bytes": plan.bytes_of(names), "files": names}
               for group, names in (("copied", plan.copy), ("skipped", plan.skip),
                                    ("deleted", plan.delete))},
        })
        return
    prefix = "(dry run) " if dry_run else ""
    for name in plan.copy:
        click.echo(f"{prefix}copy: {source.child(name).url} -> {target.child(name).url}")
    for name in plan.delete:
        click.echo(f"{prefix}delete: {target.child(name).url}")
    verb = ("would copy", "would delete") if dry_run else ("copied", "deleted")
    click.echo(f"{verb[0]} {len(plan.copy)} file(s) ({plan.bytes_of(plan.copy)} bytes), "
               f"skipped {len(plan.skip)}, {verb[1]} {len(plan.delete)}", err=True)


COMMANDS = [cp, mv, rm, sync]
