"""Reading the files of an agent folder, as the loader does for each: a size check before
reading, UTF-8 only, no byte order mark; a file the folder must hold and does not is a problem
naming what was expected; a YAML text read as a mapping (smbos.safeyaml: no anchors, no key given
twice). Every problem is collected (ADR 004), never raised.
"""

from __future__ import annotations

import os
import stat
from errno import ENXIO
from pathlib import Path

from smbos import envfile
from smbos.errors import Problem
from smbos.safeyaml import load_yaml


def read_text(
    path: Path, display: str, limit: int, problems: list[Problem], raw: bool = False
) -> str | None:
    """The file as text, or None with the problem added. `raw`: keep line endings as they are
    (`.env`: the runtime splits lines on `\\n` only; else `\\r\\n` and `\\r` read as `\\n`). A
    byte order mark is an error: readers that do not expect one see it as part of the first
    line (a front matter fence, a key)."""
    why, text = "", ""
    try:  # open, look, read, close: four system calls (and a FIFO is never waited for)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                why = "is not a regular file"
            elif info.st_size > limit:
                why = f"{info.st_size} bytes is too large for this file; expected at most {limit}"
            else:
                data = os.read(fd, info.st_size)
                while len(data) < info.st_size and (more := os.read(fd, info.st_size - len(data))):
                    data += more
                text = data.decode("utf-8")
        finally:
            os.close(fd)
    except OSError as exc:  # a socket cannot be opened (ENXIO): no regular file either
        why = "is not a regular file" if exc.errno == ENXIO else f"cannot read: {exc.strerror}"
    except UnicodeDecodeError:
        why = "is not UTF-8 text"
    if text.startswith(envfile.BOM):
        why = (
            "starts with a byte order mark (U+FEFF), which hides the first line from its "
            "readers; save the file as UTF-8 without BOM"
        )
    if why:
        problems.append(Problem(display, "", why))
        return None
    return text if raw or "\r" not in text else text.replace("\r\n", "\n").replace("\r", "\n")


def present(path: Path, display: str, expected: str, problems: list[Problem]) -> bool:
    """Whether a file the folder must hold is there (a dangling link is there, and said to be
    wrong when read); a problem naming what was expected when it is not."""
    if path.exists() or path.is_symlink():
        return True
    problems.append(Problem(display, "", f"missing; expected {expected}"))
    return False


def yaml_mapping(
    text: str, display: str, field: str, problems: list[Problem], first_line: int = 1
) -> dict | None:
    """The YAML mapping `text` holds ({} for an empty document), else None with the problems
    said (not YAML, not a mapping, a key that is not a string). `field`: where the text is
    (front matter), or "" for a whole file, whose mapping is "(top level)"."""
    before = len(problems)
    data = load_yaml(text, display, problems, field, first_line)
    field = field or "(top level)"
    if data is None:
        return {} if len(problems) == before else None
    if not isinstance(data, dict):
        problems.append(
            Problem(display, field, f"expected a mapping of keys, got {type(data).__name__}")
        )
        return None
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        problems.append(Problem(display, str(bad_keys[0]), "keys must be strings"))
        return None
    return data
