"""Replacing a generated file in one step, with an error an operator can act on.

Readers see the old file or the new one, never half of one; when the write cannot happen, the old
file stays as it was and the error names the path and the reason: exit 2 when the path is not
what it must be (a folder where the file goes, a file where its folder goes), exit 1 when the
file system refuses (read-only, permissions, full disk).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from smbos.errors import EXIT_INVALID_INPUT, CheckFailed, SmbosError

_WRONG_KIND = {errno.EISDIR, errno.ENOTDIR, errno.EEXIST}


def write_atomic(path: Path, text: str, what: str, mode: int = 0o644) -> None:
    """Replace `path` with `text` (UTF-8, `\\n` line ends). `what` names the file in errors."""
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise write_error(path, what, exc) from None


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
