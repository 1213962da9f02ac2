"""The agent models' errors (pydantic's) as one-line `Problem`s (ADR 004): one per error, the
field as a path (`schedules[0].cron`), an unknown key with a did-you-mean or the keys allowed
there, a wrong type with the value given, cut to 40 characters.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError

from smbos.errors import Problem
from smbos.ids import did_you_mean

_UNION_TAGS = frozenset({"str", "int", "float", "bool", "datetime", "none"})
_UNION_TAG_PREFIXES = ("function-", "list[", "dict[", "literal[")


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS or str(part).startswith(_UNION_TAG_PREFIXES):
            # A union member's tag (`interval.str`), not a key: a field such as `integrations`
            # or `interval` must not be mistaken for one.
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed where an unknown key was found."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        info = current.model_fields.get(part) if hasattr(current, "model_fields") else None
        if info is None:
            return []
        current = _model_in(info.annotation)
    return list(current.model_fields) if hasattr(current, "model_fields") else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found:
            return found
    return None


def _short(value: Any) -> str:
    text = value.isoformat() if isinstance(value, date) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validation_problems(exc: ValidationError, model: type[BaseModel], path: str) -> list[Problem]:
    """One Problem per pydantic error, with field paths like `schedules[0].cron`."""
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = _fields_at(model, loc[:-1])
            message = f"unknown key{did_you_mean(key, allowed)}"
            if allowed and not did_you_mean(key, allowed):
                message += f"; expected one of: {', '.join(allowed)}"
        elif kind == "missing":
            message = "required"
        elif kind == "value_error":
            message = str(error.get("ctx", {}).get("error") or error["msg"])
        else:
            message = f"{error['msg'].rstrip('.')}"
            if kind.endswith("_type") or kind.startswith(("literal", "string_pattern")):
                message += f", got {_short(error.get('input'))}"
            message = message[0].lower() + message[1:]
        problems.append(Problem(path, _loc(loc) or "(top level)", message))
    return problems
