"""What every model of an agent folder's schema shares (smbos.schema, smbos.schedulespec): strict
(unknown keys refused, no coercion), frozen; and two rules of text fields.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def single_line(value: str | None) -> str | None:
    """A name becomes ASSISTANT_NAME (default from `name`), a description a table cell: no line
    break of any kind."""
    if value and value.splitlines() != [value]:
        raise ValueError("expected a single line")
    return value


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("is blank; expected the text the agent gets")
    return value
