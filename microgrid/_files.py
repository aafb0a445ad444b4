"""Files we write and read: replaced all at once, read without blocking.

`write_atomically` is the one way microgrid writes a file (model files,
drawings, the demo's outputs): the new content goes to a temporary file
beside the target, is flushed to disk, and is renamed over the target, and
the folder is synced. A crash or a ``kill -9`` at any moment leaves either
the old file or the complete new one.

The new file gets the permissions a plain ``open(path, "wb")`` would give:
those of the file it replaces, or ``0o666`` less the umask for a new one.
Like ``cp``, it refuses to replace a read-only file, and it replaces only
regular files (a symbolic link is written through, as ``open`` does).

The temporary files are named ``.<name>.microgrid-<pid>-<8 hex>.tmp``. One
left behind by a killed writer is removed by the next write into the same
folder once it is stale: its writer (the pid in its name) is no longer
running and it has not changed for a minute, or it has not changed for a
day (pids are reused). No other file is ever removed.

`read_regular_file` opens without blocking and refuses what is not a
regular file, so a named pipe or a device is never waited on or read.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["check_writable", "read_regular_file", "write_atomically"]

Writer = Callable[[BinaryIO], object]
"""Writes a file's content into the binary file it is given."""

STALE_SECONDS = 60.0
"""A temporary file of a writer that is no longer running is removed once untouched this long."""
ABANDONED_SECONDS = 24 * 3600.0
"""A temporary file untouched this long is removed whatever its pid says."""

_TEMPORARY = re.compile(r"\..*\.microgrid-(?P<pid>[0-9]+)-[0-9a-f]{8}\.tmp", re.DOTALL)
_NAME_KEPT = 100  # of the target's name in the temporary's: names are at most 255 bytes

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_regular_file(path: str | os.PathLike[str], at_most: int) -> bytes:
    """Up to ``at_most`` bytes of the regular file at ``path``.

    Raises:
        ValueError: ``path`` is a named pipe, a device or a socket.
        OSError: it cannot be read (IsADirectoryError for a folder).
    """
    name = os.fspath(path)
    # O_NONBLOCK: opening a named pipe waits for a writer, possibly forever.
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, f"cannot read {name!r}: it is a folder")
        if not stat.S_ISREG(mode):
            raise ValueError(f"{name!r} is {_kind(mode)}, not a regular file")
    except BaseException:
        os.close(fd)
        raise
    with open(fd, "rb") as f:
        return f.read(at_most)


def write_atomically(path: str | os.PathLike[str], write: bytes | Writer) -> Path:
    """Replace the file at ``path`` by ``write`` (bytes, or a function writing to a file).

    See the module docstring for what is guaranteed. Returns ``path`` as a Path.

    Raises:
        ValueError: ``path`` is empty, or names a named pipe, a device or a socket.
        OSError: naming ``path``: its folder is missing or not writable, it is
            a folder (IsADirectoryError) or read-only (PermissionError), or
            the disk is full.
    """
    name, target, mode = _target(path)
    folder = target.parent
    _remove_stale_temporaries(folder)
    temporary = folder / (f".{target.name[:_NAME_KEPT]}.microgrid-{os.getpid()}-"
                          f"{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(temporary, flags, 0o666)  # the umask applies, as for open()
    except OSError as e:
        raise OSError(e.errno, f"cannot write {name!r}: {e.strerror} (creating a file in "
                               f"{str(folder)!r})") from None
    try:
        with open(fd, "wb") as f:
            if isinstance(write, bytes):
                f.write(write)
            else:
                write(f)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(e, OSError):  # name the target, never our temporary file
            if e.errno is None:
                raise OSError(f"cannot write {name!r}: {e}") from e
            raise OSError(e.errno, f"cannot write {name!r}: {e.strerror or e}") from e
        raise
    _sync_folder(folder)
    return Path(name)


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise now what `write_atomically` would raise before writing anything.

    For callers with slow work to do first (rendering a drawing): fail before it.
    """
    _target(path)


def _target(path: str | os.PathLike[str]) -> tuple[str, Path, int | None]:
    """``path`` as given, the file to replace, and the mode to keep (None for a new file)."""
    name = os.fspath(path)
    if not name:
        raise ValueError("cannot write to an empty path; give a file name")
    if name.endswith(("/", os.sep)):
        raise IsADirectoryError(errno.EISDIR, f"cannot write {name!r}: the name ends in a "
                                              "separator, so it names a folder")
    target = Path(os.path.realpath(name))  # through a symbolic link, as open() writes
    if not target.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"cannot write {name!r}: there is no folder "
                                              f"{os.path.dirname(name) or '.'!r}")
    return name, target, _replaced_mode(name, target)


def _replaced_mode(name: str, target: Path) -> int | None:
    """The permissions of the regular file ``target`` replaces (None: there is none)."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, f"cannot write {name!r}: it is a folder")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"cannot write {name!r}: it is {_kind(st.st_mode)}, not a regular file")
    # A file no one may write is meant to stay: refuse it even for root,
    # whom os.access lets write anything.
    if not os.access(target, os.W_OK) or not st.st_mode & 0o222:
        raise PermissionError(errno.EACCES, f"cannot write {name!r}: the file is read-only "
                                  f"(mode {stat.S_IMODE(st.st_mode):o}); make it writable "
                                  "or choose another name")
    return stat.S_IMODE(st.st_mode) & 0o777


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; elsewhere a folder cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the file itself is on disk
    finally:
        os.close(fd)


def _remove_stale_temporaries(folder: Path) -> None:
    """Remove our own temporary files that a killed writer left in ``folder``."""
    now = time.time()
    try:
        with os.scandir(folder) as entries:
            found = [(e, m) for e in entries if (m := _TEMPORARY.fullmatch(e.name))]
    except OSError:
        return
    for entry, match in found:
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            if age > ABANDONED_SECONDS or (
                age > STALE_SECONDS and not _running(int(match["pid"]))
            ):
                os.unlink(entry.path)
        except OSError:
            continue  # gone already, or not ours to remove


def _running(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (True when it cannot be told)."""
    if os.name != "posix":
        return True  # os.kill would end the process on Windows: the age decides alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):
        return False  # no process can have that number
    except OSError:
        return True  # e.g. another user's process
    return True
