"""What every answer goes through: the guard's Host, Origin and token checks (security.Guard),
and the security headers. Outside the routes, so a refused request reaches no endpoint and an
answer (an error page included) never leaves without its headers."""

from __future__ import annotations

import jinja2
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response

from smbos.errors import NeedsSession, SmbosError
from smbos.web.errors import error
from smbos.web.render import render_page
from smbos.web.security import Guard

SECURITY_HEADERS = {
    # Pages set their own (page_csp, with a nonce); everything else is data: no script at all.
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


class GuardMiddleware:
    """Host, Origin and token checks (security.Guard) and security headers on every answer."""

    def __init__(self, app, guard: Guard, templates: jinja2.Environment):
        self.app = app
        self.guard = guard
        self.templates = templates

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        try:
            self.guard.check(scope["method"], scope["path"], headers, scope.get("scheme", "http"))
            refused = None
        except SmbosError as exc:
            refused = exc

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    if key not in out:
                        out[key] = value
            await send(message)

        if refused is not None:
            response: Response
            if isinstance(refused, NeedsSession):
                # A page, without the token: a page whose script gets the session cookie.
                response = render_page(
                    self.templates,
                    "session.html",
                    refused.http_status,
                    title="UI token",
                    message=str(refused),
                    exposed=True,
                )
            else:
                response = error(refused)
            return await response(scope, receive, send_with_headers)
        await self.app(scope, receive, send_with_headers)
