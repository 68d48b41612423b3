"""``cp``, ``mv`` and ``rm`` as a user runs them: bytes round-trip, nothing left behind."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import pytest

from fsspec_unified import UnifiedFileSystem, exceptions
from fsspec_unified.cli.errors import EXIT_INTERRUPTED, EXIT_NOT_FOUND, EXIT_USAGE
from tests.cli.conftest import remote_files, write_store_profile
from tests.conftest import Store
from tests.helpers import force_multipart_copy


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()}


def _make_tree(root: Path) -> dict[str, bytes]:
    files = {"a.csv": b"a,b\n1,2\n", "b.csv": b"x" * 3000, "notes.txt": b"hello",
             "sub/deep/c.bin": os.urandom(2048)}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def test_cp_round_trip_on_every_provider(cli, remote, tmp_path):
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(4096))
    cli.ok("cp", str(source), remote)
    listed = cli.json("ls", remote)
    assert [(entry["name"].rsplit("/", 1)[-1], entry["size"]) for entry in listed] == [
        ("data.bin", 4096)]
    copy = tmp_path / "copy.bin"
    cli.ok("cp", remote + "data.bin", str(copy))
    assert copy.read_bytes() == source.read_bytes()


def test_cp_multipart_upload_and_download_round_trip(cli_s3, s3_remote, s3_client, tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(12 * 1024 * 1024))
    cli_s3.ok("cp", "--part-size", "5MiB", str(source), s3_remote)
    assert remote_files(s3_client, s3_remote) == {"big.bin": source.stat().st_size}
    copy = tmp_path / "down" / "big.bin"
    cli_s3.ok("cp", "--part-size", "5MiB", "--workers", "3", s3_remote + "big.bin", str(copy))
    assert _sha256(copy) == _sha256(source)
    bucket = s3_remote.removeprefix("unified://").split("/")[0]
    assert list(s3_client.list_multipart_uploads(bucket, s3_remote.split("/", 3)[3])) == []
    assert sorted(os.listdir(copy.parent)) == ["big.bin"]  # no partial file beside it


def test_the_profiles_part_size_applies_and_the_option_overrides_it(cli_s3, s3_server,
                                                                     s3_remote, s3_client,
                                                                     tmp_path):
    """A profile's transfer defaults are used; --part-size on the command line wins."""
    store = Store("s3", s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key,
                  "us-east-1")
    write_store_profile(cli_s3, "small-parts", store, part_size="5MiB", workers=2)
    source = tmp_path / "parts.bin"
    source.write_bytes(os.urandom(12 * 1024 * 1024))
    with_profile = cli_s3.with_profile("small-parts")
    with_profile.ok("cp", str(source), s3_remote + "profile.bin")
    with_profile.ok("cp", "--part-size", "6MiB", str(source), s3_remote + "option.bin")
    parts = {name: cli_s3.json("stat", s3_remote + name)["etag"].rpartition("-")[2]
             for name in ("profile.bin", "option.bin")}
    assert parts == {"profile.bin": "3", "option.bin": "2"}  # 12 MiB in 5 MiB / 6 MiB parts


def test_cp_recursive_copies_a_tree_up_and_down(cli_s3, s3_remote, s3_client, tmp_path):
    files = _make_tree(tmp_path / "src")
    cli_s3.ok("cp", "-r", str(tmp_path / "src"), s3_remote + "tree")
    assert remote_files(s3_client, s3_remote) == {
        f"tree/{name}": len(data) for name, data in files.items()}
    cli_s3.ok("cp", "-r", s3_remote + "tree", str(tmp_path / "back"))
    assert _tree(tmp_path / "back") == files


def test_cp_remote_glob_downloads_only_matching_objects(cli_s3, s3_remote, tmp_path):
    files = _make_tree(tmp_path / "src")
    cli_s3.ok("cp", "-r", str(tmp_path / "src") + "/", s3_remote)
    cli_s3.ok("cp", s3_remote + "*.csv", str(tmp_path / "out") + "/")
    assert _tree(tmp_path / "out") == {"a.csv": files["a.csv"], "b.csv": files["b.csv"]}


def test_cp_quoted_local_glob_and_several_sources(cli_s3, s3_remote, s3_client, tmp_path):
    _make_tree(tmp_path)
    cli_s3.ok("cp", str(tmp_path / "*.csv"), s3_remote + "globbed/")
    cli_s3.ok("cp", str(tmp_path / "notes.txt"), str(tmp_path / "a.csv"), s3_remote + "many")
    assert sorted(remote_files(s3_client, s3_remote)) == [
        "globbed/a.csv", "globbed/b.csv", "many/a.csv", "many/notes.txt"]


def test_cp_remote_to_remote_copies_on_the_server(cli_s3, s3_remote, tmp_path):
    source = tmp_path / "one.txt"
    source.write_bytes(b"server side")
    cli_s3.ok("cp", str(source), s3_remote + "a/one.txt")
    cli_s3.ok("cp", "-r", s3_remote + "a", s3_remote + "b")
    assert cli_s3.ok("cat", s3_remote + "b/one.txt").stdout == "server side"


def test_cp_r_run_twice_writes_the_same_tree_up_down_and_remote_to_remote(
        cli_s3, s3_remote, s3_client, tmp_path):
    files = _make_tree(tmp_path / "src")
    for _ in range(2):  # as a rerun of an interrupted command does
        cli_s3.ok("cp", "-r", str(tmp_path / "src"), s3_remote + "up")
        cli_s3.ok("cp", "-r", s3_remote + "up", s3_remote + "copy")
        cli_s3.ok("cp", "-r", s3_remote + "up", str(tmp_path / "down"))
    assert remote_files(s3_client, s3_remote) == {
        f"{tree}/{name}": len(data) for tree in ("up", "copy") for name, data in files.items()}
    assert _tree(tmp_path / "down") == files


def test_cp_r_destination_ending_in_slash_receives_the_directory_by_name(
        cli_s3, s3_remote, s3_client, tmp_path):
    files = _make_tree(tmp_path / "photos")
    (tmp_path / "one" / "x.txt").parent.mkdir()
    (tmp_path / "one" / "x.txt").write_bytes(b"only file")
    cli_s3.ok("cp", "-r", str(tmp_path / "photos"), s3_remote + "pics/")
    cli_s3.ok("cp", "-r", str(tmp_path / "photos") + "/", s3_remote + "contents/")
    cli_s3.ok("cp", "-r", str(tmp_path / "one"), s3_remote + "single")
    cli_s3.ok("cp", "-r", s3_remote + "single", s3_remote + "pics/")
    cli_s3.ok("cp", "-r", s3_remote + "pics/photos", str(tmp_path / "down") + "/")
    cli_s3.ok("cp", "-r", s3_remote + "single/", str(tmp_path / "down"))
    assert remote_files(s3_client, s3_remote) == {
        **{f"pics/photos/{name}": len(data) for name, data in files.items()},
        **{f"contents/{name}": len(data) for name, data in files.items()},
        "single/x.txt": 9, "pics/single/x.txt": 9}
    assert _tree(tmp_path / "down") == {
        **{f"photos/{name}": data for name, data in files.items()}, "x.txt": b"only file"}


@pytest.mark.parametrize("command", [
    ("mv", "d/k.txt", "d/k.txt"), ("mv", "d/k.txt", "d/"), ("mv", "d/k.txt", "d"),
    ("cp", "d/k.txt", "d/k.txt"), ("mv", "-r", "d", ""), ("mv", "-r", "d/", "d"),
    ("mv", "d/*", "d/"), ("mv", "elsewhere.txt", "d/k.txt", "d/")])
def test_cp_and_mv_onto_the_source_itself_are_refused_and_change_nothing(
        cli_s3, s3_remote, s3_client, tmp_path, command):
    (tmp_path / "k.txt").write_bytes(b"keep")
    cli_s3.ok("cp", str(tmp_path / "k.txt"), s3_remote + "d/k.txt")
    cli_s3.ok("cp", str(tmp_path / "k.txt"), s3_remote + "elsewhere.txt")
    verb, *paths = command
    args = [path if path.startswith("-") else s3_remote + path for path in paths]
    result = cli_s3.run(verb, *args)
    assert result.returncode == EXIT_USAGE and "onto itself" in result.stderr, result.stderr
    assert remote_files(s3_client, s3_remote) == {"d/k.txt": 4, "elsewhere.txt": 4}


def test_filesystem_copy_onto_itself_is_refused_above_the_single_copy_limit(
        s3_server, s3_bucket, monkeypatch):
    # Part by part (UploadPartCopy) the server would accept it; mv would then delete it.
    fs = UnifiedFileSystem(provider="s3", endpoint_url=s3_server.endpoint_url,
                           key=s3_server.access_key, secret=s3_server.secret_key,
                           region="us-east-1", skip_instance_cache=True)
    path = f"{s3_bucket}/self-copy-{os.urandom(4).hex()}.bin"
    fs.pipe(path, b"x" * 2048)
    force_multipart_copy(fs, monkeypatch, 1024)
    with pytest.raises(ValueError, match="onto itself"):
        fs.copy(path, path)
    assert fs.cat(path) == b"x" * 2048


def test_cp_directory_without_recursive_is_a_usage_error(cli_s3, s3_remote, tmp_path):
    result = cli_s3.run("cp", str(tmp_path), s3_remote)
    assert result.returncode == EXIT_USAGE
    assert "use -r" in result.stderr


def test_cp_of_a_missing_object_leaves_no_local_file(cli_s3, s3_remote, tmp_path):
    result = cli_s3.run("cp", s3_remote + "missing.bin", str(tmp_path / "x.bin"))
    assert result.returncode == EXIT_NOT_FOUND
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr
    assert os.listdir(tmp_path) == []


def test_cp_interrupted_exits_130_and_a_rerun_resumes(cli_s3, s3_remote, s3_client, tmp_path):
    source = tmp_path / "large.bin"
    source.write_bytes(os.urandom(30 * 1024 * 1024))
    bucket, prefix = s3_remote.removeprefix("unified://").split("/", 1)
    process = cli_s3.popen("cp", "--part-size", "5MiB", "--workers", "2", "--rate-limit",
                           "10MB/s", str(source), s3_remote)
    checkpoints = cli_s3.data_dir / "transfers" / "s3"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(s3_client.list_multipart_uploads(
            bucket, prefix)):
        time.sleep(0.2)
    time.sleep(1.0)  # a part or two done
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == EXIT_INTERRUPTED
    assert list(s3_client.list_multipart_uploads(bucket, prefix)), "upload kept for a resume"
    assert any(checkpoints.iterdir()), "checkpoint kept for a resume"
    cli_s3.ok("cp", "--part-size", "5MiB", str(source), s3_remote)
    assert remote_files(s3_client, s3_remote) == {"large.bin": source.stat().st_size}
    assert list(s3_client.list_multipart_uploads(bucket, prefix)) == []
    copy = tmp_path / "copy.bin"
    cli_s3.ok("cp", s3_remote + "large.bin", str(copy))
    assert _sha256(copy) == _sha256(source)


def test_mv_deletes_sources_after_copying(cli_s3, s3_remote, s3_client, tmp_path):
    files = _make_tree(tmp_path / "src")
    cli_s3.ok("mv", "-r", str(tmp_path / "src"), s3_remote + "up")
    assert not (tmp_path / "src").exists()
    cli_s3.ok("mv", "-r", s3_remote + "up", s3_remote + "moved")
    assert remote_files(s3_client, s3_remote) == {
        f"moved/{name}": len(data) for name, data in files.items()}


def test_mv_of_a_missing_source_deletes_nothing(cli_s3, s3_remote, tmp_path):
    kept = tmp_path / "kept.txt"
    kept.write_bytes(b"stay")
    missing = tmp_path / "missing.txt"
    result = cli_s3.run("mv", str(kept), str(missing), s3_remote + "dest/")
    assert result.returncode == EXIT_NOT_FOUND
    assert f"no such file or directory: {missing}" in result.stderr
    assert kept.read_bytes() == b"stay"
    remote_missing = cli_s3.run("mv", s3_remote + "gone", str(tmp_path / "x"))
    assert remote_missing.returncode == EXIT_NOT_FOUND
    assert f"no such object or prefix: {s3_remote}gone" in remote_missing.stderr


def test_a_recursive_copy_skips_directories_only(s3_server, s3_remote, monkeypatch):
    """fsspec's on_error="ignore" of recursive copies skips the directories of the
    expansion; a missing bucket (AWS's NoSuchBucket, which SeaweedFS answers with a 500) is
    a not-found too, and must not pass for success: ``mv`` deletes its sources after a
    copy that succeeded."""
    fs = UnifiedFileSystem(endpoint_url=s3_server.endpoint_url, key=s3_server.access_key,
                           secret=s3_server.secret_key, skip_instance_cache=True)
    root = s3_remote.removeprefix("unified://")
    fs.pipe({f"{root}d/a.txt": b"a", f"{root}d/sub/b.txt": b"b"})

    def no_bucket(source, target, **kwargs):
        raise exceptions.BucketNotFoundError(f"no bucket for {target}")

    monkeypatch.setattr(fs, "cp_file", no_bucket)
    with pytest.raises(exceptions.BucketNotFoundError):
        fs.copy(f"{root}d", f"{root}e", recursive=True)


def test_a_glob_without_r_copies_the_matching_files_only(cli_s3, s3_remote, tmp_path):
    files = _make_tree(tmp_path / "src")
    cli_s3.ok("cp", "-r", str(tmp_path / "src"), s3_remote + "tree")
    cli_s3.ok("cp", s3_remote + "tree/*", str(tmp_path / "flat") + "/")
    top_level = {name: data for name, data in files.items() if "/" not in name}
    assert _tree(tmp_path / "flat") == top_level
    cli_s3.ok("cp", "-r", s3_remote + "tree/*", str(tmp_path / "deep") + "/")
    assert _tree(tmp_path / "deep") == files


@pytest.mark.parametrize(("command", "source", "target"), [
    ("mv", "tree", "tree/"), ("cp", "tree", "tree/sub"), ("mv", "tree/sub", "tree"),
    ("cp", "tree/*", "tree/sub/")])
def test_a_tree_copied_into_itself_or_its_parent_is_refused(cli_s3, s3_remote, s3_client,
                                                            tmp_path, command, source, target):
    files = _make_tree(tmp_path / "src")
    cli_s3.ok("cp", "-r", str(tmp_path / "src"), s3_remote + "tree")
    result = cli_s3.run(command, "-r", s3_remote + source, s3_remote + target)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert remote_files(s3_client, s3_remote + "tree/") == {
        name: len(data) for name, data in files.items()}


def test_two_sources_with_one_target_name_are_refused(cli_s3, s3_remote, s3_client, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.txt").write_text(folder)
    result = cli_s3.run("mv", str(tmp_path / "a" / "x.txt"), str(tmp_path / "b" / "x.txt"),
                        s3_remote)
    assert result.returncode == EXIT_USAGE and "would both be written" in result.stderr
    assert (tmp_path / "a" / "x.txt").read_text() == "a"
    assert (tmp_path / "b" / "x.txt").read_text() == "b"
    assert remote_files(s3_client, s3_remote) == {}


def test_rm_deletes_objects_and_asks_before_recursive(cli_s3, s3_remote, s3_client, tmp_path):
    _make_tree(tmp_path)
    cli_s3.ok("cp", "-r", str(tmp_path) + "/", s3_remote)
    cli_s3.ok("rm", s3_remote + "notes.txt")
    refused = cli_s3.run("rm", "-r", s3_remote + "sub")
    assert refused.returncode == EXIT_USAGE and "-f" in refused.stderr
    assert "sub/deep/c.bin" in remote_files(s3_client, s3_remote)
    directory = cli_s3.run("rm", s3_remote + "sub")
    assert directory.returncode == EXIT_USAGE and "use -r" in directory.stderr
    cli_s3.ok("rm", "-r", "-f", s3_remote + "sub")
    assert sorted(remote_files(s3_client, s3_remote)) == ["a.csv", "b.csv"]
    assert cli_s3.run("rm", s3_remote + "notes.txt").returncode == EXIT_NOT_FOUND
    cli_s3.ok("rm", "-f", s3_remote + "notes.txt")
    cli_s3.ok("rm", s3_remote + "*.csv")
    assert remote_files(s3_client, s3_remote) == {}
