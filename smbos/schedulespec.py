"""The schedules of `config.yaml` (`schedules:`): one of cron (5 fields, evaluated in the agent's
time zone, and it must fire), interval (60 s to 366 days) or once (a local time without offset,
quoted or not the same), and a prompt that is not blank; as NanoClaw's scheduler takes them
(docs/runtime-api.md).
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from smbos.modelbase import Model, not_blank

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MIN_INTERVAL_MS = 60_000
# The runtime computes the next run as `Date.now() + interval` in JavaScript: far beyond a year that
# loses precision or leaves Date's range; a year is longer than any useful interval (use cron).
MAX_INTERVAL_MS = 366 * 86_400_000
# What YAML reads as a timestamp when it is not quoted (the safe loader's own pattern).
_YAML_TIMESTAMP = next(
    pattern
    for tag, pattern in yaml.SafeLoader.yaml_implicit_resolvers["2"]
    if tag == "tag:yaml.org,2002:timestamp"
)

MIN_INTERVAL_MS = 60_000
# The runtime computes the next run as `Date.now() + interval` in JavaScript: far beyond a year that
# loses precision or leaves Date's range; a year is longer than any useful interval (use cron).
MAX_INTERVAL_MS = 366 * 86_400_000


def parse_interval(value: str | int) -> int:
    """`90s`, `15m`, `2h`, `1d` or a millisecond count, as milliseconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m, 2h, 1d or a millisecond count")
    if isinstance(value, int):
        ms = value
    else:
        match = re.fullmatch(r"\s*(\d+)\s*(ms|s|m|h|d)?\s*", value)
        if not match:
            raise ValueError(
                f"expected a duration such as 15m, 2h, 1d or a millisecond count, got {value!r}"
            )
        unit = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, None: 1}
        ms = int(match.group(1)) * unit[match.group(2)]
    if ms < MIN_INTERVAL_MS:
        raise ValueError("must be at least 60s (the runtime's scheduler polls once a minute)")
    if ms > MAX_INTERVAL_MS:
        raise ValueError(
            "must be at most 366d (the runtime adds it to the current time in "
            "JavaScript); for rarer runs use cron or once"
        )
    return ms


@functools.lru_cache(maxsize=4096)
def _cron_problem(value: str) -> str | None:
    """What is wrong with a 5-field cron expression, or None (fleets repeat expressions: cached)."""
    from croniter import CroniterBadDateError, croniter  # only fleets with a cron schedule pay

    if not croniter.is_valid(value):
        return f"not a valid cron expression: {value!r}"
    try:
        croniter(value, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        return (
            f"{value!r} never fires (no such date, e.g. 31 February); expected a day that "
            "exists in the months given"
        )
    return None


class Schedule(Model):
    id: str = Field(pattern=SLUG_RE.pattern)
    cron: str | None = None
    interval: str | int | None = None
    once: str | datetime | None = None
    prompt: str = Field(min_length=1)
    context_mode: Literal["group", "isolated"] = "group"
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        fields = value.split()
        if len(fields) != 5:
            raise ValueError(f"expected 5 fields (minute hour day month weekday), got {value!r}")
        problem = _cron_problem(value)
        if problem:
            raise ValueError(problem)
        return " ".join(fields)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_interval(value)
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        return not_blank(value)

    @field_validator("once", mode="before")
    @classmethod
    def _once_date(cls, value: Any) -> Any:
        if isinstance(value, str):
            # Quoted or not, the same time: a string that YAML would read as a timestamp
            # unquoted is read as that timestamp (one-digit hours, a space for the T, a date
            # without a time all mean what they mean unquoted).
            text = value.strip()
            if _YAML_TIMESTAMP.match(text):
                value = yaml.safe_load(text)
        if isinstance(value, date) and not isinstance(value, datetime):
            raise ValueError(
                f"expected a local timestamp such as {value.isoformat()}T09:00:00, "
                f"got the date {value.isoformat()} without a time"
            )
        return value

    @field_validator("once")
    @classmethod
    def _once(cls, value: str | datetime | None) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(
                    f"expected a local timestamp such as 2026-12-01T09:00:00, got {value!r}"
                ) from None
        if value.tzinfo is not None:
            raise ValueError(
                "expected a local time without offset (the runtime reads it in its own time zone)"
            )
        return value.replace(microsecond=0).isoformat()

    @model_validator(mode="after")
    def _exactly_one(self) -> Schedule:
        given = [k for k in ("cron", "interval", "once") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "expected exactly one of cron, interval, once"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    @property
    def schedule_type(self) -> str:
        return "cron" if self.cron else "interval" if self.interval is not None else "once"

    @property
    def schedule_value(self) -> str:
        if self.cron:
            return self.cron
        if self.interval is not None:
            return str(parse_interval(self.interval))
        return str(self.once)
