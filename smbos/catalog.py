"""What NanoClaw integrations and channels need: the keys each one reads from `.env`.

This is SMBOS's only knowledge of integrations: a name and the keys it needs. Every `.env` value is
treated as a secret (`PLAIN_KEYS` below are the exceptions). The runtime does the integrating;
SMBOS checks that the keys are there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class McpServer:
    """How the runtime starts an MCP server: `env` maps the server's variables to `.env` keys,
    `values` sets variables to fixed values (where a credential file is in a per-turn container).
    `package` is the pinned npm package that `smbos build` installs in the per-turn agent image
    and that provides `command`."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    values: tuple[tuple[str, str], ...] = ()
    package: str = ""


@dataclass(frozen=True)
class CredentialFile:
    """A file an integration's server reads from its credentials folder."""

    name: str
    what: str
    how: str  # where the operator gets it


@dataclass(frozen=True)
class Credentials:
    """The folder of an integration's files: in the agent folder (`credentials/<name>/` unless
    config.yaml says otherwise), mounted into every per-turn container at `target`, writable
    when the server writes there (token refresh)."""

    files: tuple[CredentialFile, ...]
    target: str
    writable: bool = False


@dataclass(frozen=True)
class Pack:
    name: str
    description: str
    keys: tuple[str, ...]
    mcp: McpServer | None = None  # the default server; a `tools` entry may give another
    credentials: Credentials | None = None


# Google Calendar: the server's own default folder for its token (~/.config/google-calendar-mcp
# of the per-turn image's user), which also holds the OAuth client file.
CALENDAR_DIR = "/home/node/.config/google-calendar-mcp"


INTEGRATIONS: dict[str, Pack] = {
    p.name: p
    for p in [
        Pack(
            "calendar",
            "Google Calendar MCP server",
            (),
            McpServer(
                "google-calendar-mcp",
                values=(
                    ("GOOGLE_OAUTH_CREDENTIALS", f"{CALENDAR_DIR}/gcp-oauth.keys.json"),
                    ("GOOGLE_CALENDAR_MCP_TOKEN_PATH", f"{CALENDAR_DIR}/tokens.json"),
                ),
                package="@cocal/google-calendar-mcp@2.6.3",
            ),
            Credentials(
                (
                    CredentialFile(
                        "gcp-oauth.keys.json",
                        "the OAuth client",
                        "Google Cloud Console, OAuth client ID (Desktop app)",
                    ),
                    CredentialFile(
                        "tokens.json", "the OAuth token", "the server's one-time `auth` run"
                    ),
                ),
                CALENDAR_DIR,
                writable=True,
            ),
        ),
        Pack(
            "notion",
            "Notion MCP server",
            ("NOTION_TOKEN",),
            McpServer(
                "notion-mcp-server",
                env=(("NOTION_TOKEN", "NOTION_TOKEN"),),
                package="@notionhq/notion-mcp-server@2.5.2",
            ),
        ),
        Pack("github", "GitHub MCP server", ("GITHUB_TOKEN",)),
        Pack("linear", "Linear MCP server", ("LINEAR_API_KEY",)),
        Pack("slack", "Slack MCP server", ("SLACK_BOT_TOKEN",)),
        Pack("stripe", "Stripe MCP server", ("STRIPE_API_KEY",)),
        Pack("brave-search", "Brave Search MCP server", ("BRAVE_API_KEY",)),
        Pack(
            "google-analytics",
            "Google Analytics MCP server",
            ("GA_PROPERTY_ID", "GOOGLE_APPLICATION_CREDENTIALS"),
        ),
    ]
}

CHANNELS: dict[str, Pack] = {
    "telegram": Pack("telegram", "NanoClaw's Telegram channel", ("TELEGRAM_BOT_TOKEN",)),
}


def key_owners() -> dict[str, tuple[str, ...]]:
    """Every key an integration or a channel reads, with what reads it ("integration notion",
    "channel telegram"): such a key is needed only while one of those is on."""
    owners: dict[str, tuple[str, ...]] = {}
    for kind, packs in (("channel", CHANNELS), ("integration", INTEGRATIONS)):
        for pack in packs.values():
            for key in pack.keys:
                owners[key] = (*owners.get(key, ()), f"{kind} {pack.name}")
    return owners


# The runtime needs one of these, read from ./.env only.
CREDENTIAL_KEYS: tuple[str, ...] = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")

# Every `.env` value is a secret, shown masked, except the values of these keys (settings SMBOS
# knows to be names and switches) and of keys `.env.example` marks `# not secret`
# (envfile.NOT_SECRET).
PLAIN_KEYS: frozenset[str] = frozenset(
    {
        "ASSISTANT_NAME",
        "ASSISTANT_HAS_OWN_NUMBER",
        "TELEGRAM_ONLY",
        "TELEGRAM_CLIENT",
    }
)

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
