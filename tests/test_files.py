"""Specification of `microgrid._files`: the one way microgrid writes and reads its files.

`write_atomically` leaves the old file or the complete new one, whatever happens
(``kill -9`` included), gives the new file the permissions ``open()`` would, refuses
what ``cp`` refuses (a read-only file) and what is not a regular file, names the
target (never its temporary file) in every error, and removes only its own stale
temporary files. `read_regular_file` never blocks on a named pipe.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from microgrid import _files
from microgrid._files import read_regular_file, write_atomically

POSIX = pytest.mark.skipif(os.name != "posix", reason="POSIX signals, pipes and modes")


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if _files._TEMPORARY.fullmatch(p.name))


def test_writes_bytes_or_what_a_writer_writes(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    assert write_atomically(path, b"one") == path
    assert path.read_bytes() == b"one"

    def writer(f: BinaryIO) -> None:
        f.write(b"two, ")
        f.write(b"in parts")

    assert write_atomically(str(path), writer) == path
    assert path.read_bytes() == b"two, in parts"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_the_file_and_its_folder_are_synced_before_and_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync folder" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync file")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_atomically(tmp_path / "a.bin", b"data")
    if os.path.isdir("/proc/self/fd"):
        assert events == ["fsync file", "rename", "fsync folder"]
    else:
        assert events[1:2] == ["rename"] and len(events) == 3


@POSIX
def test_one_permission_rule_that_of_open(tmp_path: Path) -> None:
    """A new file: 0o666 less the umask, as open() gives; a replaced file: its own mode."""
    old_umask = os.umask(0o027)
    try:
        write_atomically(tmp_path / "new", b"x")
        with open(tmp_path / "plain", "wb"):
            pass
    finally:
        os.umask(old_umask)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "new").stat().st_mode == (tmp_path / "plain").stat().st_mode
    (tmp_path / "new").chmod(0o604)
    write_atomically(tmp_path / "new", b"y")
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o604


@POSIX
def test_refuses_to_replace_a_read_only_file(tmp_path: Path) -> None:
    """As cp does; and even for root, whom os.access lets write anything."""
    path = tmp_path / "kept"
    path.write_bytes(b"old")
    path.chmod(0o444)
    with pytest.raises(PermissionError, match=r"cannot write '.*kept': the file is read-only"):
        write_atomically(path, b"new")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["kept"]


@POSIX
def test_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    """As open() does: the link stays a link, the file it points to gets the content."""
    real = tmp_path / "real.json"
    real.write_bytes(b"old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomically(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


@POSIX
def test_replaces_only_regular_files(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with pytest.raises(ValueError, match="it is a named pipe, not a regular file"):
        write_atomically(pipe, b"x")
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        write_atomically(tmp_path, b"x")
    with pytest.raises(ValueError, match="empty path"):
        write_atomically("", b"x")
    assert os.listdir(tmp_path) == ["pipe"]


def test_errors_name_the_target_never_the_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.bin"

    def disk_full(f: BinaryIO) -> None:
        f.write(b"half")
        raise OSError(28, "No space left on device", "/somewhere/.out.bin.tmp")

    with pytest.raises(OSError, match=r"cannot write '.*out\.bin': No space left") as e:
        write_atomically(path, disk_full)
    assert e.value.errno == 28 and ".tmp" not in str(e.value)
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError, match="there is no folder"):
        write_atomically(tmp_path / "missing" / "out.bin", b"x")


@POSIX
def test_a_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="is a named pipe, not a regular file"):
        read_regular_file(pipe, 100)
    assert time.perf_counter() - start < 5
    assert read_regular_file(Path(__file__), 7) == b'"""Spec'


# -- temporary files left by a killed writer ------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@POSIX
def test_stale_temporary_files_of_ours_are_removed_and_nothing_else(tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    files = {
        "dead_writer_old": f".m.json.microgrid-{dead}-0123abcd.tmp",     # removed
        "dead_writer_fresh": f".m.json.microgrid-{dead}-1123abcd.tmp",   # may still be written
        "live_writer_old": f".m.json.microgrid-{alive}-2123abcd.tmp",    # being written
        "live_writer_ancient": f".x.microgrid-{alive}-3123abcd.tmp",     # untouched for 2 days
        "other_target": f".other.svg.microgrid-{dead}-4123abcd.tmp",     # removed too
        "not_ours": ".m.json.0123abcd.tmp",                              # never touched
        "not_ours_either": f"m.json.microgrid-{dead}-5123abcd.tmp",      # not hidden: not ours
    }
    ages = {"dead_writer_fresh": 5.0, "live_writer_ancient": 2 * 24 * 3600.0}
    for key, name in files.items():
        (tmp_path / name).write_bytes(b"partial")
        _age(tmp_path / name, ages.get(key, 2 * _files.STALE_SECONDS))
    (tmp_path / f".d.microgrid-{dead}-6123abcd.tmp").mkdir()  # a folder: not ours
    _age(tmp_path / f".d.microgrid-{dead}-6123abcd.tmp", 2 * 24 * 3600.0)
    write_atomically(tmp_path / "m.json", b"{}")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([
        "m.json", files["dead_writer_fresh"], files["live_writer_old"], files["not_ours"],
        files["not_ours_either"], f".d.microgrid-{dead}-6123abcd.tmp",
    ])


_SLOW_WRITER = textwrap.dedent("""
    import sys, time
    from microgrid._files import write_atomically

    def slowly(f):
        for _ in range(1000):
            f.write(b"new " * 256)
            f.flush()
            time.sleep(0.01)

    write_atomically(sys.argv[1], slowly)
""")


@POSIX
def test_a_save_killed_mid_write_leaves_the_old_file_and_its_orphan_is_cleaned(
    tmp_path: Path,
) -> None:
    """SIGKILL while the new content is half written: the old file is untouched; the
    orphaned temporary file is ours and is removed by a later write once stale."""
    path = tmp_path / "m.json"
    path.write_bytes(b"the old content")
    child = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(path)])
    try:
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size > 4096 for p in tmp_path.iterdir() if p != path):
            assert time.monotonic() < deadline, "the writer never started writing"
            assert child.poll() is None, "the writer ended before it was killed"
            time.sleep(0.01)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert path.read_bytes() == b"the old content"
    orphans = temporaries(tmp_path)
    assert len(orphans) == 1 and orphans[0].endswith(".tmp")
    assert f"-{child.pid}-" in orphans[0]
    write_atomically(path, b"newer")
    assert temporaries(tmp_path) == orphans  # a minute may not have passed: kept
    _age(tmp_path / orphans[0], 2 * _files.STALE_SECONDS)
    write_atomically(path, b"newest")
    assert os.listdir(tmp_path) == ["m.json"] and path.read_bytes() == b"newest"
