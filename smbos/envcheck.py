"""An agent folder's `.env.example` and `.env`, checked: every key the configuration needs is
documented (`agent.config_keys`) and set, no committed secret, the `# not secret` marker where
it may be, no value the runtime would read otherwise (` #`), no secret too short or common to
hide (smbos.redact). Values are read to check them, never kept or shown.
"""

from __future__ import annotations

import re
from pathlib import Path

from smbos import catalog, envfile, redact
from smbos.agent import Agent, config_keys
from smbos.errors import Problem, Severity
from smbos.folderread import present, read_text
from smbos.schema import ENV, ENV_EXAMPLE, AgentConfig

MAX_ENV_BYTES = 64 * 1024

_INLINE_COMMENT = (
    "the value holds ' #', which the runtime reads as part of the value (a '#' "
    "starts a comment only at the start of a line); put the comment on its own "
    "line"
)


def read_env_example(
    folder: Path, display: str, config: AgentConfig, problems: list[Problem]
) -> list[envfile.ExampleKey]:
    """.env.example: every key documented (those the configuration needs among them), no
    committed secret, the `# not secret` marker where it may be."""
    path, where = folder / ENV_EXAMPLE, f"{display}/{ENV_EXAMPLE}"
    if not present(
        path, where, "every key this agent needs, documented, with empty values", problems
    ):
        return []
    text = read_text(path, where, MAX_ENV_BYTES, problems)
    if text is None:
        return []
    example, line_problems = envfile.parse_example(text)
    problems += [Problem(where, f"line {line}", message) for line, message in line_problems]
    for key in example:
        problems += marker_problems(key, where)
        if envfile.looks_like_secret(key.value):
            problems.append(
                Problem(
                    where,
                    key.key,
                    "looks like a real secret; expected an empty value or a "
                    "placeholder such as <your-key> (put real values in .env, "
                    "which is not committed)",
                )
            )
    documented = {k.key for k in example}
    if not documented & set(catalog.CREDENTIAL_KEYS):
        problems.append(
            Problem(
                where,
                catalog.CREDENTIAL_KEYS[0],
                f"not documented; every agent needs {' or '.join(catalog.CREDENTIAL_KEYS)}",
            )
        )
    for needed, why in config_keys(config):
        if needed not in documented:
            documented.add(needed)  # said once, for the first that needs it
            problems.append(Problem(where, needed, f"not documented; {why} needs it"))
    return example


def read_env(
    folder: Path, display: str, example: list[envfile.ExampleKey], problems: list[Problem]
) -> frozenset[str]:
    """.env: which keys are set (values are read to check them, never kept or shown)."""
    path, where = folder / ENV, f"{display}/{ENV}"
    if path.is_dir():
        problems.append(
            Problem(
                where,
                "",
                "is a directory (left by a bind mount of a missing "
                "file?); expected a file of KEY=value lines: remove "
                "it",
            )
        )
        return frozenset()
    if not path.exists():
        return frozenset()
    text = read_text(path, where, MAX_ENV_BYTES, problems, raw=True)
    if text is None:
        return frozenset()
    values = envfile.parse_env_text(text)
    for key in envfile.inline_comment_keys(text):
        problems.append(Problem(where, key, _INLINE_COMMENT, Severity.WARNING))
    plain = catalog.PLAIN_KEYS | {k.key for k in example if k.not_secret}
    for key, why in redact.weak_secrets(values, plain):
        problems.append(Problem(where, key, why, Severity.WARNING))
    return frozenset(k for k, v in values.items() if v.strip())


def missing_env_keys(agent: Agent, folder: Path, display: str, severity: Severity) -> list[Problem]:
    """A problem for each key `.env` must set and does not (warnings unless strict)."""
    where = f"{display}/{ENV}" if (folder / ENV).exists() else f"{display}/{ENV} (missing)"
    found = []
    if not agent.env_keys & set(catalog.CREDENTIAL_KEYS):
        found.append(
            Problem(
                where,
                catalog.CREDENTIAL_KEYS[0],
                f"not set; the runtime needs {' or '.join(catalog.CREDENTIAL_KEYS)}",
                severity,
            )
        )
    for key, why in agent.required_env_keys():
        if key not in agent.env_keys:
            found.append(Problem(where, key, f"not set; required by {why}", severity))
    return found


def marker_problems(key: envfile.ExampleKey, display: str) -> list[Problem]:
    """Warnings about the `# not secret` marker: on a key whose name says credential, and a
    comment that only mentions the words (the value stays masked)."""
    if key.not_secret and envfile.CREDENTIAL_NAME_RE.search(key.key):
        return [
            Problem(
                display,
                key.key,
                f"marked {envfile.NOT_SECRET!r} but its name looks "
                "like a credential's: its value is shown in clear by `smbos env` and the "
                "UI; remove the marker unless the value really is not secret",
                Severity.WARNING,
            )
        ]
    if not key.not_secret and re.search(r"\bnot\s+secret\b", key.comment, re.IGNORECASE):
        return [
            Problem(
                display,
                key.key,
                "its comment mentions 'not secret', which is not the "
                f"marker: the value stays masked; to show it in clear, put the line "
                f"{envfile.NOT_SECRET!r} of its own above the key",
                Severity.WARNING,
            )
        ]
    return []
