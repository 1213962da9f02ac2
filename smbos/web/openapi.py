"""The OpenAPI 3 document of the UI, served at /api/openapi.json.

Written as data: one entry per route name of `app.routes()`. `document(app)` walks the app's
routes, so a route without an entry here fails loudly (KeyError) instead of going undocumented.
"""

from __future__ import annotations

import re
from typing import Any

from smbos import __version__
from smbos.web.openapi_components import COMPONENTS
from smbos.web.security import TOKEN_HEADER

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _err(description: str) -> dict:
    return _json(_ERROR, description)


_SSE = {
    "description": "Server-sent events, streamed as they happen",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}
_HTML = {"description": "An HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}

_AGENT_404 = {"404": _err("Unknown agent")}
_RUNTIME_502 = {"502": _err("The agent's runtime did not answer (down, refused, bad answer)")}
_ENGINE_503 = {"503": _err("The Docker engine is unreachable")}
_PROXY_429 = {
    "429": _err(
        "Too many proxied requests open (for this agent, this client, or "
        "in all): kind too_many_streams"
    )
}
_GUARD = {
    "401": _err(f"Missing {TOKEN_HEADER}"),
    "403": _err(f"Wrong {TOKEN_HEADER}, or a request from another site (Origin)"),
}
_BAD = {"400": _err("Invalid input")}

_OBJ = {"type": "object", "additionalProperties": True}

ROUTES: dict[str, dict[str, Any]] = {
    "fleet_page": {
        "get": {
            "summary": "Fleet page: every agent, live status, lifecycle buttons, auto-heal actions",
            "tags": ["pages"],
            "responses": {"200": _HTML},
        }
    },
    "agent_page": {
        "get": {
            "summary": "Agent page: identity, configuration, log tail, chat, "
            "history, scheduled tasks, memory files",
            "tags": ["pages"],
            "responses": {"200": _HTML, "404": _HTML},
        }
    },
    "settings_page": {
        "get": {
            "summary": "Settings page: the agent's .env keys (secrets masked)",
            "tags": ["pages"],
            "responses": {"200": _HTML, "404": _HTML},
        }
    },
    "skill_page": {
        "get": {
            "summary": "Skill dashboard: a form from the skill's inputs, the "
            "result as text, list or table",
            "tags": ["pages"],
            "responses": {"200": _HTML, "404": _HTML},
        }
    },
    "proxy": {
        "get": {
            "summary": "Forward GET to the agent's NanoClaw API (/api/<path>, query string "
            "passed through), redacted: JSON read whole and written again, "
            "server-sent events frame by frame as they come; needs the token "
            "on loopback too",
            "tags": ["proxy"],
            "security": [{"token": []}],
            "responses": {
                "200": {"description": "The runtime's answer, secrets redacted"},
                **_AGENT_404,
                **_GUARD,
                **_RUNTIME_502,
                **_PROXY_429,
            },
        },
        "post": {
            "summary": "Forward POST to the agent's NanoClaw API (e.g. /api/chat, "
            "streamed), redacted as GET",
            "tags": ["proxy"],
            "security": [{"token": []}],
            "requestBody": {"content": {"application/json": {"schema": _OBJ}}},
            "responses": {
                "200": {"description": "The runtime's answer, secrets redacted"},
                **_AGENT_404,
                **_GUARD,
                **_RUNTIME_502,
                **_PROXY_429,
            },
        },
    },
    "openapi": {
        "get": {"summary": "This document", "tags": ["meta"], "responses": {"200": _json(_OBJ)}}
    },
    "session": {
        "post": {
            "summary": "Check the token; the answer sets the cookie that opens the pages "
            "to a remote request (HttpOnly, SameSite=Strict)",
            "tags": ["meta"],
            "security": [{"token": []}],
            "responses": {"200": _json(_OBJ), **_GUARD},
        },
        "delete": {
            "summary": "Forget this browser's session cookie",
            "tags": ["meta"],
            "security": [{"token": []}],
            "responses": {"200": _json(_OBJ), **_GUARD},
        },
    },
    "status": {
        "get": {
            "summary": "Fleet status: state, health, API, port, uptime, restarts, drift, restart "
            "needed, action in progress",
            "tags": ["fleet"],
            "parameters": [
                {
                    "name": "agent",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "array", "items": {"type": "string"}},
                    "description": "Only these agents (repeatable)",
                }
            ],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/Status"}),
                "503": _json(
                    {"$ref": "#/components/schemas/Status"},
                    "The engine is unreachable: rows from the folders only, engine.error says why",
                ),
                **_AGENT_404,
            },
        }
    },
    "heal": {
        "get": {
            "summary": "Recent auto-heal actions (state/heal-log.jsonl), newest first",
            "tags": ["fleet"],
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
                }
            ],
            "responses": {"200": _json(_OBJ), **_BAD},
        }
    },
    "agents": {
        "get": {
            "summary": "The agent folders (as `smbos list --json`)",
            "tags": ["fleet"],
            "responses": {"200": _json(_OBJ)},
        }
    },
    "agent": {
        "get": {
            "summary": "One agent: folder data, identity, configuration, status",
            "tags": ["agent"],
            "responses": {"200": _json(_OBJ), **_AGENT_404},
        }
    },
    "start": {
        "post": {
            "summary": "Start the agent's existing container",
            "tags": ["lifecycle"],
            "security": [{"token": []}],
            "responses": {
                "200": _json(_OBJ),
                **_GUARD,
                **_AGENT_404,
                "409": _err("No container, or another action is running"),
                **_ENGINE_503,
            },
        }
    },
    "stop": {
        "post": {
            "summary": "Stop the agent's container",
            "tags": ["lifecycle"],
            "security": [{"token": []}],
            "responses": {
                "200": _json(_OBJ),
                **_GUARD,
                **_AGENT_404,
                "409": _err("No container, or another action is running"),
                **_ENGINE_503,
            },
        }
    },
    "restart": {
        "post": {
            "summary": "Restart the agent's container (e.g. after a settings change)",
            "tags": ["lifecycle"],
            "security": [{"token": []}],
            "responses": {
                "200": _json(_OBJ),
                **_GUARD,
                **_AGENT_404,
                "409": _err("No container, or another action is running"),
                **_ENGINE_503,
            },
        }
    },
    "logs": {
        "get": {
            "summary": "The last lines of the agent's container log",
            "tags": ["agent"],
            "parameters": [
                {
                    "name": "tail",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 5000, "default": 200},
                }
            ],
            "responses": {
                "200": _json(_OBJ),
                **_BAD,
                **_AGENT_404,
                "409": _err("No container"),
                **_ENGINE_503,
            },
        }
    },
    "tasks": {
        "get": {
            "summary": "Scheduled tasks with next run, last result, and run logs "
            "(the runtime's GET /api/tasks)",
            "tags": ["agent"],
            "responses": {"200": _json(_OBJ), **_AGENT_404, **_RUNTIME_502},
        }
    },
    "task_action": {
        "post": {
            "summary": "Pause, resume or cancel a scheduled task through "
            "NanoClaw's IPC; answers once GET /api/tasks shows it",
            "tags": ["agent"],
            "security": [{"token": []}],
            "parameters": [
                {
                    "name": "action",
                    "in": "path",
                    "required": True,
                    "schema": {"enum": ["pause", "resume", "cancel"]},
                }
            ],
            "responses": {
                "200": _json(_OBJ),
                **_GUARD,
                **_AGENT_404,
                "409": _err("The runtime did not apply it in time"),
                **_RUNTIME_502,
            },
        }
    },
    "messages": {
        "get": {
            "summary": "The web chat history (the runtime's GET /api/messages)",
            "tags": ["agent"],
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200},
                }
            ],
            "responses": {"200": _json(_OBJ), **_BAD, **_AGENT_404, **_RUNTIME_502},
        }
    },
    "chat": {
        "post": {
            "summary": "Send a message to the agent's web chat; the reply streams as "
            "events typing, message {text}, error {text}, done",
            "tags": ["agent"],
            "security": [{"token": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {"message": {"type": "string"}},
                        }
                    }
                },
            },
            "responses": {"200": _SSE, **_BAD, **_GUARD, **_AGENT_404, **_RUNTIME_502},
        }
    },
    "env_get": {
        "get": {
            "summary": "The agent's .env settings: core, channel, integration and "
            "documented keys; secrets masked. Needs the token, on "
            "loopback too",
            "tags": ["settings"],
            "security": [{"token": []}],
            "responses": {
                "200": _json({"$ref": "#/components/schemas/Env"}),
                **_GUARD,
                **_AGENT_404,
            },
        }
    },
    "env_put": {
        "put": {
            "summary": 'Change .env keys atomically (backup .env.bak): a value sets the key, "" or '
            "null removes it, the masked value shown leaves the secret as it was",
            "tags": ["settings"],
            "security": [{"token": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["values"],
                            "properties": {
                                "values": {
                                    "type": "object",
                                    "additionalProperties": {"type": ["string", "null"]},
                                }
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": _json({"$ref": "#/components/schemas/Env"}),
                **_BAD,
                **_GUARD,
                **_AGENT_404,
            },
        }
    },
    "memory": {
        "get": {
            "summary": "The files in the agent's memory folder (read-only); `stopped` "
            'says why the listing is incomplete (a walk limit), else ""',
            "tags": ["agent"],
            "responses": {"200": _json(_OBJ), **_AGENT_404},
        }
    },
    "memory_file": {
        "get": {
            "summary": "One memory file as text (paths outside the folder refused)",
            "tags": ["agent"],
            "responses": {
                "200": _json(_OBJ),
                "400": _err("A path outside the memory folder"),
                "403": _err("A file never shown: secrets, or a hard link"),
                "404": _err("Unknown agent or file"),
                "413": _err("Larger than the cap"),
                "415": _err("Not UTF-8 text"),
            },
        }
    },
    "skills": {
        "get": {
            "summary": "The skill dashboards the agent declares",
            "tags": ["skills"],
            "responses": {"200": _json(_OBJ), **_AGENT_404},
        }
    },
    "skill_run": {
        "post": {
            "summary": "Run a skill: its prompt rendered from the values goes to the agent's chat. "
            "Streams prompt, typing, message, error, result {display,text,items|headers,"
            "rows}, done; with Accept: application/json, one JSON answer at the end",
            "tags": ["skills"],
            "security": [{"token": []}],
            "requestBody": {
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"values": {"type": "object"}}}
                    }
                }
            },
            "responses": {
                "200": _SSE,
                **_BAD,
                **_GUARD,
                "404": _err("Unknown agent or skill"),
                **_RUNTIME_502,
            },
        }
    },
}


def openapi_path(path: str) -> str:
    """Starlette's `{name:path}` as OpenAPI's `{name}`."""
    return re.sub(r"\{(\w+)(?::\w+)?\}", r"{\1}", path)


def _parameters(path: str) -> list[dict]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{(\w+)(?::\w+)?\}", path)
    ]


def document(app) -> dict:
    """The OpenAPI document of every route `app` serves (static files as one entry)."""
    paths: dict[str, dict] = {}
    for route in app.routes:
        name: str = getattr(route, "name", "")
        if name == "static":
            paths["/static/{file}"] = {
                "get": {
                    "summary": "The UI's own CSS and JavaScript (nothing is loaded from elsewhere)",
                    "tags": ["pages"],
                    "parameters": [
                        {
                            "name": "file",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": {"description": "A static file"}},
                }
            }
            continue
        spec = ROUTES[name]
        entry = paths.setdefault(openapi_path(route.path), {})
        for method in sorted(m.lower() for m in route.methods or () if m != "HEAD"):
            operation = dict(spec[method])
            operation["operationId"] = f"{name}_{method}" if len(spec) > 1 else name
            params = _parameters(route.path) + list(operation.get("parameters", []))
            if params:
                operation["parameters"] = params
            entry[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SMBOS operator UI",
            "version": __version__,
            "description": "The JSON API behind the SMBOS UI pages. Changing requests need "
            f"the {TOKEN_HEADER} header and, from a browser, this UI's own "
            "Origin.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": COMPONENTS,
    }
