"""What NanoClaw integrations and channels need: the keys each one reads from `.env`.

This is SMBOS's only knowledge of integrations: a name, the keys it needs, which of them are
secret. The runtime does the integrating; SMBOS checks that the keys are there.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    secret_keys: frozenset[str] = field(default_factory=frozenset)
    mcp: McpServer | None = None  # the default server; a `tools` entry may give another


INTEGRATIONS: dict[str, Pack] = {
    p.name: p
    for p in [
        Pack("calendar", "Google Calendar MCP server", ("GOOGLE_OAUTH_CREDENTIALS",),
             frozenset({"GOOGLE_OAUTH_CREDENTIALS"}),
             McpServer("npx", ("-y", "@cocal/google-calendar-mcp"),
                       (("GOOGLE_OAUTH_CREDENTIALS", "GOOGLE_OAUTH_CREDENTIALS"),))),
        Pack("notion", "Notion MCP server", ("NOTION_TOKEN",), frozenset({"NOTION_TOKEN"}),
             McpServer("npx", ("-y", "@notionhq/notion-mcp-server"),
                       (("NOTION_TOKEN", "NOTION_TOKEN"),))),
        Pack("github", "GitHub MCP server", ("GITHUB_TOKEN",), frozenset({"GITHUB_TOKEN"})),
        Pack("linear", "Linear MCP server", ("LINEAR_API_KEY",), frozenset({"LINEAR_API_KEY"})),
        Pack("slack", "Slack MCP server", ("SLACK_BOT_TOKEN",), frozenset({"SLACK_BOT_TOKEN"})),
        Pack("stripe", "Stripe MCP server", ("STRIPE_API_KEY",), frozenset({"STRIPE_API_KEY"})),
        Pack("brave-search", "Brave Search MCP server", ("BRAVE_API_KEY",),
             frozenset({"BRAVE_API_KEY"})),
        Pack("google-analytics", "Google Analytics MCP server",
             ("GA_PROPERTY_ID", "GOOGLE_APPLICATION_CREDENTIALS"),
             frozenset({"GOOGLE_APPLICATION_CREDENTIALS"})),
    ]
}

CHANNELS: dict[str, Pack] = {
    "telegram": Pack("telegram", "NanoClaw's Telegram channel", ("TELEGRAM_BOT_TOKEN",),
                     frozenset({"TELEGRAM_BOT_TOKEN"})),
}

# The runtime needs one of these, read from ./.env only.
CREDENTIAL_KEYS: tuple[str, ...] = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")

# Keys whose values are masked wherever they are shown (runtime-contract.md, section 2).
CORE_SECRET_KEYS: frozenset[str] = frozenset({
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "ANTHROPIC_AUTH_TOKEN",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_HASH",
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


def secret_keys(integrations: list[str] = (), channels: list[str] = ()) -> frozenset[str]:
    """Every key whose value must be masked for an agent with these packs."""
    keys = set(CORE_SECRET_KEYS)
    for name in integrations:
        if name in INTEGRATIONS:
            keys |= INTEGRATIONS[name].secret_keys
    for name in channels:
        if name in CHANNELS:
            keys |= CHANNELS[name].secret_keys
    return frozenset(keys)


def is_secret_key(key: str, extra: frozenset[str] = frozenset()) -> bool:
    """Secret by list, or by a name that says so (TOKEN, SECRET, KEY, PASSWORD...)."""
    if key in CORE_SECRET_KEYS or key in extra:
        return True
    upper = key.upper()
    return any(word in upper for word in ("TOKEN", "SECRET", "PASSWORD", "API_KEY", "HASH",
                                          "CREDENTIALS", "PRIVATE"))
