"""Replacing a generated file in one step, with an error an operator can act on.

Readers see the old file or the new one, never half of one; when the write cannot happen, the old
file stays as it was and the error names the path and the reason: exit 2 when the path is not
what it must be (a folder where the file goes, a file where its folder goes), exit 1 when the
file system refuses (read-only, permissions, full disk).

Writers of one file take turns (`locked`): a read-modify-write of `agents/<id>/.env` or
`agents/.ports.json` holds an exclusive `flock` on a lock file beside it (`.env.lock`,
`.ports.json.lock`) from the read to the rename, whichever process writes (the CLI, the UI,
another shell), so no writer's change is lost while it reports success. A writer that cannot
have the lock within its wait is refused, never silently dropped. The lock files stay (removing
one would let two writers lock two different files); they are empty and git-ignored.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from smbos.errors import CheckFailed, Refused, SmbosError

LOCK_SUFFIX = ".lock"
LOCK_WAIT_SECONDS = 15.0

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


def replace(
    path: Path, data: bytes, mode: int = 0o644, owner: tuple[int, int] | None = None
) -> None:
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
                # Not root: the file stays ours, which is what an operator expects.
                with contextlib.suppress(PermissionError):
                    os.fchown(fd, *owner)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
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
        return SmbosError(f"{path}: cannot write {what}: {reason}; nothing was written")
    return CheckFailed(f"{path}: cannot write {what}: {reason}; nothing was written")


def display_path(path: Path) -> str:
    """How a path is shown in messages: relative to the working directory when inside it."""
    try:
        inside = path.resolve().is_relative_to(Path.cwd().resolve())
        return os.path.relpath(path) if inside else str(path)
    except ValueError:
        return str(path)


def lock_path(path: Path) -> Path:
    """The lock file of `path`: `<name>.lock` beside it."""
    return path.with_name(path.name + LOCK_SUFFIX)


@contextlib.contextmanager
def locked(path: Path, what: str, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold the exclusive lock of `path` (module docstring) for a read-modify-write of it.

    flock locks belong to an open file description, so two threads of one process exclude each
    other as two processes do. Raises Refused when another writer holds it past `wait` seconds,
    and SmbosError when the lock file cannot be opened (the write would not be safe)."""
    lock = lock_path(path)
    flags = os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        try:
            fd = os.open(lock, os.O_RDWR | flags, 0o644)
        except PermissionError:
            fd = os.open(lock, os.O_RDONLY | flags)  # root's lock file: reading is enough
    except OSError as exc:
        raise write_error(lock, f"the lock of {what}", exc) from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Refused(
                        f"{path}: another writer has held {lock.name} for more than "
                        f"{wait:g} s; nothing was written: try again"
                    ) from None
                time.sleep(0.005)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock
