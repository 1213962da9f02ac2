"""Names every command agrees on: the default image, Compose project and Compose file path.

Kept apart from `smbos.compose` so that the commands which only need a default (and `--version`)
do not pay for the Compose renderer, Jinja2 and the agent models at start-up.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_IMAGE = "smbos/nanoclaw:local"
DEFAULT_PROJECT = "smbos"
COMPOSE_FILE = Path("compose") / "docker-compose.yml"
