"""Agent ids: the folder name is the id, and the Compose service, the container and DNS names
are made from it (docs/agent-schema.md). Standard library only: `smbos new` checks an id without
loading the agent models. Also the one "did you mean" of every name the operator can mistype.
"""

from __future__ import annotations

import difflib
import re

ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
MAX_ID_LENGTH = 32


def did_you_mean(word: str, choices) -> str:
    """` (did you mean 'x'?)` for the closest of `choices`, or "" when none is close."""
    close = difflib.get_close_matches(str(word), sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def id_problem(agent_id: str) -> str | None:
    """Why `agent_id` is not a valid agent id, or None."""
    if not agent_id:
        return "empty; expected lowercase letters, digits and '-'"
    if len(agent_id) > MAX_ID_LENGTH:
        return f"{len(agent_id)} characters long; expected at most {MAX_ID_LENGTH}"
    if "nanoclaw" in agent_id:
        return (
            "contains 'nanoclaw': its container name would contain 'nanoclaw-', and NanoClaw "
            "stops every container whose name does"
        )
    if not ID_RE.match(agent_id):
        return (
            f"{agent_id!r} is not valid; expected lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return None
