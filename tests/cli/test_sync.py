"""``sync``: copies what differs, nothing the second time, deletes only with --delete."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fsspec_unified.cli.errors import EXIT_NOT_FOUND, EXIT_USAGE
from fsspec_unified.cli.locations import Location
from fsspec_unified.cli.sync_plan import FileState, locations_under, plan_sync
from fsspec_unified.exceptions import UnsafeLocalPathError
from tests.cli.conftest import remote_files


def _write(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def _tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()}


FILES = {"a.txt": b"alpha", "b/c.bin": b"\x00\x01" * 700, "b/d/e.txt": b"deep"}


def test_sync_up_and_down_twice_copies_nothing_the_second_time(cli, remote, tmp_path):
    _write(tmp_path / "src", FILES)
    first = cli.json("sync", str(tmp_path / "src"), remote)
    assert first["copied"]["count"] == 3
    assert first["copied"]["bytes"] == sum(len(data) for data in FILES.values())
    again = cli.json("sync", str(tmp_path / "src"), remote)
    assert again["copied"]["count"] == 0 and again["skipped"]["count"] == 3
    down = cli.json("sync", remote, str(tmp_path / "down"))
    assert sorted(down["copied"]["files"]) == sorted(FILES)
    assert _tree(tmp_path / "down") == FILES
    assert cli.json("sync", remote, str(tmp_path / "down"))["copied"]["count"] == 0


def test_sync_copies_changed_files_and_deletes_with_delete(cli_s3, s3_remote, s3_client,
                                                            tmp_path):
    source = tmp_path / "src"
    _write(source, FILES)
    cli_s3.ok("sync", str(source), s3_remote)
    (source / "a.txt").write_bytes(b"ALPHA")  # same size, other bytes
    (source / "b" / "c.bin").write_bytes(b"longer now")
    (source / "b" / "d" / "e.txt").unlink()
    (source / "new.txt").write_bytes(b"new")
    dry = cli_s3.json("sync", "--dry-run", "--delete", str(source), s3_remote)
    assert sorted(dry["copied"]["files"]) == ["a.txt", "b/c.bin", "new.txt"]
    assert dry["deleted"]["files"] == ["b/d/e.txt"] and dry["dry_run"] is True
    assert remote_files(s3_client, s3_remote) == {name: len(data) for name, data in FILES.items()}
    kept = cli_s3.json("sync", str(source), s3_remote)
    assert kept["deleted"]["count"] == 0
    assert "b/d/e.txt" in remote_files(s3_client, s3_remote)
    summary = cli_s3.json("sync", "--delete", str(source), s3_remote)
    assert summary["copied"]["count"] == 0 and summary["deleted"] == {
        "count": 1, "bytes": 4, "files": ["b/d/e.txt"]}
    cli_s3.ok("sync", s3_remote, str(tmp_path / "down"))
    assert _tree(tmp_path / "down") == _tree(source)


def test_sync_remote_to_remote_and_to_local_with_delete(cli_s3, s3_remote, tmp_path):
    _write(tmp_path / "src", FILES)
    cli_s3.ok("sync", str(tmp_path / "src"), s3_remote + "one")
    first = cli_s3.json("sync", s3_remote + "one", s3_remote + "two")
    assert first["copied"]["count"] == 3
    assert cli_s3.json("sync", s3_remote + "one", s3_remote + "two")["copied"]["count"] == 0
    local = tmp_path / "local"
    _write(local, {"stale.txt": b"old"})
    text = cli_s3.ok("sync", "--delete", s3_remote + "two", str(local)).stdout
    assert "delete:" in text and "stale.txt" in text
    assert _tree(local) == FILES


def test_sync_from_a_missing_source_changes_nothing(cli_s3, s3_remote, s3_client, tmp_path):
    _write(tmp_path / "src", FILES)
    cli_s3.ok("sync", str(tmp_path / "src"), s3_remote)
    result = cli_s3.run("sync", "--delete", str(tmp_path / "typo"), s3_remote)
    assert result.returncode == EXIT_NOT_FOUND
    assert f"no such directory: {tmp_path / 'typo'}" in result.stderr
    assert len(remote_files(s3_client, s3_remote)) == 3
    assert not os.path.exists(tmp_path / "typo")


def test_sync_of_a_file_is_a_usage_error_pointing_to_cp(cli_s3, s3_remote, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"a")
    cli_s3.ok("cp", str(tmp_path / "a.txt"), s3_remote)
    for source, destination in ((str(tmp_path / "a.txt"), s3_remote + "dir"),
                                (s3_remote + "a.txt", str(tmp_path / "down"))):
        result = cli_s3.run("sync", source, destination)
        assert result.returncode == EXIT_USAGE and "use cp" in result.stderr, result.stderr
    assert not (tmp_path / "down").exists()


@pytest.mark.parametrize("source, destination", [
    ("par/sub", "par"), ("par/sub", "par/"), ("par", "par/sub"), ("par/", "par"),
    ("par", "")])
def test_sync_refuses_overlapping_source_and_destination(cli_s3, s3_remote, s3_client,
                                                          tmp_path, source, destination):
    _write(tmp_path / "src", FILES)
    cli_s3.ok("sync", str(tmp_path / "src"), s3_remote + "par/sub")
    result = cli_s3.run("sync", "--delete", s3_remote + source, s3_remote + destination)
    assert result.returncode == EXIT_USAGE and "overlap" in result.stderr, result.stderr
    bucket_url = "unified://" + s3_remote.removeprefix("unified://").split("/")[0]
    assert cli_s3.run("sync", bucket_url, s3_remote + "par").returncode == EXIT_USAGE
    assert remote_files(s3_client, s3_remote) == {
        f"par/sub/{name}": len(data) for name, data in FILES.items()}


@pytest.mark.parametrize("hostile_name", ["../escaped.txt", "a/../../escaped.txt"])
def test_sync_never_places_a_listed_name_outside_a_local_destination(tmp_path, hostile_name):
    # Object keys come from the server; SeaweedFS refuses these, so the listing is ours.
    listing = {hostile_name: FileState(size=1, mtime_s=0.0, etag="e"),
               "ok.txt": FileState(size=1, mtime_s=0.0, etag="e")}
    plan = plan_sync(listing, {}, delete=False)
    destination = Location(str(tmp_path / "destination"), remote=False)
    with pytest.raises(UnsafeLocalPathError, match=r"escaped\.txt"):
        locations_under(destination, plan.copy)
    assert [location.path for location in locations_under(destination, ["ok.txt", "/abs"])] == [
        str(tmp_path / "destination" / "ok.txt"), str(tmp_path / "destination") + "//abs"]
    assert locations_under(Location("b/dst", remote=True), [hostile_name])[0].remote
