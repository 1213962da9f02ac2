"""Runtime patches: small, versioned changes to NanoClaw's own code that make it behave.

NanoClaw is customised by changing its code (its skills do exactly that); SMBOS keeps a few such
changes in `smbos/nanoclaw/patches/*.patch` and applies them to the staged source before the image
is built. Each patch wires or fixes NanoClaw's own code and never re-implements it.

A patch file is a header of `# key: value` lines and one or more hunks:

    # id: web-chat-row
    # fixes: what goes wrong without it
    # variants: which NanoClaw sources need it
    # applies-when: src/index.ts contains "startHttpServer("
    # fixed-when: src/index.ts contains "storeChatMetadata(WEB_CHAT_JID"
    --- src/index.ts
    @@ find
    <exact lines to find, once>
    @@ replace
    <what they become>
    @@ end

A patch is skipped, with the reason, when a `fixed-when` condition holds (the source already has
the fix: detected by content, never by commit) or an `applies-when` condition does not (the
source is another variant). Otherwise every hunk must find its text exactly once, or the build
stops with the patch id, the file and what was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from smbos.errors import CheckFailed, Internal

_CONDITION = re.compile(r'^(?P<path>\S+)\s+(?P<negate>does not contain|contains)\s+"(?P<text>.*)"$')


@dataclass(frozen=True)
class Condition:
    path: str
    text: str
    negate: bool = False

    def holds(self, root: Path) -> bool:
        file = root / self.path
        found = file.is_file() and self.text in file.read_text(encoding="utf-8", errors="replace")
        return found != self.negate

    def __str__(self) -> str:
        return f'{self.path} {"does not contain" if self.negate else "contains"} "{self.text}"'


@dataclass(frozen=True)
class Hunk:
    path: str
    find: str
    replace: str


@dataclass(frozen=True)
class Patch:
    id: str
    fixes: str
    variants: str
    applies_when: tuple[Condition, ...]
    fixed_when: tuple[Condition, ...]
    hunks: tuple[Hunk, ...]
    file: str = ""


@dataclass
class Outcome:
    """What happened to each patch: applied, or skipped and why."""

    applied: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def label(self) -> str:
        """The `io.smbos.patches` label: the applied ids, comma-separated ("none" if none)."""
        return ",".join(self.applied) or "none"


def _condition(text: str, where: str) -> Condition:
    match = _CONDITION.match(text.strip())
    if not match:
        raise Internal(f'{where}: condition {text!r} is not `PATH contains "TEXT"`')
    return Condition(
        match["path"], match["text"].replace('\\"', '"'), match["negate"] == "does not contain"
    )


def parse(text: str, name: str = "<patch>") -> Patch:
    header: dict[str, list[str]] = {}
    hunks: list[Hunk] = []
    path = ""
    section = ""
    find: list[str] = []
    replace: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{name}:{number}"
        if section in ("find", "replace") and not line.startswith("@@ "):
            (find if section == "find" else replace).append(line)
            continue
        if line.startswith("# ") and not path:
            key, _, value = line[2:].partition(":")
            header.setdefault(key.strip(), []).append(value.strip())
        elif line.startswith("--- "):
            path = line[4:].strip()
        elif line == "@@ find":
            if not path:
                raise Internal(f"{where}: a hunk before any `--- PATH` line")
            section, find, replace = "find", [], []
        elif line == "@@ replace":
            section = "replace"
        elif line == "@@ end":
            if not find:
                raise Internal(f"{where}: empty `@@ find` block")
            hunks.append(Hunk(path, "\n".join(find) + "\n", "\n".join(replace) + "\n"))
            section = ""
        elif line.strip():
            raise Internal(f"{where}: unexpected line {line[:40]!r}")
    if section:
        raise Internal(f"{name}: the last hunk has no `@@ end`")
    if not header.get("id") or not hunks:
        raise Internal(f"{name}: a patch needs `# id:` and at least one hunk")
    return Patch(
        id=header["id"][0],
        fixes=" ".join(header.get("fixes", [])),
        variants=" ".join(header.get("variants", [])),
        applies_when=tuple(_condition(c, name) for c in header.get("applies-when", [])),
        fixed_when=tuple(_condition(c, name) for c in header.get("fixed-when", [])),
        hunks=tuple(hunks),
        file=name,
    )


def bundled() -> list[Patch]:
    """The patches shipped with SMBOS, in file-name order."""
    folder = resources.files("smbos.nanoclaw") / "patches"
    return [
        parse(entry.read_text(encoding="utf-8"), f"smbos/nanoclaw/patches/{entry.name}")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".patch")
    ]


def apply(root: Path, patches: list[Patch] | None = None) -> Outcome:
    """Apply each patch to the source under `root` (in place); see the module docstring."""
    outcome = Outcome()
    for patch in bundled() if patches is None else patches:
        fixed = next((c for c in patch.fixed_when if c.holds(root)), None)
        if fixed is not None:
            outcome.skipped[patch.id] = f"already fixed ({fixed})"
            continue
        missing = next((c for c in patch.applies_when if not c.holds(root)), None)
        if missing is not None:
            outcome.skipped[patch.id] = f"not for this source (needs: {missing})"
            continue
        edits: dict[str, str] = {}
        for hunk in patch.hunks:
            file = root / hunk.path
            if hunk.path not in edits:
                if not file.is_file():
                    raise CheckFailed(
                        f"runtime patch {patch.id} ({patch.file}): {hunk.path} not "
                        "found in the NanoClaw source"
                    )
                edits[hunk.path] = file.read_text(encoding="utf-8")
            count = edits[hunk.path].count(hunk.find)
            if count != 1:
                first = hunk.find.strip().splitlines()[0].strip()
                raise CheckFailed(
                    f"runtime patch {patch.id} ({patch.file}): the text starting {first[:60]!r} "
                    f"is found {count} times in {hunk.path}, expected once; this NanoClaw source "
                    "differs from the ones the patch was written for (build with --no-patches "
                    "to build it as it is)"
                )
            edits[hunk.path] = edits[hunk.path].replace(hunk.find, hunk.replace)
        for rel, text in edits.items():
            (root / rel).write_text(text, encoding="utf-8")
        outcome.applied.append(patch.id)
    return outcome
