"""Files probe-nav writes: private (0600), never silently overwritten, published atomically.

Every file probe-nav creates (recordings, session files, exports, PDF reports, QC raw data, N42)
is made here, so one place decides its mode and how it appears under its name:

* `open_private` opens a file for writing with mode 0600 (an existing file it truncates or appends
  to is set to 0600 too);
* `atomic_write` writes a whole file under a temporary (where the kernel allows: anonymous, see
  `AnonymousFile`) in the same folder, fsyncs it, then gives it its name - by a hard link that
  fails if the name exists, or, only when asked to overwrite, by rename - and fsyncs the folder,
  so a crash leaves either no file or the whole file, and an earlier file stays intact until the
  new one is complete;
* `atomic_write_with` does the same for a writer that takes a path (the PDF reports): it writes
  the anonymous file through its /proc/self/fd path (else its hidden temporary name);
* `check_new_output` refuses an existing output unless overwriting was asked for;
* `free_bytes` is the free-space probe the recorders check against their margins.

Nothing here imports probe_nav (its tier is the lowest above the simulator): errors are OSErrors
(`OutputExists` is a FileExistsError) and the caller words them for the user.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
_LINK_UNSUPPORTED = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK}


class OutputExists(FileExistsError):
    """An output file exists and overwriting it was not asked for."""

    def __init__(self, path: Path) -> None:
        super().__init__(errno.EEXIST, "exists", str(path))
        self.path = path


def check_new_output(path: str | Path, overwrite: bool = False) -> Path:
    """`path` as a Path; OutputExists if it exists and `overwrite` is false, IsADirectoryError
    if it is a folder (never overwritten)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
    if not overwrite and (path.exists() or path.is_symlink()):
        raise OutputExists(path)
    return path


def open_private(path: str | Path, mode: str = "x", *, binary: bool = False) -> IO:
    """Open `path` for writing with mode 0600: "x" creates (FileExistsError if it exists), "w"
    creates or truncates, "a" creates or appends. Text is UTF-8 with "\\n" line ends."""
    flags = {"x": os.O_CREAT | os.O_EXCL, "w": os.O_CREAT | os.O_TRUNC,
             "a": os.O_CREAT | os.O_APPEND}[mode] | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        if mode != "x":
            os.fchmod(fd, PRIVATE_FILE_MODE)  # an existing file keeps its mode otherwise
        if binary:
            return os.fdopen(fd, "wb")
        return os.fdopen(fd, "w", encoding="utf-8", newline="")
    except BaseException:
        os.close(fd)
        raise


def private_fd(path: str | Path, *, append: bool = True) -> int:
    """A raw descriptor on a new file (O_EXCL) with mode 0600, appending when `append`."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    return os.open(path, flags | (os.O_APPEND if append else 0), PRIVATE_FILE_MODE)


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is written (a regular file may take a write in parts)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def fsync_dir(folder: str | Path) -> None:
    """fsync a folder, so names given in it survive a power cut (a no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on folders
            os.fsync(fd)
    finally:
        os.close(fd)


def free_bytes(path: str | Path) -> int:
    """Bytes an unprivileged user may still write on the file system of `path` (or its folder)."""
    path = Path(path)
    probe = path if path.is_dir() else path.parent
    st = os.statvfs(probe)
    return st.f_bavail * st.f_frsize


class AnonymousFile:
    """A new file in `folder` that has no name until `link()` gives it one.

    On Linux it is made with O_TMPFILE: a process killed before `link()` leaves nothing behind.
    Where O_TMPFILE is not supported, it is a hidden ".NAME.RANDOM.tmp" file, removed on
    `discard()` (a SIGKILL then leaves that hidden file).
    """

    def __init__(self, folder: str | Path, hint: str = "file") -> None:
        self.folder = Path(folder)
        self.fd = -1
        self.temp_path: Path | None = None
        tmpfile = getattr(os, "O_TMPFILE", 0)
        if tmpfile and os.path.isdir("/proc/self/fd"):
            try:
                self.fd = os.open(self.folder, tmpfile | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0),
                                  PRIVATE_FILE_MODE)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                    raise
        if self.fd < 0:
            self.temp_path = self.folder / f".{hint}.{secrets.token_hex(4)}.tmp"
            self.fd = private_fd(self.temp_path, append=False)

    @property
    def writer_path(self) -> Path:
        """A path another writer may open to write the file (truncating it, never replacing it
        by a rename): /proc/self/fd/N of the anonymous file, else its temporary name."""
        return self.temp_path if self.temp_path is not None else Path(f"/proc/self/fd/{self.fd}")

    @property
    def named(self) -> bool:
        """Whether the file has a (temporary) name yet."""
        return self.temp_path is not None

    def link(self, path: str | Path, overwrite: bool = False) -> Path:
        """Give the file the name `path` (in its folder); OutputExists if the name is taken and
        `overwrite` is false; with `overwrite`, an existing file is replaced in one rename."""
        path = Path(path)
        if self.temp_path is None:
            if not overwrite:
                try:
                    self._link_fd(path)
                except FileExistsError:
                    raise OutputExists(path) from None
                fsync_dir(path.parent)
                return path
            self._name_it()
        assert self.temp_path is not None
        publish(self.temp_path, path, overwrite)
        self.temp_path = None
        return path

    def _name_it(self) -> None:
        """Give an anonymous file a hidden temporary name (for an overwriting rename)."""
        while self.temp_path is None:
            candidate = self.folder / f".{secrets.token_hex(6)}.tmp"
            with contextlib.suppress(FileExistsError):
                self._link_fd(candidate)
                self.temp_path = candidate

    def _link_fd(self, path: Path) -> None:
        """linkat(AT_SYMLINK_FOLLOW) of /proc/self/fd/N: how an O_TMPFILE file gets a name
        (os.link with default arguments calls link(2), which does not follow the magic link)."""
        proc = os.open("/proc/self/fd", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.link(str(self.fd), path, src_dir_fd=proc, follow_symlinks=True)
        finally:
            os.close(proc)

    def close(self) -> None:
        """Close the descriptor (the file keeps its name, if it has one)."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def discard(self) -> None:
        """Close and remove a file that was never linked."""
        with contextlib.suppress(OSError):
            self.close()
        if self.temp_path is not None:
            with contextlib.suppress(OSError):
                self.temp_path.unlink()
            self.temp_path = None


def publish(source: str | Path, target: str | Path, overwrite: bool = False,
            linked: Callable[[], None] | None = None) -> Path:
    """Move the file `source` to the name `target` in the same folder, atomically, and fsync the
    folder. Without `overwrite` an existing `target` is never touched (OutputExists): the file is
    hard-linked under the new name, then the old name removed (both names briefly show the same
    complete file; `linked` is called between the two, a hook for tests); where hard links are
    not supported it falls back to a rename after a check."""
    source, target = Path(source), Path(target)
    if overwrite:
        os.replace(source, target)
    else:
        try:
            os.link(source, target)
        except FileExistsError:
            raise OutputExists(target) from None
        except OSError as exc:
            if exc.errno not in _LINK_UNSUPPORTED:
                raise
            check_new_output(target)
            os.rename(source, target)
        else:
            if linked is not None:
                linked()
            os.unlink(source)
    fsync_dir(target.parent)
    return target


def atomic_write(path: str | Path, data: bytes, *, overwrite: bool = False) -> Path:
    """Write `data` as the file `path` (mode 0600): all of it or nothing, even after a crash, and
    an existing file is replaced only with `overwrite` (else OutputExists, before any writing)."""
    return _publish(path, lambda temp: write_all(temp.fd, data), overwrite)


def atomic_write_text(path: str | Path, text: str, *, overwrite: bool = False) -> Path:
    """`atomic_write` of UTF-8 text."""
    return atomic_write(path, text.encode("utf-8"), overwrite=overwrite)


def atomic_write_with(path: str | Path, write: Callable[[Path], object], *,
                      overwrite: bool = False) -> Path:
    """`atomic_write` of the file that `write(temp)` writes at the path `temp` it is given (it
    opens, truncates and writes it; it must not replace it by a rename): the whole file or
    nothing under `path`, mode 0600, an existing file replaced only with `overwrite` (else
    OutputExists, before `write` runs). A process killed at any moment leaves under `path` the
    earlier file (or none) or the whole new one, and beside it at worst a hidden
    ".[NAME.]RANDOM.tmp" (only while the name is given, or throughout where O_TMPFILE is
    unsupported: `AnonymousFile`)."""
    return _publish(path, lambda temp: write(temp.writer_path), overwrite)


def _publish(path: str | Path, fill: Callable[[AnonymousFile], object],
             overwrite: bool) -> Path:
    """Check the name, fill an anonymous file, fsync it and give it the name (see above)."""
    path = check_new_output(path, overwrite)
    temp = AnonymousFile(path.parent, path.name)
    try:
        fill(temp)
        os.fsync(temp.fd)
        temp.link(path, overwrite)
    except BaseException:
        temp.discard()
        raise
    temp.close()
    return path
