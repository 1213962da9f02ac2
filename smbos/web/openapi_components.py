"""The `components` of the UI's OpenAPI document (smbos.web.openapi): the token's security
scheme and the shapes of the answers (the error with every `Kind`, status rows, settings).
Data only.
"""

from __future__ import annotations

from smbos.errors import Kind
from smbos.web.security import TOKEN_HEADER

COMPONENTS = {
    "securitySchemes": {
        "token": {
            "type": "apiKey",
            "in": "header",
            "name": TOKEN_HEADER,
            "description": "The UI token (state/ui-token). Needed for "
            "every changing request, for the settings, "
            "and for every API and proxy request when "
            "the UI listens beyond loopback.",
        }
    },
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["error", "kind"],
            "properties": {
                "error": {"type": "string", "description": "One line."},
                "kind": {
                    "type": "string",
                    "enum": [k.value for k in Kind],
                    "description": "What failed (smbos.errors.Kind).",
                },
            },
        },
        "Status": {
            "type": "object",
            "properties": {
                "engine": {
                    "type": "object",
                    "properties": {
                        "ok": {"type": "boolean"},
                        "error": {"type": ["string", "null"]},
                    },
                },
                "agents": {"type": "array", "items": {"$ref": "#/components/schemas/AgentStatus"}},
                "problems": {"type": "array", "items": {"type": "string"}},
                "warnings": {"type": "integer"},
                "checked_at": {"type": "number"},
            },
        },
        "AgentStatus": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "enabled": {"type": "boolean"},
                "port": {"type": ["integer", "null"]},
                "state": {"type": "string"},
                "health": {"type": "string"},
                "api": {"type": "string"},
                "api_detail": {"type": "string"},
                "latency_ms": {"type": ["number", "null"]},
                "uptime_s": {"type": ["number", "null"]},
                "restarts": {"type": "integer"},
                "published": {"type": "string"},
                "drift": {"type": "string"},
                "restart_needed": {"type": "boolean"},
                "action": {"type": ["string", "null"]},
                "turns": {"type": "integer", "description": "per-turn containers running now"},
                "telegram": {
                    "type": "string",
                    "description": "the Telegram channel: off, -, "
                    "connecting, connected, failed, unknown",
                },
                "telegram_detail": {
                    "type": "string",
                    "description": "a failure's reason, the chats it serves",
                },
                "teams": {
                    "type": "boolean",
                    "description": "Claude Code agent teams in the agent's turns (runtime.swarms)",
                },
                "team": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "the names of the team's members (team/<member>.md)",
                },
                "patches": {
                    "type": "string",
                    "description": "runtime patches of the image, comma-separated",
                },
            },
        },
        "Env": {
            "type": "object",
            "properties": {
                "agent_id": {"type": "string"},
                "keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "key": {"type": "string"},
                            "set": {"type": "boolean"},
                            "secret": {"type": "boolean"},
                            "value": {
                                "type": "string",
                                "description": "masked (****wxyz, or **** under 16 "
                                "characters) when secret",
                            },
                            "source": {"type": "string"},
                            "description": {"type": "string"},
                            "required": {"type": "boolean"},
                        },
                    },
                },
                "secret_warnings": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "KEY: why, for each secret too short, plain or "
                    "common to hide in what the runtime shows",
                },
                "restart_needed": {"type": ["boolean", "null"]},
            },
        },
    },
}
