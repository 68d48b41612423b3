"""``transfers list|resume|abort``: the resumable transfers a command left unfinished.

Every ``cp``/``mv``/``sync`` of a file runs resumable, recording its progress in the profile's
checkpoint folder (:meth:`.CLIContext.checkpoint_dir`, one ``<kind>-<hash>.jsonl`` per
transfer, see :mod:`fsspec_unified.driver.engine.checkpoint`). A transfer is named by the
first :data:`ID_LENGTH` hex digits of that hash; any unique prefix of them selects it.

``resume`` runs the same transfer again through the filesystem (``put_file``/``get_file``,
same object, same local file, same part size), which finds the record and sends only what is
missing: for an upload, the parts the server lacks or whose local bytes changed since; for a
download, the ranges not yet on disk. ``abort`` gives up: it aborts the multipart upload on
the server (its parts are discarded) or removes a download's partial file, then deletes the
record; ``abort --forget`` drops the record (and a download's partial file) without contacting
the store, for an upload whose store is gone. Both skip a transfer that a running process
holds. Given several transfers (or ``--all``), each one that fails is reported on its own
line and the others still run; the exit code is then the first failure's.

A record names the store it was started on (provider and endpoint). ``resume`` and an
upload's ``abort`` need the profile to reach that same store; a download's ``abort`` only
deletes local files, so it works whatever the profile reaches now.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import click

from ...driver.engine.checkpoint import CheckpointStore
from ...driver.engine.downloads import is_own_temp_file
from ...driver.exceptions import UploadNotFoundError
from ...driver.models import TransferProgress
from ...filesystem import UnifiedFileSystem
from ...units import format_size
from ..context import CLIContext
from ..errors import EXIT_OK, exit_code_for, one_line
from ..locations import SCHEME
from ..options import filesystem_overrides, json_option, transfer_options
from ..output import human_time, iso_time, print_json, print_rows
from ..progress import progress_callback

ID_LENGTH = 12
Result = TypeVar("Result")


@dataclass(frozen=True)
class RecordedTransfer:
    """One checkpoint as the commands show and select it."""

    path: Path
    progress: TransferProgress
    updated: datetime
    running_pid: int | None

    @property
    def id(self) -> str:
        return self.path.stem.partition("-")[2][:ID_LENGTH]

    @property
    def remote(self) -> str:
        return f"{self.progress.bucket}/{self.progress.key}"

    @property
    def source(self) -> str:
        if self.progress.kind == "upload":
            return str(self.progress.local_path)
        return SCHEME + self.remote

    @property
    def target(self) -> str:
        if self.progress.kind == "upload":
            return SCHEME + self.remote
        return str(self.progress.local_path)

    @property
    def parts_total(self) -> int:
        part_size = self.progress.part_size or self.progress.total_size or 1
        return max(1, -(-self.progress.total_size // part_size))

    @property
    def state(self) -> str:
        return "running" if self.running_pid is not None else "interrupted"

    def describe(self) -> str:
        return f"{self.id} ({self.progress.kind} {self.source} -> {self.target})"

    def as_dict(self) -> dict[str, Any]:
        progress = self.progress
        return {
            "id": self.id, "kind": progress.kind, "source": self.source,
            "target": self.target, "bytes_done": progress.transferred,
            "bytes_total": progress.total_size, "parts_done": len(progress.parts_completed),
            "parts_total": self.parts_total, "part_size": progress.part_size,
            "started": iso_time(progress.start_time), "updated": iso_time(self.updated),
            "state": self.state, "pid": self.running_pid, "upload_id": progress.upload_id,
            "checkpoint": str(self.path),
        }


def _recorded_transfers(store: CheckpointStore) -> list[RecordedTransfer]:
    found = []
    for path, progress in store.records():
        try:  # appended parts move the file's mtime, not the record's last_update
            updated = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        except FileNotFoundError:
            continue  # finished meanwhile
        found.append(RecordedTransfer(path, progress, updated, store.holder_pid(path)))
    return found


def _select(store: CheckpointStore, ids: tuple[str, ...], every: bool) -> list[RecordedTransfer]:
    """The transfers named by ``ids`` (unique prefixes), or all of them with ``--all``."""
    if every == bool(ids):
        raise click.UsageError("name the transfers (IDs from 'transfers list') or give --all")
    known = _recorded_transfers(store)
    if every:
        return known
    chosen = []
    for wanted in ids:
        matches = [transfer for transfer in known if transfer.id.startswith(wanted.lower())]
        if not matches:
            raise FileNotFoundError(f"no transfer {wanted!r} (see 'fsspec-unified transfers "
                                    "list')")
        if len(matches) > 1:
            raise click.UsageError(f"{wanted!r} names {len(matches)} transfers; give more of "
                                   "its id")
        chosen.append(matches[0])
    return chosen


def _not_running(chosen: list[RecordedTransfer]) -> list[RecordedTransfer]:
    """``chosen`` without the transfers a live process is running (each one noted)."""
    idle = []
    for transfer in chosen:
        if transfer.running_pid is None:
            idle.append(transfer)
        else:
            click.echo(f"skipping {transfer.describe()}: running in process "
                       f"{transfer.running_pid}", err=True)
    return idle


def _run_each(state: CLIContext, chosen: Iterable[RecordedTransfer],
              action: Callable[[RecordedTransfer], Result]) -> tuple[list[Result], int]:
    """``action``'s results on each transfer, and the exit code: a transfer that fails is
    reported (``error: <id>: ...``) and the others still run, so one stale record does not
    hold up the rest; the code is the first failure's, 0 when none failed."""
    results: list[Result] = []
    exit_code = EXIT_OK
    for transfer in chosen:
        try:
            results.append(action(transfer))
        except Exception as error:
            if state.debug:
                traceback.print_exc()
            click.echo(f"error: {transfer.id}: {one_line(error).removeprefix('error: ')}",
                       err=True)
            exit_code = exit_code or exit_code_for(error)
    return results, exit_code


def _check_same_store(filesystem: UnifiedFileSystem, transfer: RecordedTransfer) -> None:
    """The profile must reach the store the transfer was started on (a record is found by
    provider and endpoint too, so another store would start afresh, not resume)."""
    recorded = (transfer.progress.provider, transfer.progress.endpoint)
    current = (filesystem.client.provider, filesystem.client.config.endpoint)
    if recorded != current:
        raise click.UsageError(
            f"started on {_store_name(*recorded)}, not on this profile's "
            f"{_store_name(*current)}; use the profile it was started with, or for an "
            "upload whose store is gone 'transfers abort --forget'")


def _store_name(provider: str | None, endpoint: str | None) -> str:
    return f"{provider} at {endpoint or 'its default endpoint'}"


@click.group()
def transfers() -> None:
    """List, resume or abort interrupted transfers (kept per profile)."""


@transfers.command("list")
@json_option
@click.pass_obj
def list_transfers(state: CLIContext, as_json: bool) -> None:
    """List the unfinished transfers of this profile.

    \b
    Examples:
      fsspec-unified transfers list
      fsspec-unified --profile prod transfers list --json
    """
    found = _recorded_transfers(CheckpointStore(state.checkpoint_dir()))
    if as_json:
        print_json([transfer.as_dict() for transfer in found])
        return
    if not found:
        click.echo("no unfinished transfers", err=True)
        return
    rows = [("ID", "KIND", "DONE", "PARTS", "UPDATED", "STATE", "SOURCE -> TARGET")]
    for transfer in found:
        progress = transfer.progress
        rows.append((
            transfer.id, progress.kind,
            f"{format_size(progress.transferred)} / {format_size(progress.total_size)}",
            f"{len(progress.parts_completed)}/{transfer.parts_total}",
            human_time(transfer.updated), transfer.state,
            f"{transfer.source} -> {transfer.target}",
        ))
    print_rows(rows)


@transfers.command()
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Resume every transfer of this profile.")
@transfer_options
@json_option
@click.pass_obj
def resume(state: CLIContext, ids: tuple[str, ...], every: bool, workers: int | None,
           part_size: int | None, rate_limit: float | None, no_progress: bool,
           as_json: bool) -> None:
    """Finish interrupted transfers, sending only what is missing.

    Each transfer keeps the part size it started with (so --part-size is refused); the
    workers and rate limit are this command's (default: the profile's). A transfer that
    fails is reported and the others still run; --json lists the ones that finished.

    \b
    Examples:
      fsspec-unified transfers resume 3f9a1c
      fsspec-unified transfers resume --all --workers 16 --rate-limit 50MB/s
    """
    if part_size is not None:
        raise click.UsageError("--part-size: a transfer resumes with the part size it "
                               "started with")

    def resume_one(transfer: RecordedTransfer) -> dict[str, Any]:
        result = _resume_one(state, transfer, workers, rate_limit, no_progress)
        if not as_json:
            click.echo(f"resumed {transfer.describe()}: {result['parts_done_before']} of "
                       f"{result['parts_total']} parts were done, sent "
                       f"{format_size(result['bytes_sent'])}")
        return result

    store = CheckpointStore(state.checkpoint_dir())
    results, exit_code = _run_each(state, _not_running(_select(store, ids, every)), resume_one)
    if as_json:
        print_json(results)
    if exit_code:
        raise click.exceptions.Exit(exit_code)


def _resume_one(state: CLIContext, transfer: RecordedTransfer, workers: int | None,
                rate_limit: float | None, no_progress: bool) -> dict[str, Any]:
    progress = transfer.progress
    overrides = filesystem_overrides(workers, progress.part_size, rate_limit)
    if progress.version_id is not None:
        overrides["version_aware"] = True
    filesystem = state.filesystem(**overrides)
    try:
        _check_same_store(filesystem, transfer)
        with progress_callback(no_progress).branched(transfer.source, transfer.target) as bar:
            if progress.kind == "upload":
                filesystem.put_file(progress.local_path, transfer.remote, callback=bar)
            else:
                filesystem.get_file(transfer.remote, progress.local_path, callback=bar,
                                    version_id=progress.version_id)
        metrics = filesystem.metrics()
    finally:
        filesystem.close()
    sent = metrics.bytes_written if progress.kind == "upload" else metrics.bytes_read
    return {**transfer.as_dict(), "parts_done_before": len(progress.parts_completed),
            "bytes_sent": sent, "state": "done"}


@transfers.command()
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Abort every transfer of this profile.")
@click.option("--forget", is_flag=True,
              help="Only drop the local record (and a download's partial file), without "
                   "contacting the store: for an upload whose store is gone. Its parts "
                   "then stay on the server until a lifecycle rule "
                   "(AbortIncompleteMultipartUpload) removes them.")
@click.pass_obj
def abort(state: CLIContext, ids: tuple[str, ...], every: bool, forget: bool) -> None:
    """Give up transfers: abort the upload on the server or delete the partial download.

    An upload is aborted through the store it was started on, which this profile must
    reach; a download needs no store. A transfer that fails is reported and the others
    still go.

    \b
    Examples:
      fsspec-unified transfers abort 3f9a1c
      fsspec-unified transfers abort --all
      fsspec-unified transfers abort --all --forget
    """
    store = CheckpointStore(state.checkpoint_dir())

    def abort_one(transfer: RecordedTransfer) -> None:
        with store.lock(transfer.path, description=f"transfer {transfer.describe()}"):
            if transfer.progress.kind == "upload" and not forget:
                _abort_upload(state, transfer)
            _delete_partial_download(transfer)
            store.delete(transfer.path)
        click.echo(f"{'forgot' if forget else 'aborted'} {transfer.describe()}")

    _, exit_code = _run_each(state, _not_running(_select(store, ids, every)), abort_one)
    if exit_code:
        raise click.exceptions.Exit(exit_code)


def _abort_upload(state: CLIContext, transfer: RecordedTransfer) -> None:
    """Abort the multipart upload on the store it was started on (its parts are discarded)."""
    progress = transfer.progress
    if not progress.upload_id:
        return  # no part was sent yet
    filesystem = state.filesystem()
    try:
        _check_same_store(filesystem, transfer)
        with contextlib.suppress(UploadNotFoundError):  # completed, aborted or expired
            filesystem.client.abort_multipart_upload(progress.bucket, progress.key,
                                                     progress.upload_id)
    finally:
        filesystem.close()


def _delete_partial_download(transfer: RecordedTransfer) -> None:
    """Remove a download's partial file, only if the download engine named it itself
    (beside its destination): a record is not trusted to name any file to delete."""
    progress = transfer.progress
    if progress.kind == "download" and is_own_temp_file(progress.temp_file,
                                                        str(progress.local_path)):
        Path(progress.temp_file).unlink(missing_ok=True)


COMMANDS = [transfers]
