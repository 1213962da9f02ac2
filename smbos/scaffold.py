"""`smbos new` and `smbos init`: a new agent folder, or a new fleet repository, from built-in
templates (package data: `scaffolds/<template>/`, and `scaffolds/_fleet/` for a repository)."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from smbos import files, ports
from smbos.errors import CheckFailed, Problem, SmbosError
from smbos.ids import id_problem
from smbos.project import Project

if TYPE_CHECKING:  # the CLI lists the templates at start-up; the models and Jinja2 load on use
    from smbos.agent import Fleet

# Template file name -> path in the agent folder.
FILES = {
    "agent.md.j2": "agent.md",
    "config.yaml.j2": "config.yaml",
    "env.example.j2": ".env.example",
    "context.md.j2": "memory/context.md",
    "people.md.j2": "memory/people.md",
    "learnings.md.j2": "memory/learnings.md",
}
# A template's team/<member>.md.j2 files become the agent's team/<member>.md (smbos.team).
TEAM_TEMPLATES = "team"
PORTS = range(3101, 3200)


SCAFFOLDS = Path(__file__).parent / "scaffolds"  # package data, installed as files
# `smbos init`: the files of a fleet repository beside agents/, and its example agent.
FLEET = SCAFFOLDS / "_fleet"
FLEET_FILES = {"gitignore": ".gitignore", "README.md": "README.md"}
EXAMPLE = ("assistant", "basic", "Assistant", "A general assistant: the example agent")


def templates() -> list[str]:
    return sorted(p.name for p in SCAFFOLDS.iterdir() if p.is_dir() and not p.name.startswith("_"))


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port(fleet: Fleet) -> int:
    """The first port from 3101 that no agent uses and nothing on this machine listens on."""
    used = {a.port for a in fleet.agents}
    for port in PORTS:
        if port not in used and _port_is_free(port):
            return port
    raise SmbosError(
        f"no free port between {PORTS.start} and {PORTS.stop - 1}; give one with --port"
    )


def check_new(agents_dir: Path, agent_id: str, template: str) -> Path:
    """The folder `smbos new` would write; raises SmbosError for a bad id or template, or an id
    whose folder exists."""
    reason = id_problem(agent_id)
    if reason:
        raise SmbosError(f"{agents_dir}/{agent_id}: id: {reason}")
    if template not in templates():
        raise SmbosError(
            f"--template: unknown template {template!r}; expected one of: {', '.join(templates())}"
        )
    target = agents_dir / agent_id
    if target.exists() or target.is_symlink():
        raise SmbosError(f"{target}: already exists; choose another id")
    return target


def create(
    agents_dir: Path, agent_id: str, template: str, name: str, description: str, port: int
) -> Path:
    """Write `agents_dir/agent_id` from `template`; the folder appears whole or not at all."""
    import jinja2

    target = check_new(agents_dir, agent_id, template)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["yq"] = lambda value: json.dumps(str(value), ensure_ascii=False)
    source = SCAFFOLDS / template
    agents_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{agent_id}.", dir=agents_dir))
    try:
        files = dict(FILES)
        for member in sorted((source / TEAM_TEMPLATES).glob("*.md.j2")):
            files[f"{TEAM_TEMPLATES}/{member.name}"] = f"team/{member.name[:-3]}"
        for src_name, dest in files.items():
            text = env.from_string((source / src_name).read_text(encoding="utf-8")).render(
                id=agent_id, name=name, description=description, port=port
            )
            path = staging / dest
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def new_agent(
    project: Project, agent_id: str, template: str, name: str, description: str, port: int | None
) -> tuple[Path, int, list[Problem], Fleet]:
    """`smbos new`: choose a port (or check the one given), write the folder, validate it.
    Returns the folder, its port, the problems found in it and the fleet with it; a folder with
    errors is removed again (it would break every later `generate` and block the id for the next
    try).

    From choosing the port until the folder is there (or gone again), every other command that
    decides ports waits (`ports.locked`): eight `smbos new` at once get eight ports."""
    check_new(project.agents_dir, agent_id, template)  # a refused input takes no lock
    with ports.locked(project.agents_dir):
        fleet = project.load()
        if port is None:
            port = pick_port(fleet)
        elif any(a.port == port for a in fleet.agents):
            taken = next(a.id for a in fleet.agents if a.port == port)
            raise SmbosError(f"--port: {port} is already used by agent {taken!r}")
        folder = create(project.agents_dir, agent_id, template, name, description, port)
        after = project.load()
        mine = [p for p in after.errors if f"/{agent_id}/" in f"{p.path}/"]
        if any(p.is_error for p in mine):
            shutil.rmtree(folder, ignore_errors=True)
    return folder, port, mine, after


def init_fleet(root: Path, force: bool = False) -> list[str]:
    """`smbos init`: a fleet repository in `root` (made if missing): `agents/` with the example
    agent, a `.gitignore` of what SMBOS and the runtime write (added to an existing one, line by
    line) and a README (kept when there is one). A non-empty `agents/` is an existing fleet:
    refused unless `force`, and then only what is missing is added; no file is ever replaced.
    Returns one line per thing done."""
    agents = root / "agents"
    for path in (root, agents):
        if path.exists() and not path.is_dir():
            raise SmbosError(f"{path}: not a folder")
    if agents.is_dir() and any(agents.iterdir()) and not force:
        raise SmbosError(
            f"{agents}: already holds a fleet; `smbos init --force` adds only what "
            "is missing and never replaces a file"
        )
    agents.mkdir(parents=True, exist_ok=True)
    done = []
    agent_id, template, name, description = EXAMPLE
    if (agents / agent_id).exists() or (agents / agent_id).is_symlink():
        done.append(f"kept {agents / agent_id}/")
    else:
        folder, port, problems, _ = new_agent(
            Project.from_options(agents), agent_id, template, name, description, None
        )
        if problems:  # the bundled template does not validate here: nothing was created
            raise CheckFailed(f"{folder}: the example agent does not validate: {problems[0]}")
        done.append(f"created {folder}/ from template {template!r} on port {port}")
    for source, name in FLEET_FILES.items():
        done.append(_add_file(root / name, (FLEET / source).read_text(encoding="utf-8")))
    return done


def _add_file(target: Path, text: str) -> str:
    """Write `target`; a `.gitignore` that exists gets the lines it lacks, any other file that
    exists is kept."""
    if not target.exists():
        files.replace(target, text.encode("utf-8"))
        return f"wrote {target}"
    if target.name != ".gitignore":
        return f"kept {target}"
    have = target.read_text(encoding="utf-8")
    lines = set(have.splitlines())
    missing = [
        line
        for line in text.splitlines()
        if line and not line.startswith("#") and line not in lines
    ]
    if not missing:
        return f"kept {target} (it ignores what SMBOS writes)"
    text = (
        have
        + ("" if have.endswith("\n") or not have else "\n")
        + "# SMBOS: what it and the runtime write (smbos init)\n"
        + "".join(f"{line}\n" for line in missing)
    )
    files.replace(target, text.encode("utf-8"))
    return f"added {len(missing)} line(s) to {target}"
