"""A project: the agents folder, the Compose file derived from it, and the Compose project name.

The CLI and the web UI both start from here, so they agree on where things are.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from smbos import defaults, ports
from smbos.errors import InvalidInput, SmbosError
from smbos.files import display_path

if TYPE_CHECKING:  # the agent models and the Compose renderer load on first use, not at start-up
    from smbos import compose
    from smbos.agent import Fleet

PROJECT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Project:
    agents_dir: Path
    compose_file: Path
    name: str = defaults.DEFAULT_PROJECT
    image: str = defaults.DEFAULT_IMAGE

    @classmethod
    def from_options(
        cls,
        agents: str | os.PathLike | None = None,
        compose_file: str | os.PathLike | None = None,
        name: str | None = None,
        image: str | None = None,
    ) -> Project:
        agents_dir = Path(agents or os.environ.get("SMBOS_AGENTS") or "agents")
        if compose_file is None:
            compose_file = agents_dir.absolute().parent / defaults.COMPOSE_FILE
        name = name or os.environ.get("SMBOS_PROJECT") or defaults.DEFAULT_PROJECT
        if not PROJECT_NAME_RE.match(name) or "nanoclaw" in name:
            raise SmbosError(
                f"--project-name: {name!r} is not valid; expected lowercase letters, "
                "digits, '-' and '_' (and never 'nanoclaw')"
            )
        image = image or os.environ.get("SMBOS_IMAGE") or defaults.DEFAULT_IMAGE
        return cls(agents_dir=agents_dir, compose_file=Path(compose_file), name=name, image=image)

    @property
    def project_dir(self) -> Path:
        return self.agents_dir.absolute().parent

    @property
    def state_root(self) -> Path:
        """`state/` beside the agents folder: each agent's instance folder, the UI token, the
        heal log (docs/container-interface.md)."""
        return self.project_dir / "state"

    def state_dir(self, agent_id: str) -> Path:
        """The agent's instance folder, NanoClaw's working directory."""
        return self.state_root / agent_id

    @property
    def compose_display(self) -> str:
        return display_path(self.compose_file)

    def load_valid(self, strict_env: bool = False, say=None) -> Fleet:
        """The fleet; raises InvalidInput on any error, and tells `say` how many warnings."""
        fleet = self.load(strict_env=strict_env)
        if fleet.errors:
            raise InvalidInput(sorted(fleet.problems, key=lambda p: (p.path, p.field)))
        if fleet.warnings and say is not None:
            say(
                f"warning: {len(fleet.warnings)} warning(s) in {fleet.display_root}/; "
                "`smbos validate` lists them"
            )
        return fleet

    def load(self, strict_env: bool = False) -> Fleet:
        from smbos.loader import load_fleet

        return load_fleet(self.agents_dir, strict_env=strict_env)

    def host(self) -> compose.Host:
        from smbos import compose

        return compose.Host.detect(self.project_dir, self.name, self.image)

    def render(self, fleet: Fleet) -> str:
        from smbos import compose

        return compose.render(fleet, self.host())

    def record_ports(self, fleet: Fleet) -> None:
        """Record the ports assigned to agents without `port:` (agents/.ports.json), so they stay
        theirs: called by the commands that make ports real (generate, up)."""
        if fleet.port_record != fleet.recorded_ports:
            ports.save_record(fleet.ports_file, fleet.recorded_ports, fleet.port_record)
