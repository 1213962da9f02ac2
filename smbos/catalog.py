"""What NanoClaw integrations and channels need: the keys each one reads from `.env`.

This is SMBOS's only knowledge of integrations: a name and the keys it needs. Every `.env` value is
treated as a secret (`PLAIN_KEYS` below are the exceptions). The runtime does the integrating; SMBOS checks that the keys are there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class McpServer:
    """How the runtime starts an MCP server: `env` maps the server's variables to `.env` keys."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Pack:
    name: str
    description: str
    keys: tuple[str, ...]
    mcp: McpServer | None = None  # the default server; a `tools` entry may give another


INTEGRATIONS: dict[str, Pack] = {
    p.name: p
    for p in [
        Pack("calendar", "Google Calendar MCP server", ("GOOGLE_OAUTH_CREDENTIALS",),
             McpServer("npx", ("-y", "@cocal/google-calendar-mcp"),
                       (("GOOGLE_OAUTH_CREDENTIALS", "GOOGLE_OAUTH_CREDENTIALS"),))),
        Pack("notion", "Notion MCP server", ("NOTION_TOKEN",),
             McpServer("npx", ("-y", "@notionhq/notion-mcp-server"),
                       (("NOTION_TOKEN", "NOTION_TOKEN"),))),
        Pack("github", "GitHub MCP server", ("GITHUB_TOKEN",)),
        Pack("linear", "Linear MCP server", ("LINEAR_API_KEY",)),
        Pack("slack", "Slack MCP server", ("SLACK_BOT_TOKEN",)),
        Pack("stripe", "Stripe MCP server", ("STRIPE_API_KEY",)),
        Pack("brave-search", "Brave Search MCP server", ("BRAVE_API_KEY",)),
        Pack("google-analytics", "Google Analytics MCP server",
             ("GA_PROPERTY_ID", "GOOGLE_APPLICATION_CREDENTIALS")),
    ]
}

CHANNELS: dict[str, Pack] = {
    "telegram": Pack("telegram", "NanoClaw's Telegram channel", ("TELEGRAM_BOT_TOKEN",)),
}

# The runtime needs one of these, read from ./.env only.
CREDENTIAL_KEYS: tuple[str, ...] = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")

# Every `.env` value is a secret, shown masked, except the values of these keys (settings SMBOS
# knows to be names and switches) and of keys whose `.env.example` comment says "not secret".
PLAIN_KEYS: frozenset[str] = frozenset({
    "ASSISTANT_NAME",
    "ASSISTANT_HAS_OWN_NUMBER",
    "TELEGRAM_ONLY",
    "TELEGRAM_CLIENT",
})

# The core NanoClaw keys an operator sets per agent in `.env` (shown on the settings page).
CORE_ENV_KEYS: tuple[str, ...] = (
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "ASSISTANT_NAME",
    "ASSISTANT_HAS_OWN_NUMBER",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_ONLY",
    "TELEGRAM_CLIENT",
    "TELEGRAM_API_ID",
    "TELEGRAM_API_HASH",
)
