"""Pages as HTML: the Jinja2 templates and the Content-Security-Policy that goes with each page.

Every page gets a fresh nonce, and its CSP lets only the script tag carrying that nonce run: no
other URL of this origin (a proxied agent answer included) can ever run as the UI's script.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from smbos import __version__

HERE = Path(__file__).resolve().parent


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["version"] = __version__
    return env


def page_csp(nonce: str) -> str:
    """A page runs only the script tag that carries this response's nonce."""
    return (
        f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def render_page(env: jinja2.Environment, name: str, status: int, **context) -> HTMLResponse:
    nonce = secrets.token_urlsafe(18)
    html = env.get_template(name).render(csp_nonce=nonce, **context)
    return HTMLResponse(
        html,
        status_code=status,
        headers={"Cache-Control": "no-store", "Content-Security-Policy": page_csp(nonce)},
    )


def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    """Template `name` for this request, with the project and whether the request is remote."""
    ui = request.app.state.ui
    return render_page(
        request.app.state.templates,
        name,
        status,
        request=request,
        project=ui.project,
        exposed=ui.guard.remote(request.headers.get("host")),
        **context,
    )
