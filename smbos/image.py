"""The runtime image: built once, from `Dockerfile.nanoclaw`, for the whole fleet.

NanoClaw comes from a local checkout (copied into `build/nanoclaw-src/` inside the build context,
so no named build context is needed) or from a git URL and ref (cloned in the build stage).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from smbos.errors import SmbosError

DOCKERFILE = "Dockerfile.nanoclaw"
LOCAL_SOURCE = Path("build") / "nanoclaw-src"
DEFAULT_GIT = "https://github.com/qwibitai/nanoclaw.git"
DEFAULT_REF = "main"
_SKIP = {".git", "node_modules", "dist", ".env", "store", "data", "groups"}


@dataclass(frozen=True)
class BuildSpec:
    context: Path
    tag: str
    source: Path | None = None
    git: str = DEFAULT_GIT
    ref: str = DEFAULT_REF
    build_args: dict[str, str] = field(default_factory=dict)

    def args(self) -> dict[str, str]:
        args = dict(self.build_args)
        if self.source is not None:
            args["NANOCLAW_SRC"] = LOCAL_SOURCE.as_posix()
        else:
            args["NANOCLAW_GIT"] = self.git
            args["NANOCLAW_REF"] = self.ref
        return args


def find_context(start: Path) -> Path:
    """The folder holding `Dockerfile.nanoclaw`: `start` or one of its parents."""
    for folder in [start.resolve(), *start.resolve().parents]:
        if (folder / DOCKERFILE).is_file():
            return folder
    raise SmbosError(f"{DOCKERFILE} not found in {start} or its parents; run from the SMBOS "
                     "checkout or give --context")


def stage_source(spec: BuildSpec) -> None:
    """Copy a local NanoClaw checkout into the build context (without .git, node_modules...)."""
    if spec.source is None:
        return
    source = spec.source.resolve()
    if not (source / "package.json").is_file():
        raise SmbosError(f"--source {spec.source}: not a NanoClaw checkout (no package.json)")
    target = spec.context / LOCAL_SOURCE
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, symlinks=True,
                    ignore=lambda _dir, names: [n for n in names if n in _SKIP])


def image_exists(client, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def build(client, spec: BuildSpec, on_line: Callable[[str], None] = lambda _l: None) -> str:
    """Build the image through the engine; stream its output to `on_line`; return the image id."""
    import docker.errors

    stage_source(spec)
    last_lines: list[str] = []
    image_id = ""
    try:
        stream: Iterator[dict] = client.api.build(
            path=str(spec.context), dockerfile=DOCKERFILE, tag=spec.tag, buildargs=spec.args(),
            rm=True, forcerm=True, decode=True, labels={"io.smbos.image": "nanoclaw"})
        for chunk in stream:
            if "error" in chunk:
                detail = " ".join(str(chunk["error"]).split())
                tail = " | ".join(last_lines[-3:])
                raise SmbosError(f"image build failed: {detail}" + (f" (last output: {tail})"
                                                                     if tail else ""), 1)
            text = chunk.get("stream", "")
            for line in text.splitlines():
                if line.strip():
                    last_lines = (last_lines + [line.strip()])[-20:]
                    on_line(line.rstrip())
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
    except docker.errors.APIError as exc:
        raise SmbosError(f"image build failed: {exc.explanation or exc}", 1) from None
    return image_id or client.images.get(spec.tag).id
