"""Replacing a generated file in one step, with an error an operator can act on.

Readers see the old file or the new one, never half of one; when the write cannot happen, the old
file stays as it was and the error names the path and the reason: exit 2 when the path is not
what it must be (a folder where the file goes, a file where its folder goes), exit 1 when the
file system refuses (read-only, permissions, full disk).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from smbos.errors import EXIT_INVALID_INPUT, CheckFailed, SmbosError

_WRONG_KIND = {errno.EISDIR, errno.ENOTDIR, errno.EEXIST}


def write_atomic(path: Path, text: str, what: str, mode: int = 0o644) -> None:
    """Replace `path` with `text` (UTF-8, `\\n` line ends). `what` names the file in errors."""
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        replace(path, text.encode("utf-8"), mode)
    except OSError as exc:
        raise write_error(path, what, exc) from None


def replace(path: Path, data: bytes, mode: int = 0o644,
            owner: tuple[int, int] | None = None) -> None:
    """Write `data` to a hidden temp file beside `path`, created with `mode` (so a secret is
    never readable by others, even for a moment), fsync it, give it to `owner` when we may, and
    rename it over `path`; then fsync the folder. Raises the OSError that stopped it, leaving
    `path` as it was and no temp file behind."""
    tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            os.fchmod(fd, mode)  # whatever the umask
            if owner is not None:
                try:
                    os.fchown(fd, *owner)
                except PermissionError:
                    pass  # not root: the file stays ours, which is what an operator expects
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def write_error(path: Path, what: str, exc: OSError) -> SmbosError:
    """The one-line error of a failed write of `path`, from the OSError that stopped it."""
    reason = (exc.strerror or str(exc)).lower()
    if exc.errno in _WRONG_KIND:
        where = Path(exc.filename) if exc.filename else path
        if exc.errno == errno.EISDIR or where == path:
            reason = "is a directory; expected a file (or nothing) there"
        else:
            reason = f"{where} is not a directory; expected the folder of {path.name} there"
        return SmbosError(f"{path}: cannot write {what}: {reason}; nothing was written",
                          EXIT_INVALID_INPUT)
    return CheckFailed(f"{path}: cannot write {what}: {reason}; nothing was written")


def display_path(path: Path) -> str:
    """How a path is shown in messages: relative to the working directory when inside it."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except ValueError:
        return str(path)
