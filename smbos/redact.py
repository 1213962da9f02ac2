"""Secrets out of every text SMBOS shows, whatever wrote them.

The runtime can leak: a failed turn writes its input, API key included, into
`memory/logs/container-*.log`; a model may echo a key back into a reply or a task result; a log
line may quote a URL with a token in it. SMBOS knows each agent's `.env`, so before any text from
the runtime reaches a terminal, a page or a JSON answer (container logs, memory files, task
results and run logs, chat replies and errors, the chat history, and everything the proxy
relays), every value of that `.env` that is a secret (`is_secret`) and long enough to
be a credential is replaced by `[secret KEY]`: as written, JSON-escaped (`\\"`, `\\u00e9`) and
percent-encoded (`%2B`, `+` for a space), since a runtime quotes values into JSON and URLs.

A stream's texts are read as one (`RunningText`): a secret split across two events is hidden
too. A value too short, plain or common to hide without garbling text or showing itself by
where it is replaced is reported by `weakness` (`smbos validate`, the settings page).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import overload
from urllib.parse import quote, quote_plus

from smbos import catalog, envfile

# Shorter values (`true`, `UTC`, `3100`) are settings, and replacing them would garble text.
MIN_SECRET_CHARS = 8
_PLAIN = re.compile(r"^(true|false|yes|no|on|off|\d+(\.\d+)?)$", re.IGNORECASE)
# A word, perhaps with a few digits after it (`password`, `changeme`, `Summer2024`): replacing it
# everywhere would show what it is, and a guesser tries it first.
_WORD = re.compile(r"[A-Za-z]{1,16}[0-9]{0,4}")
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def variants(value: str) -> set[str]:
    """The forms in which a value reaches text: as it is, JSON-escaped (ASCII-only and not; once
    and twice: JSON text kept in a JSON string) and percent-encoded (`quote`, `quote_plus`;
    upper- and lower-case hex)."""
    escaped = {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms = {value, *escaped, *(json.dumps(form)[1:-1] for form in escaped)}
    for encoded in (
        quote(value, safe=""),
        quote(value),
        quote_plus(value, safe=""),
        quote_plus(value),
    ):
        forms.add(encoded)
        forms.add(_PERCENT.sub(lambda m: m.group().lower(), encoded))
    return forms


def weakness(value: str) -> str | None:
    """Why a secret's value cannot be kept out of what SMBOS shows (None: it can). Such a value
    is reported (a warning), not refused: the service it belongs to may allow nothing longer."""
    if not value:
        return None
    if len(value) < MIN_SECRET_CHARS:
        return (
            f"shorter than {MIN_SECRET_CHARS} characters: too short to hide in what the "
            "runtime shows (replacing it would garble replies and logs); it can appear in "
            "clear there"
        )
    if _PLAIN.match(value):
        return (
            "a number or a switch word: not hidden in what the runtime shows (replacing it "
            "would garble replies and logs)"
        )
    if _WORD.fullmatch(value) or len(set(value)) < 4:
        return (
            "a common word or pattern: hiding it replaces it wherever it appears, which "
            "shows what it is; use a long random value"
        )
    return None


@dataclass(frozen=True)
class Redactor:
    """Replaces known secret values in text; `pairs` are (form, key), longest form first."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_values(cls, values: dict[str, str]) -> Redactor:
        pairs = {
            (form, k)
            for k, v in values.items()
            if v and len(v) >= MIN_SECRET_CHARS and not _PLAIN.match(v)
            for form in variants(v)
        }
        return cls(tuple(sorted(pairs, key=lambda p: (-len(p[0]), p[0], p[1]))))

    @classmethod
    def for_env_file(cls, path: Path) -> Redactor:
        try:
            return cls.from_values(envfile.read_env(path))
        except (OSError, ValueError, UnicodeDecodeError):
            return cls()

    def __bool__(self) -> bool:
        return bool(self.pairs)

    @overload
    def __call__(self, text: str) -> str: ...
    @overload
    def __call__(self, text: None) -> None: ...
    def __call__(self, text: str | None) -> str | None:  # a text in, a text out; None stays None
        if not text or not self.pairs:
            return text
        for value, key in self.pairs:
            if value in text:
                text = text.replace(value, f"[secret {key}]")
        return text

    def lines(self, lines: Iterable[str]) -> Iterator[str]:
        for line in lines:
            yield self(line)

    def deep(self, data):
        """The same structure (dicts, lists, strings) with every string redacted, keys too."""
        if isinstance(data, str):
            return self(data)
        if isinstance(data, dict):
            return {
                self(key) if isinstance(key, str) else key: self.deep(value)
                for key, value in data.items()
            }
        if isinstance(data, list):
            return [self.deep(item) for item in data]
        return data

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Where secrets are in `text`: (start, end, key), in order; overlapping ones merged."""
        found = []
        for value, key in self.pairs:
            at = text.find(value)
            while at >= 0:
                found.append((at, at + len(value), key))
                at = text.find(value, at + 1)
        found.sort(key=lambda span: (span[0], -span[1]))
        merged: list[tuple[int, int, str]] = []
        for start, end, key in found:
            if merged and start < merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end, merged[-1][2])
                continue
            merged.append((start, end, key))
        return merged

    def held(self, text: str, start: int = 0) -> int:
        """The length of the longest end of `text[start:]` that could begin a secret (a proper
        prefix of one of its forms): what a stream must hold back until it knows more."""
        best = 0
        room = len(text) - start
        if room <= 0:
            return 0
        last = text[-1]
        for value, _ in self.pairs:
            size = min(len(value) - 1, room)
            while size > best:
                # Only a prefix ending in the text's last character can match: jump to the next.
                size = value.rfind(last, 0, size) + 1
                if size <= best:
                    break
                if text.endswith(value[:size]):
                    best = size
                    break
                size -= 1
        return best

    def running(self) -> RunningText:
        return RunningText(self)


class RunningText:
    """Texts a reader sees one after another (the texts of a stream's events), redacted as one
    text: a secret split across two or more of them is hidden too, its `[secret KEY]` in the
    text where it starts and the rest of it cut from the texts after.

    `push` takes the next text and gives back the texts that are final now, in order: a text
    that ends with what could be the start of a secret is held back until the next text shows
    whether it is (or `flush`, at the end of the stream). Texts are never merged or reordered.
    """

    def __init__(self, redactor: Redactor):
        self.redactor = redactor
        self.pending: list[str] = []

    def push(self, text: str) -> list[str]:
        self.pending.append(text)
        joined = "".join(self.pending)
        spans = self.redactor.spans(joined)
        last_end = spans[-1][1] if spans else 0
        keep_from = len(joined) - self.redactor.held(joined, last_end)
        out: list[str] = []
        pieces: list[str] = []
        offset = 0
        for piece in self.pending:
            begin, end = offset, offset + len(piece)
            offset = end
            pieces.append(_redacted_piece(joined, begin, end, spans))
            if end <= keep_from and len(pieces) == len(out) + 1:
                out.append(pieces[-1])
        self.pending = pieces[len(out) :]
        return out

    def flush(self) -> list[str]:
        out, self.pending = self.pending, []
        return out


def _redacted_piece(joined: str, begin: int, end: int, spans: list[tuple[int, int, str]]) -> str:
    """`joined[begin:end]` with each secret that starts in it replaced by `[secret KEY]`, and
    the part of any secret that started before it cut."""
    parts = []
    at = begin
    for start, stop, key in spans:
        if stop <= at or start >= end:
            continue
        if start >= at:
            parts.append(joined[at:start])
            parts.append(f"[secret {key}]")
        at = min(max(at, stop), end)
    parts.append(joined[at:end])
    return "".join(parts)


def is_secret(agent, key: str) -> bool:
    """Every `.env` value is a secret unless the key is one SMBOS knows to be plain (a name or a
    switch: `catalog.PLAIN_KEYS`) or the agent's `.env.example` marks `# not secret` (envfile).
    Guessing from a name or a value's shape misses passwords, PINs and webhook URLs."""
    if key in catalog.PLAIN_KEYS:
        return False
    return not any(k.key == key and k.not_secret for k in agent.env_example)


def for_agent(agent) -> Redactor:
    """The redactor of an agent: the values of its `.env` that are secrets (every value but
    those of names and switches, and of keys `.env.example` marks "not secret")."""
    try:
        values = envfile.read_env(agent.env_path)
    except (OSError, ValueError, UnicodeDecodeError):
        return Redactor()
    return Redactor.from_values({k: v for k, v in values.items() if is_secret(agent, k)})


def weak_secrets(values: dict[str, str], plain_keys: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(key, why) for each secret among `values` (every valid key but `plain_keys`) that
    `weakness` reports, in key order."""
    plain = set(plain_keys)
    return [
        (key, why)
        for key, value in sorted(values.items())
        if key not in plain and envfile.KEY_RE.match(key) and (why := weakness(value))
    ]
