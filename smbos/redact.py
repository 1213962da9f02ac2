"""Secrets out of every text SMBOS shows, whatever wrote them.

The runtime can leak: a failed turn writes its input, API key included, into
`memory/logs/container-*.log`; a model may echo a key back into a reply or a task result; a log
line may quote a URL with a token in it. SMBOS knows each agent's `.env`, so before any text from
the runtime reaches a terminal, a page or a JSON answer (container logs, memory files, task
results and run logs, chat replies and errors, the chat history), every value of that `.env`
that is a secret (`operations.is_secret`) and long enough to be a credential is replaced by
`[secret KEY]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from smbos import envfile

# Shorter values (`true`, `UTC`, `3100`) are settings, and replacing them would garble text.
MIN_SECRET_CHARS = 8
_PLAIN = re.compile(r"^(true|false|yes|no|on|off|\d+(\.\d+)?)$", re.IGNORECASE)


@dataclass(frozen=True)
class Redactor:
    """Replaces known secret values in text; `pairs` are (value, key), longest value first."""

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_values(cls, values: dict[str, str]) -> Redactor:
        pairs = {(v, k) for k, v in values.items()
                 if v and len(v) >= MIN_SECRET_CHARS and not _PLAIN.match(v)}
        return cls(tuple(sorted(pairs, key=lambda p: (-len(p[0]), p[1]))))

    @classmethod
    def for_env_file(cls, path: Path) -> Redactor:
        try:
            return cls.from_values(envfile.read_env(path))
        except (OSError, ValueError, UnicodeDecodeError):
            return cls()

    def __call__(self, text: str | None) -> str | None:
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
        """The same structure (dicts, lists, strings) with every string redacted."""
        if isinstance(data, str):
            return self(data)
        if isinstance(data, dict):
            return {key: self.deep(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.deep(item) for item in data]
        return data


def for_agent(agent) -> Redactor:
    """The redactor of an agent: the values of its `.env` that are secrets (every value but
    those of names and switches, and of keys `.env.example` marks "not secret")."""
    from smbos.operations import is_secret  # the one rule of what is secret

    try:
        values = envfile.read_env(agent.env_path)
    except (OSError, ValueError, UnicodeDecodeError):
        return Redactor()
    return Redactor.from_values({k: v for k, v in values.items() if is_secret(agent, k)})
