"""Compose rendering: from a validated `Fleet` to `compose/docker-compose.yml`.

The file is a Jinja2 template in which every value passes through the `q` filter, which writes a
YAML scalar that Compose reads back as exactly that value (quoted, `$` escaped as `$$`). Output is
a pure function of the fleet and the `Host`, so the same input gives the same bytes.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import jinja2

from smbos import __version__, files, runenv
from smbos.agent import Agent, Fleet
from smbos.defaults import COMPOSE_FILE, DEFAULT_IMAGE, DEFAULT_PROJECT  # noqa: F401 - re-exported
from smbos.errors import SmbosError
from smbos.nanoclaw.interface import (
    AGENT_MOUNT,
    CONTAINER_USER,
    HEALTHCHECK,
    LABEL_AGENT,
    LABEL_HASH,
    LABEL_PROJECT,
    RELAY_PORT,
    STORE_MOUNT,
)
from smbos.runenv import schedules_json  # noqa: F401 - re-exported

SOCKET_IN_CONTAINER = "/var/run/docker.sock"


@dataclass(frozen=True)
class Host:
    """What the Compose file needs to know about this machine."""

    project_dir: Path
    project_name: str = DEFAULT_PROJECT
    image: str = DEFAULT_IMAGE
    docker_socket: str = "/var/run/docker.sock"
    docker_gid: int | None = None

    @classmethod
    def detect(
        cls, project_dir: Path, project_name: str = DEFAULT_PROJECT, image: str = DEFAULT_IMAGE
    ) -> Host:
        """The engine socket named by DOCKER_HOST (or the default one) and its group."""
        socket = "/var/run/docker.sock"
        docker_host = os.environ.get("DOCKER_HOST", "")
        if docker_host.startswith("unix://"):
            socket = urlparse(docker_host).path or socket
        try:
            info = os.stat(socket)
            gid = info.st_gid if stat.S_ISSOCK(info.st_mode) else None
        except OSError:
            gid = None
        return cls(
            project_dir=project_dir.resolve(),
            project_name=project_name,
            image=image,
            docker_socket=socket,
            docker_gid=gid,
        )

    def state_dir(self, agent_id: str) -> Path:
        return self.project_dir / "state" / agent_id


# Written as escapes: the double quote and the backslash, line feed and tab by name (one
# `str.replace` each), and every other character outside YAML's printable set, with the line
# breaks and the byte order mark that other readers trip on (U+0085, U+2028, U+2029, U+FEFF), by
# one regular expression. Every code point above U+FFFF is printable, so `\uXXXX` is always
# enough. 10,000 agents are about 800,000 values: no loop per character.
_NAMED = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\t", "\\t"), ("$", "$$"))
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\ufeff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def quote(value: object) -> str:
    """A YAML scalar for `value` that Compose reads back unchanged (`$` written as `$$`)."""
    if type(value) is not str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return repr(value)
        value = str(value)
    for char, escaped in _NAMED:
        if char in value:
            value = value.replace(char, escaped)
    if _UNPRINTABLE.search(value) is not None:
        value = _UNPRINTABLE.sub(_escape, value)
    return f'"{value}"'


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """Jinja2 reads `s.id` as the attribute `id`, else the item `"id"`. The template's data are
    plain dicts, which have no attribute of that name: asking for it first costs an exception
    per value (a third of the render at 10,000 agents). For a plain dict, a name that is no
    dict attribute goes to the item at once, which is what Jinja2 would have found."""

    def getattr(self, obj: object, attribute: str) -> object:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


_env = _Environment(
    loader=jinja2.PackageLoader("smbos", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["q"] = quote
# Names shared with the image (smbos/nanoclaw/image/interface.json).
_env.globals.update(label_agent=LABEL_AGENT, healthcheck=["CMD", *HEALTHCHECK])


def service(agent: Agent, host: Host) -> dict:
    """The Compose service of one agent, as plain data (what the template writes)."""
    runtime = agent.config.runtime
    instance = host.state_dir(agent.id)
    memory = agent.memory_dir
    environment = runenv.environment(agent, host.project_name, instance)
    volumes = [
        {
            "type": "bind",
            "source": str(agent.folder),
            "target": AGENT_MOUNT,
            "read_only": True,
            "create_host_path": False,
        },
        {
            "type": "bind",
            "source": str(memory),
            "target": str(memory),
            "read_only": False,
            "create_host_path": False,
        },
        {
            "type": "bind",
            "source": str(instance),
            "target": str(instance),
            "read_only": False,
            "create_host_path": True,
        },
        {"type": "volume", "source": f"{agent.id}-store", "target": STORE_MOUNT},
    ]
    group_add = []
    if runtime.container_isolation == "docker":
        volumes.append(
            {
                "type": "bind",
                "source": host.docker_socket,
                "target": SOCKET_IN_CONTAINER,
                "read_only": False,
                "create_host_path": False,
            }
        )
        if host.docker_gid is not None:
            group_add.append(str(host.docker_gid))
    image = runtime.image or host.image
    return {
        "id": agent.id,
        "image": image,
        "pull_policy": "never" if image == host.image else "missing",
        "user": CONTAINER_USER,
        "environment": environment,
        "ports": [{"target": RELAY_PORT, "published": str(agent.port), "host_ip": "127.0.0.1"}],
        "volumes": volumes,
        "group_add": group_add,
        "resources": runtime.resources,
        "labels": {
            LABEL_AGENT: agent.id,
            LABEL_HASH: agent.config_hash(),
            LABEL_PROJECT: host.project_name,
        },
    }


def render(fleet: Fleet, host: Host) -> str:
    """The Compose file for every enabled agent of a fleet without errors."""
    if fleet.errors:
        raise ValueError("render needs a fleet without errors")
    services = [service(agent, host) for agent in fleet.enabled]
    return _env.get_template("docker-compose.yml.j2").render(
        version=__version__,
        project=host.project_name,
        source=fleet.display_root,
        services=services,
    )


# The first line of every Compose file SMBOS writes (templates/docker-compose.yml.j2).
HEADER = "# Generated by `smbos generate` "


def not_ours(path: Path) -> str:
    """Why `path` must not be replaced by a generated Compose file, "" when it may: it is
    absent, empty, or a Compose file SMBOS wrote (its first line is HEADER). `--file` can name
    any file, and `generate` and `up` would replace whatever is there."""
    try:
        with open(path, "rb") as file:
            head = file.read(4096)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return ""  # nothing there, or files.write_atomic says what is wrong with the path
    except OSError as exc:
        return f"cannot read it to see who wrote it ({(exc.strerror or str(exc)).lower()})"
    if not head.strip() or head.startswith(HEADER.encode()):
        return ""
    return f"not a Compose file SMBOS wrote (its first line is not {HEADER.strip()!r}...)"


def check_target(
    path: Path, force: bool = False, fix: str = "run `smbos generate --force` to replace it"
) -> None:
    """Raise SmbosError (exit 2) when `path` is a file SMBOS did not write and not `force`."""
    why = "" if force else not_ours(path)
    if why:
        raise SmbosError(f"{path}: {why}; nothing was written: choose another --file, or {fix}")


def write_atomic(path: Path, text: str, force: bool = False) -> None:
    """Replace the Compose file in one step (readers see the old file or the new, never half);
    a write that cannot happen leaves the old file and says why (files.write_atomic). A file
    SMBOS did not write is never replaced unless `force` (`smbos generate --force`)."""
    check_target(path, force)
    files.write_atomic(path, text, "the Compose file")


def diff(path: Path, text: str) -> list[str]:
    """Unified diff lines from the file on disk to `text` (empty when identical)."""
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = ""
    if current == text:
        return []
    return list(
        difflib.unified_diff(
            current.splitlines(),
            text.splitlines(),
            fromfile=f"{path} (on disk)",
            tofile=f"{path} (generated)",
            lineterm="",
        )
    )
