"""Request bodies, read with a cap: an API call or a proxied request never holds more than
MAX_BODY_BYTES in memory, whatever the client sends (or claims in Content-Length)."""

from __future__ import annotations

import json

from starlette.requests import Request

from smbos.errors import Kind
from smbos.web.errors import ApiError

MAX_BODY_BYTES = 1024 * 1024


async def read_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes", Kind.TOO_LARGE)
    return bytes(body)


async def read_json(request: Request) -> dict:
    """The body as a JSON object ({} when empty)."""
    body = await read_body(request)
    if not body:
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "request body is not JSON", Kind.BAD_REQUEST) from None
    if not isinstance(data, dict):
        raise ApiError(400, "expected a JSON object", Kind.BAD_REQUEST)
    return data
