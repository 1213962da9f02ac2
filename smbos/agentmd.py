"""`agent.md` read one way: its front matter and the body that becomes the agent's identity.

The image's entrypoint reads the same file at every start (`readAgentMd` in
smbos/nanoclaw/image/entrypoint/identity.mjs) and writes the body into `CLAUDE.md` between the
identity markers (smbos/nanoclaw/image/interface.json, `identity`). Both readers follow these rules,
proven on one set of cases (tests/fixtures/agent-md-cases.json) and on random texts:

- a byte order mark at the very start is dropped; `\\r\\n` and a lone `\\r` are line breaks, as
  `\\n` is; no other character breaks a line (not U+2028, U+0085, \\v, \\f, ...);
- front matter: the first line is `---` (spaces and tabs after it allowed); it ends at the next
  line that is `---` or `...` (likewise); a first line that starts with `---` otherwise (after
  spaces or tabs, or followed by more text) is an error, so is front matter never closed;
- the body is what follows the front matter (the whole text without one), with spaces, tabs and
  line breaks trimmed at both ends (ASCII only);
- the body may not hold an identity marker: the entrypoint finds its block by them.
"""

from __future__ import annotations

from dataclasses import dataclass

from smbos.nanoclaw.interface import IDENTITY_BEGIN as BEGIN
from smbos.nanoclaw.interface import IDENTITY_END as END

_BLANK = " \t"
_TRIM = " \t\n\v\f"


class AgentMdError(ValueError):
    """What is wrong with `agent.md`, and where: "front matter" or "body"."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AgentMd:
    front: str | None  # the front matter's YAML text, or None without front matter
    body: str  # trimmed: the identity
    body_line: int  # the file's line number where the body starts


def read(text: str) -> AgentMd:
    """`agent.md` text split into front matter and body. Raises AgentMdError (one line)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    first = lines[0].rstrip(_BLANK)
    if first == "---":
        for index in range(1, len(lines)):
            if lines[index].rstrip(_BLANK) in ("---", "..."):
                front = "".join(line + "\n" for line in lines[1:index])
                body, line = "\n".join(lines[index + 1 :]), index + 2
                break
        else:
            raise AgentMdError("front matter", "opened with '---' on line 1 and never closed")
    elif first.lstrip(_BLANK).startswith("---"):
        raise AgentMdError(
            "front matter",
            "the first line starts with '---' but is not a front "
            "matter fence (expected '---' alone, at the start of the line)",
        )
    else:
        front, body, line = None, text, 1
    for marker in (BEGIN, END):
        if marker in body:
            raise AgentMdError(
                "body",
                f"holds {marker!r}, a marker of the identity block "
                "SMBOS writes into CLAUDE.md; remove it",
            )
    return AgentMd(front, body.strip(_TRIM), line)
