"""Request bodies, read with a cap, and the one strict reading of a JSON body.

An API call or a proxied request never holds more than MAX_BODY_BYTES in memory, whatever the
client sends (or claims in Content-Length). Every route that takes JSON (the API's and the
proxy's POST) reads it through `parse_json`, which takes only what JSON can carry and what SMBOS
can write on: UTF-8 text; numbers that are finite and fit 64 bits (no `NaN`, `Infinity`,
`1e999`: Python would keep them as `nan`/`inf`); strings without lone surrogates (they cannot be
encoded into `.env` or a request to a runtime); nesting at most MAX_JSON_DEPTH deep (deeper
would exhaust the parser's recursion). Each refusal is a 400 naming the field (`values.KEY`,
`values[2]`), never a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from smbos.errors import SmbosError, TooLarge

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_JSON_INT = 2**63 - 1

_TOKEN_RE = re.compile(r'"(?:[^"\\]|\\.)*"\s*:?|[\[\]{},]', re.DOTALL)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,39}")


async def read_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise TooLarge(f"request body larger than {MAX_BODY_BYTES} bytes")
    return bytes(body)


class _Refused:
    """What a number or constant JSON cannot carry parses to; the walk names its field."""

    def __init__(self, text: str, why: str):
        self.text = text
        self.why = why


def _constant(text: str) -> _Refused:
    return _Refused(text, f"{text} is not a number JSON can carry")


def _float(text: str) -> float | _Refused:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        return _Refused(text, f"{text} is not a finite number")
    return value


def _int(text: str) -> int | _Refused:
    digits = text.lstrip("-")
    if len(digits) > 19 or int(text) > MAX_JSON_INT or int(text) < -MAX_JSON_INT - 1:
        shown = text if len(text) <= 24 else f"{text[:12]}…({len(digits)} digits)"
        return _Refused(text, f"{shown}: number too large (at most 64 bits)")
    return int(text)


def field_name(path: tuple) -> str:
    """`values.KEY`, `values[2]`, `values["a b"]`, `body[0]`; `body` for the whole body."""
    out = ""
    for part in path:
        if isinstance(part, str) and _NAME_RE.fullmatch(part):
            out += f".{part}" if out else part
        else:
            shown = (
                part
                if isinstance(part, int)
                else json.dumps(_SURROGATE_RE.sub("?", part)[:40], ensure_ascii=False)
            )
            out = f"{out or 'body'}[{shown}]"
    return out or "body"


def _too_deep_at(text: str) -> tuple:
    """Where `text`, which the parser found too deep to read, first nests deeper than
    MAX_JSON_DEPTH. The text up to there was valid JSON (the parser got that far), so its
    strings end where this scan thinks they do."""
    stack: list[list] = []  # [kind, key or index]
    for token in _TOKEN_RE.finditer(text):
        value = token.group()
        if value in ("[", "{"):
            if len(stack) >= MAX_JSON_DEPTH:
                break
            stack.append(["array", 0] if value == "[" else ["object", None])
        elif value in ("]", "}"):
            if stack:
                stack.pop()
        elif value == ",":
            if stack and stack[-1][0] == "array":
                stack[-1][1] += 1
        elif value.endswith(":") and stack and stack[-1][0] == "object":
            try:
                stack[-1][1] = json.loads(value[:-1].rstrip())
            except ValueError:
                stack[-1][1] = "?"
    return tuple(entry[1] for entry in stack if entry[1] is not None)


def _check(data: Any) -> None:
    """Raise for the first value the parser read that SMBOS does not take."""
    todo: list[tuple[Any, tuple]] = [(data, ())]
    while todo:
        value, where = todo.pop()
        if isinstance(value, _Refused):
            raise SmbosError(f"{field_name(where)}: {value.why}")
        if isinstance(value, str):
            if _SURROGATE_RE.search(value):
                raise SmbosError(
                    f"{field_name(where)}: a lone surrogate (\\ud800-\\udfff) is "
                    "not text; send UTF-8"
                )
            continue
        if isinstance(value, (dict, list)) and len(where) >= MAX_JSON_DEPTH:
            raise SmbosError(f"{field_name(where)}: nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in reversed(value.items()):
                if _SURROGATE_RE.search(key):
                    raise SmbosError(
                        f"{field_name(where)}: a key with a lone surrogate "
                        "(\\ud800-\\udfff) is not text; send UTF-8"
                    )
                todo.append((item, (*where, key)))
        elif isinstance(value, list):
            todo.extend((item, (*where, index)) for index, item in reversed(list(enumerate(value))))


def parse_json(body: bytes) -> Any:
    """The JSON value of `body`, read strictly (the module docstring); SmbosError (400) naming
    the field otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SmbosError("request body is not JSON (not UTF-8)") from None
    try:
        data = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except RecursionError:
        where = field_name(_too_deep_at(text))
        raise SmbosError(f"{where}: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise SmbosError("request body is not JSON") from None
    _check(data)
    return data


def parse_json_object(body: bytes) -> dict:
    """The body as a JSON object ({} when empty)."""
    if not body:
        return {}
    data = parse_json(body)
    if not isinstance(data, dict):
        raise SmbosError("expected a JSON object")
    return data


async def read_json(request: Request) -> dict:
    """The request's body as a JSON object ({} when empty), read strictly."""
    return parse_json_object(await read_body(request))
