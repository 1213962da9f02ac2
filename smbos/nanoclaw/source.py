"""Where NanoClaw comes from, and whether SMBOS can serve it.

A source is a git URL at a ref (with the sub-folder that holds NanoClaw), a local folder, or a
tarball. `stage()` puts a plain copy of it in the runtime image's build context
(`smbos.nanoclaw.image`), where the runtime patches are applied and from which both images are
built; `inspect()` reads what the copy is (which container CLI it calls, which web API routes it
serves) and refuses, in one line, a source SMBOS cannot run: one without `package-lock.json`
(upstream v2 is pnpm-only) or without the web API (upstream v1 and v2 have none).

The default is the SMBOS fork of NanoClaw at a pinned commit: the newest one the real-runtime
tests pass on.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from smbos.errors import CheckFailed, SmbosError

DEFAULT_GIT = "https://github.com/agenticevangelist/smbos.git"
DEFAULT_REF = "fd6e44d5c3515312a933313f86c41ac5b4ac6ac2"
DEFAULT_SUBDIR = "nanoclaw"

STAGE_DIR = Path("build") / "nanoclaw-src"
GIT_CACHE = Path("build") / "nanoclaw-git"
UNPACK_DIR = Path("build") / "nanoclaw-unpack"

# Never copied into the build context: VCS data, build output, and an instance's own state.
_SKIP = {".git", "node_modules", "dist", ".env", "store", "data", "logs"}
_TARBALL = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tar\.xz)$")


@dataclass(frozen=True)
class Source:
    """A NanoClaw source: `git` (url, ref, subdir), `dir` (path, subdir) or `tarball`."""

    kind: str
    location: str
    ref: str = ""
    subdir: str = ""

    @classmethod
    def default(cls) -> Source:
        return cls("git", DEFAULT_GIT, DEFAULT_REF, DEFAULT_SUBDIR)

    @classmethod
    def git(cls, url: str, ref: str | None = None, subdir: str | None = None) -> Source:
        if url == DEFAULT_GIT:
            return cls("git", url, ref or DEFAULT_REF, DEFAULT_SUBDIR if subdir is None else subdir)
        return cls("git", url, ref or "main", subdir or "")

    @classmethod
    def local(cls, path: str | Path, subdir: str | None = None) -> Source:
        text = str(path)
        kind = "tarball" if _TARBALL.search(text) else "dir"
        return cls(kind, text, "", subdir or "")

    @classmethod
    def parse(cls, text: str) -> Source:
        """`URL#REF:SUBDIR` (ref and subdir optional), a folder, or a tarball."""
        if re.match(r"^[a-z][a-z0-9+.-]*://", text) or text.startswith("git@"):
            url, _, rest = text.partition("#")
            ref, _, subdir = rest.partition(":")
            return cls.git(url, ref or None, subdir or None)
        folder, sep, subdir = text.partition(":") if not Path(text).exists() else (text, "", "")
        return cls.local(folder, subdir if sep else None)

    def describe(self) -> str:
        if self.kind == "git":
            return f"{self.location} at {self.ref[:12]}" + (
                f", folder {self.subdir}" if self.subdir else ""
            )
        return f"{'tarball' if self.kind == 'tarball' else 'local checkout'} {self.location}" + (
            f", folder {self.subdir}" if self.subdir else ""
        )


@dataclass(frozen=True)
class Variant:
    """What a NanoClaw copy is, read from its files (never from a commit id)."""

    routes: tuple[str, ...]
    container_cli: str
    lockfile: bool
    commit: str = ""

    @property
    def web_api(self) -> bool:
        return "chat" in self.routes and "health" in self.routes


_ROUTES = {
    "health": "/api/health",
    "state": "/api/state",
    "tasks": "/api/tasks",
    "messages": "/api/messages",
    "chat": "/api/chat",
}


def inspect(folder: Path, what: str = "") -> Variant:
    """Read a NanoClaw copy; raise a one-line error when SMBOS cannot serve it."""
    what = what or str(folder)
    if not (folder / "package.json").is_file():
        raise SmbosError(
            f"{what}: not a NanoClaw source (no package.json); give the folder that "
            "holds NanoClaw's package.json (--subdir for a sub-folder)"
        )
    server = folder / "src" / "http-server.ts"
    text = server.read_text(encoding="utf-8", errors="replace") if server.is_file() else ""
    routes = tuple(name for name, path in _ROUTES.items() if f"'{path}'" in text)
    runner = folder / "src" / "container-runner.ts"
    runner_text = runner.read_text(encoding="utf-8", errors="replace") if runner.is_file() else ""
    cli = "container" if re.search(r"spawn\(\s*'container'", runner_text) else "docker"
    variant = Variant(
        routes=routes, container_cli=cli, lockfile=(folder / "package-lock.json").is_file()
    )
    if not variant.lockfile:
        raise CheckFailed(
            f"{what}: no package-lock.json (NanoClaw v2 is pnpm-only): SMBOS builds NanoClaw with "
            "npm ci and drives its web API; build the SMBOS fork instead (the default of "
            "`smbos build`)"
        )
    if not variant.web_api:
        raise CheckFailed(
            f"{what}: no web API (src/http-server.ts with /api/health and /api/chat; upstream "
            "NanoClaw v1 and v2 have none): SMBOS drives NanoClaw over that API; build the SMBOS "
            "fork instead (the default of `smbos build`)"
        )
    return variant


def _run(args: list[str], cwd: Path | None = None, what: str = "") -> str:
    try:
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=900)
    except FileNotFoundError:
        raise CheckFailed(
            f"{args[0]} not found: install it, or build from a local checkout with --source"
        ) from None
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"{what or ' '.join(args)}: timed out") from None
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        raise CheckFailed(f"{what or ' '.join(args)} failed: {lines[-1] if lines else 'no output'}")
    return proc.stdout.strip()


def _fetch_git(source: Source, work: Path) -> tuple[Path, str]:
    """A clone of the git source at its ref, kept in build/nanoclaw-git/ between builds."""
    key = hashlib.sha256(source.location.encode()).hexdigest()[:12]
    repo = work / GIT_CACHE / key
    what = f"git: fetching {source.location} at {source.ref}"
    if not (repo / ".git").is_dir():
        repo.mkdir(parents=True, exist_ok=True)
        _run(["git", "init", "-q", str(repo)], what=what)
        _run(["git", "remote", "add", "origin", source.location], cwd=repo, what=what)
    try:
        _run(["git", "fetch", "-q", "--depth", "1", "origin", source.ref], cwd=repo, what=what)
    except SmbosError:
        # Servers that refuse a fetch by commit id: fetch the branches and tags instead.
        _run(
            [
                "git",
                "fetch",
                "-q",
                "origin",
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            ],
            cwd=repo,
            what=what,
        )
        _run(["git", "checkout", "-q", "--detach", source.ref], cwd=repo, what=what)
    else:
        _run(["git", "checkout", "-q", "--detach", "FETCH_HEAD"], cwd=repo, what=what)
    commit = _run(["git", "rev-parse", "HEAD"], cwd=repo, what=what)
    return repo, commit


def _unpack(source: Source, work: Path) -> Path:
    archive = Path(source.location).expanduser()
    if not archive.is_file():
        raise SmbosError(f"--source {source.location}: no such file")
    target = work / UNPACK_DIR
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise SmbosError(f"--source {source.location}: not a readable tarball ({exc})") from None
    return target


def _root_of(folder: Path, subdir: str, what: str) -> Path:
    """The folder with package.json: `subdir` if given, else the top or its single folder."""
    if subdir:
        root = folder / subdir
        if not root.is_dir():
            raise SmbosError(f"{what}: no folder {subdir!r} in it")
        return root
    if (folder / "package.json").is_file():
        return folder
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / "package.json").is_file():
        return entries[0]
    return folder


def stage(source: Source, work: Path, into: Path | None = None) -> tuple[Path, str]:
    """Copy the source into `into` (default `work/build/nanoclaw-src`), fetching or unpacking it
    under `work/build/` first; return that folder and an identity (the git commit, or a hash of
    the files for a folder or tarball)."""
    commit = ""
    if source.kind == "git":
        folder, commit = _fetch_git(source, work)
    elif source.kind == "tarball":
        folder = _unpack(source, work)
    else:
        folder = Path(source.location).expanduser()
        if not folder.is_dir():
            raise SmbosError(f"--source {source.location}: no such folder")
    root = _root_of(folder.resolve(), source.subdir, source.describe())
    inspect(root, source.describe())
    target = into or work / STAGE_DIR
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(
        root, target, symlinks=True, ignore=lambda _dir, names: [n for n in names if n in _SKIP]
    )
    return target, commit or tree_digest(target)


def tree_digest(folder: Path) -> str:
    """A short hash of every file's path and content under `folder`."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
