"""The two images a fleet runs on, built once for the whole fleet.

- The runtime image (`smbos/nanoclaw:local`): NanoClaw plus SMBOS's entrypoint, relay and
  container CLI, from `Dockerfile.nanoclaw`. Its build context is staged by every build in the
  project's `build/context/`, from this package's `image/` folder (the Dockerfile, its
  `.dockerignore`, the image's program files), so an installed `smbos` builds from any folder;
  the context is laid out as the SMBOS repository root, so the one Dockerfile builds from either
  (docs/decisions/018-installable-build-context.md).
- The per-turn agent image: NanoClaw's own `container/` image (its Dockerfile, built with the
  Docker engine), tagged from the source as `smbos/nanoclaw-agent:<hash>`, never the global
  `nanoclaw-agent:latest` that another checkout on the same engine may own. The runtime image
  records it (`CONTAINER_IMAGE` and the `io.smbos.agent-image` label), so each pair stays together.

Both are built from the same staged copy of the source (`smbos.nanoclaw.source`), with the runtime
patches applied (`smbos.nanoclaw.patches`) unless asked not to. An extra CA (`--ca-cert`) is trusted
by every build stage and at run time: corporate networks and TLS-intercepting proxies need it.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from smbos.errors import CheckFailed, SmbosError
from smbos.nanoclaw import patches as patches_mod
from smbos.nanoclaw import source as source_mod
from smbos.nanoclaw.interface import (  # noqa: F401 - re-exported
    LABEL_AGENT_IMAGE,
    LABEL_IMAGE,
    LABEL_MCP_PACKAGES,
    LABEL_PATCHES,
    LABEL_SOURCE,
)

DOCKERFILE = "Dockerfile.nanoclaw"
# The image's files as this package carries them: the Dockerfile and its `.dockerignore` are the
# repository root's (`image/Dockerfile.nanoclaw` and `image/dockerignore` link to them; a wheel
# holds their contents), beside the program files the Dockerfile copies into the image.
PACKAGE_IMAGE = Path(__file__).parent / "image"
PACKAGE_DOCKERIGNORE = "dockerignore"
# Under the project folder: the runtime image's build context, and the per-turn agent image's.
CONTEXT = Path("build") / "context"
AGENT_CONTEXT = Path("build") / "nanoclaw-agent"
# Inside the runtime image's context, as in the repository root: the program files, the extra CA
# (the staged source is at `source.STAGE_DIR`).
IMAGE_FILES = Path("smbos") / "nanoclaw" / "image"
CA_FILE = Path("build") / "smbos-ca.crt"
AGENT_REPO = "smbos/nanoclaw-agent"
CA_IN_IMAGE = "/etc/smbos/ca/smbos-ca.crt"

MCP_FAILED = "smbos: MCP server package failed to install:"


class BuildFailed(CheckFailed):
    """A build step failed; `lines` are that step's own output, to show above the message."""

    def __init__(self, message: str, lines: list[str]):
        super().__init__(message)
        self.lines = lines


@dataclass(frozen=True)
class BuildSpec:
    project_dir: Path  # every file a build makes goes under its build/
    tag: str
    source: source_mod.Source = field(default_factory=source_mod.Source.default)
    build_args: dict[str, str] = field(default_factory=dict)
    ca_cert: Path | None = None
    patches: bool = True
    agent_image: bool = True
    no_cache: bool = False
    # Pinned npm packages of the fleet's MCP servers, installed in the agent image (one layer).
    mcp_packages: tuple[str, ...] = ()

    @property
    def context(self) -> Path:
        """The runtime image's build context (laid out as the SMBOS repository root)."""
        return self.project_dir / CONTEXT


@dataclass
class BuildResult:
    image_id: str
    tag: str
    agent_tag: str
    source: str
    patches: patches_mod.Outcome


def image_exists(client, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def image_facts(client, tag: str) -> dict[str, str] | None:
    """The runtime image's record of itself (labels, CONTAINER_IMAGE), or None when missing."""
    try:
        attrs = client.images.get(tag).attrs
    except docker.errors.ImageNotFound:
        return None
    config = attrs.get("Config") or {}
    facts = dict(config.get("Labels") or {})
    for item in config.get("Env") or []:
        key, _, value = item.partition("=")
        if key == "CONTAINER_IMAGE":
            facts["CONTAINER_IMAGE"] = value
    return facts


def agent_image_of(client, runtime_image: str, override: str | None) -> str | None:
    """The per-turn image an agent's turns run: its `runtime.agent_image`, else the one its
    runtime image was built with (None when the runtime image is missing)."""
    if override:
        return override
    facts = image_facts(client, runtime_image)
    return None if facts is None else facts.get("CONTAINER_IMAGE")


def missing_agent_images(client, agents, default_image: str) -> list[tuple[str, str]]:
    """(agent id, image) for each agent whose per-turn agent image is not on the engine (agents
    whose turns run in Docker; `default_image`: the runtime image of agents that name none)."""
    missing = []
    for agent in agents:
        runtime = agent.config.runtime
        if runtime.container_isolation != "docker":
            continue
        wanted = agent_image_of(client, runtime.image or default_image, runtime.agent_image)
        if wanted and not image_exists(client, wanted):
            missing.append((agent.id, wanted))
    return missing


def _stage_files(spec: BuildSpec) -> None:
    """The Dockerfile, its .dockerignore and the image's program files, fresh from this package
    (a link followed: an editable install's Dockerfile is the repository root's)."""
    context = spec.context
    context.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PACKAGE_IMAGE / DOCKERFILE, context / DOCKERFILE)
    shutil.copyfile(PACKAGE_IMAGE / PACKAGE_DOCKERIGNORE, context / ".dockerignore")
    files = context / IMAGE_FILES
    # The whole `smbos/` folder of the context, so that no file of an earlier layout stays.
    top = context / IMAGE_FILES.parts[0]
    if top.exists():
        shutil.rmtree(top)
    shutil.copytree(
        PACKAGE_IMAGE, files, ignore=shutil.ignore_patterns("__pycache__", "node_modules")
    )


def _stage_ca(spec: BuildSpec) -> None:
    """build/smbos-ca.crt in the context: the extra CA, or absent (the Dockerfile copies it
    when present)."""
    target = spec.context / CA_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    if spec.ca_cert is None:
        return
    try:
        text = spec.ca_cert.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SmbosError(f"--ca-cert {spec.ca_cert}: cannot read it ({exc})") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise SmbosError(f"--ca-cert {spec.ca_cert}: not a PEM certificate file")
    target.write_text(text, encoding="ascii")


# After each FROM of NanoClaw's agent Dockerfile: the extra CA, trusted by Node (npm) and by
# what runs in the image. Lines are added, none changed.
_FROM = re.compile(r"^(FROM\s.+)$", re.MULTILINE | re.IGNORECASE)
_CA_LINES = "COPY smbos-ca.crt " + CA_IN_IMAGE + "\nENV NODE_EXTRA_CA_CERTS=" + CA_IN_IMAGE + "\n"


def _stage_agent_context(spec: BuildSpec, src: Path) -> Path:
    container = src / "container"
    if not (container / "Dockerfile").is_file():
        raise CheckFailed(
            f"{spec.source.describe()}: no container/Dockerfile (NanoClaw's per-turn "
            "agent image); build with --no-agent-image and set runtime.agent_image"
        )
    target = spec.project_dir / AGENT_CONTEXT
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(
        container,
        target,
        symlinks=True,
        ignore=lambda _d, names: [n for n in names if n in ("node_modules", "dist")],
    )
    ca = spec.context / CA_FILE
    dockerfile = target / "Dockerfile"
    if ca.is_file():
        shutil.copyfile(ca, target / "smbos-ca.crt")
        text = dockerfile.read_text(encoding="utf-8")
        dockerfile.write_text(
            _FROM.sub(lambda m: m.group(1) + "\n" + _CA_LINES.rstrip("\n"), text), encoding="utf-8"
        )
    if spec.mcp_packages:
        text = dockerfile.read_text(encoding="utf-8")
        dockerfile.write_text(
            text.rstrip("\n") + "\n" + mcp_layer(text, spec.mcp_packages), encoding="utf-8"
        )
    return target


_USER = re.compile(r"^USER\s+(\S+)\s*$", re.MULTILINE | re.IGNORECASE)


def mcp_layer(dockerfile: str, packages: tuple[str, ...]) -> str:
    """Lines added at the end of NanoClaw's agent Dockerfile: the MCP servers installed globally
    (one layer, as root), then the Dockerfile's own last user again. A package that does not
    install stops the build with a line naming it."""
    users = _USER.findall(dockerfile)
    installs = "; ".join(
        f"npm install -g --no-audit --no-fund --no-update-notifier {p} "
        f'|| {{ echo "{MCP_FAILED} {p}" >&2; exit 1; }}'
        for p in packages
    )
    return (
        "# SMBOS: the fleet's MCP servers, installed once (never downloaded in a turn)\n"
        "USER root\n"
        f"RUN set -e; {installs}; npm cache clean --force >/dev/null 2>&1 || true\n"
        f"USER {users[-1] if users else 'root'}\n"
    )


def failed_package(lines: list[str]) -> str | None:
    """The package named by an MCP layer's failure line, if the step's output has one."""
    for line in lines:
        # The echoed line itself (the engine colours stderr), not the step's command that holds
        # the same text.
        text = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
        if text.startswith(MCP_FAILED):
            return text[len(MCP_FAILED) :].strip()
    return None


def _agent_tag(agent_context: Path) -> str:
    return f"{AGENT_REPO}:{source_mod.tree_digest(agent_context)}"


def _stream(client, on_line: Callable[[str], None], what: str, **kwargs) -> str:
    """Run one engine build, streaming its lines; on failure raise BuildFailed with the
    failing step's own lines."""
    step: list[str] = []
    image_id = ""
    try:
        chunks: Iterator[dict] = client.api.build(rm=True, forcerm=True, decode=True, **kwargs)
        for chunk in chunks:
            if "error" in chunk:
                detail = " ".join(str(chunk["error"]).split())
                raise BuildFailed(f"{what} failed: {detail}", step[-40:])
            for line in chunk.get("stream", "").splitlines():
                if not line.strip():
                    continue
                if re.match(r"^Step \d+/\d+ :", line):
                    step = []
                step.append(line.rstrip())
                on_line(line.rstrip())
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
    except docker.errors.APIError as exc:
        raise BuildFailed(f"{what} failed: {exc.explanation or exc}", step[-40:]) from None
    return image_id


@dataclass
class Staged:
    """A source staged in the build context, patched, ready for the engine."""

    spec: BuildSpec
    folder: Path
    identity: str
    patches: patches_mod.Outcome


def prepare(spec: BuildSpec, on_phase: Callable[[str], None] = lambda _p: None) -> Staged:
    """Stage the source and apply the patches: everything that needs no engine, so a source
    SMBOS cannot serve is refused before any image is built."""
    on_phase(f"fetching NanoClaw from {spec.source.describe()}")
    src, identity = source_mod.stage(
        spec.source, spec.project_dir, spec.context / source_mod.STAGE_DIR
    )
    outcome = (
        patches_mod.apply(src)
        if spec.patches
        else patches_mod.Outcome(skipped={p.id: "--no-patches" for p in patches_mod.bundled()})
    )
    _stage_ca(spec)
    _stage_files(spec)
    return Staged(spec, src, identity, outcome)


def build(
    client,
    staged: Staged,
    on_line: Callable[[str], None] = lambda _l: None,
    on_phase: Callable[[str], None] = lambda _p: None,
) -> BuildResult:
    """Build the agent image, then the runtime image that records it."""
    spec = staged.spec
    build_args = dict(spec.build_args)
    build_args["NANOCLAW_SRC"] = source_mod.STAGE_DIR.as_posix()
    agent_tag = ""
    if spec.agent_image:
        agent_context = _stage_agent_context(spec, staged.folder)
        agent_tag = _agent_tag(agent_context)
        on_phase(
            f"building the per-turn agent image {agent_tag}"
            + (f" with MCP servers {', '.join(spec.mcp_packages)}" if spec.mcp_packages else "")
        )
        try:
            _stream(
                client,
                on_line,
                f"agent image build ({agent_tag})",
                path=str(agent_context),
                tag=agent_tag,
                nocache=spec.no_cache,
                labels={
                    LABEL_IMAGE: "nanoclaw-agent",
                    LABEL_SOURCE: spec.source.describe(),
                    LABEL_MCP_PACKAGES: ",".join(spec.mcp_packages),
                },
            )
        except BuildFailed as exc:
            package = failed_package(exc.lines)
            if package is None:
                raise
            raise BuildFailed(
                f"agent image build ({agent_tag}) failed: MCP server {package} "
                "could not be installed (check the package name and version in "
                "config.yaml, and the npm registry's reach)",
                exc.lines,
            ) from None
        build_args["AGENT_IMAGE"] = agent_tag
    labels = {
        LABEL_IMAGE: "nanoclaw",
        LABEL_SOURCE: f"{spec.source.describe()} ({staged.identity[:12]})",
        LABEL_PATCHES: staged.patches.label(),
        LABEL_AGENT_IMAGE: agent_tag or build_args.get("AGENT_IMAGE", ""),
    }
    on_phase(f"building the runtime image {spec.tag}")
    image_id = _stream(
        client,
        on_line,
        f"runtime image build ({spec.tag})",
        path=str(spec.context),
        dockerfile=DOCKERFILE,
        tag=spec.tag,
        buildargs=build_args,
        labels=labels,
        nocache=spec.no_cache,
    )
    return BuildResult(
        image_id=image_id or client.images.get(spec.tag).id,
        tag=spec.tag,
        agent_tag=agent_tag,
        source=labels[LABEL_SOURCE],
        patches=staged.patches,
    )
