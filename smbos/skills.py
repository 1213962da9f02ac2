"""Skills: the dashboards an agent declares under `skills:` (a form whose values fill a prompt
sent to the agent's chat), and how their replies are shown (text, a list, a table). Shared by
`smbos skill` and the UI; also the one check of a chat message.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from smbos.agent import Agent
from smbos.errors import NotFound, SmbosError
from smbos.schema import Skill

SKILL_VALUE_MAX_CHARS = 20_000
MESSAGE_MAX_CHARS = 100_000


def find_skill(agent: Agent, skill_id: str) -> Skill:
    for skill in agent.config.skills:
        if skill.id == skill_id:
            return skill
    known = ", ".join(s.id for s in agent.config.skills) or "none"
    raise NotFound(f"agent {agent.id!r} has no skill {skill_id!r}; its skills: {known}")


def skill_values(skill: Skill, given: dict[str, Any]) -> dict[str, str]:
    """The operator's values checked against the skill's inputs, defaults filled in.
    Raises SmbosError naming every bad input."""
    if not isinstance(given, dict):
        raise SmbosError("expected an object of input: value")
    problems: list[str] = []
    known = {i.id for i in skill.inputs}
    for key in given:
        if key not in known:
            problems.append(
                f"{str(key)[:40]}: not an input of skill {skill.id} "
                f"(inputs: {', '.join(sorted(known)) or 'none'})"
            )
    values: dict[str, str] = {}
    for spec in skill.inputs:
        raw = given.get(spec.id)
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            raw = spec.default
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            if spec.required:
                problems.append(f"{spec.id}: required ({spec.label})")
            values[spec.id] = ""
            continue
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            problems.append(f"{spec.id}: expected text or a number")
            continue
        text = str(raw).strip() if spec.type != "textarea" else str(raw)
        if len(text) > SKILL_VALUE_MAX_CHARS:
            problems.append(f"{spec.id}: longer than {SKILL_VALUE_MAX_CHARS} characters")
            continue
        if spec.type != "textarea" and ("\n" in text or "\r" in text):
            problems.append(f"{spec.id}: expected a single line")
            continue
        if spec.type == "number":
            try:
                number = float(text)
            except ValueError:
                problems.append(f"{spec.id}: expected a number, got {text[:40]!r}")
                continue
            if not math.isfinite(number):
                problems.append(f"{spec.id}: expected a finite number")
                continue
            text = str(int(number)) if number.is_integer() else str(number)
        elif spec.type == "date":
            try:
                text = date.fromisoformat(text).isoformat()
            except ValueError:
                problems.append(f"{spec.id}: expected a date YYYY-MM-DD, got {text[:40]!r}")
                continue
        elif spec.type == "select":
            options = [str(o) for o in spec.options or []]
            if text not in options:
                problems.append(
                    f"{spec.id}: expected one of {', '.join(options)}, got {text[:40]!r}"
                )
                continue
        values[spec.id] = text
    if problems:
        raise SmbosError("; ".join(problems))
    return values


def skill_prompt(skill: Skill, given: dict[str, Any]) -> str:
    """The prompt the skill sends: `skill.render` of the checked values."""
    return skill.render(skill_values(skill, given))


_BULLET_RE = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+(?P<item>.+?)\s*$")
_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def parse_list(text: str) -> list[str]:
    """The Markdown bullet (or numbered) items of a reply; its non-empty lines when it has none."""
    items = [m.group("item") for m in map(_BULLET_RE.match, text.splitlines()) if m]
    if items:
        return items
    return [line.strip() for line in text.splitlines() if line.strip()]


def _cells(line: str) -> list[str]:
    line = line.strip()
    line = line.removeprefix("|")
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells, current, escaped = [], "", False
    for char in line:
        if escaped:
            current += char if char == "|" else "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            cells.append(current.strip())
            current = ""
        else:
            current += char
    if escaped:
        current += "\\"
    cells.append(current.strip())
    return cells


def parse_table(text: str) -> dict[str, Any] | None:
    """The first Markdown table of a reply: {"headers": [...], "rows": [[...]]}, or None."""
    lines = text.splitlines()
    for index in range(len(lines) - 1):
        if "|" not in lines[index] or not _TABLE_SEP_RE.match(lines[index + 1]):
            continue
        headers = _cells(lines[index])
        if len(_cells(lines[index + 1])) != len(headers):
            continue
        rows = []
        for line in lines[index + 2 :]:
            if "|" not in line or not line.strip():
                break
            cells = _cells(line)
            cells = (cells + [""] * len(headers))[: len(headers)]
            rows.append(cells)
        return {"headers": headers, "rows": rows}
    return None


def skill_result(skill: Skill, text: str) -> dict[str, Any]:
    """The reply shaped for the skill's display: text, a list of items, or a table."""
    result: dict[str, Any] = {"display": skill.display, "text": text}
    if skill.display == "list":
        result["items"] = parse_list(text)
    elif skill.display == "table":
        table = parse_table(text)
        if table is None:
            result["display"] = "text"
            result["note"] = "the reply has no Markdown table; shown as text"
        else:
            result.update(table)
    return result


def check_message(message: Any) -> str:
    if not isinstance(message, str) or not message.strip():
        raise SmbosError("message is required: a non-empty string")
    if len(message) > MESSAGE_MAX_CHARS:
        raise SmbosError(f"message longer than {MESSAGE_MAX_CHARS} characters")
    return message
