"""The package as today's build backends want it and as an installed smbos needs it: `pip wheel .`
prints no deprecation warning (setuptools refuses a licence table in builds after 2027-02-18),
and the wheel holds every file the package reads (tests/test_wheel.py installs and runs it)."""

from __future__ import annotations

import glob
import re
import tomllib
from pathlib import Path

from .conftest import ROOT


def test_license_is_an_spdx_string_and_setuptools_can_read_it() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["license"] == "MIT"
    # An SPDX string in `license` needs setuptools 77 or later.
    [setuptools] = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    match = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", setuptools)
    assert match and int(match.group(1)) >= 77, setuptools


def _package_data_patterns() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return data["tool"]["setuptools"]["package-data"]["smbos"]


def test_package_data_holds_every_file_of_the_package() -> None:
    """Every file under smbos/ that is not Python is package data, as setuptools reads the
    patterns (recursive globs; a name starting with a dot matches no `*`), so an installed
    smbos has everything `smbos build`, `new`, `init` and the UI read."""
    matched = {
        Path(path)
        for pattern in _package_data_patterns()
        for path in glob.glob(str(ROOT / "smbos" / pattern), recursive=True)
    }
    data = [
        path
        for path in (ROOT / "smbos").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    ]
    missing = [str(path.relative_to(ROOT)) for path in data if path not in matched]
    assert not missing, (
        f"not package data (pyproject.toml [tool.setuptools.package-data]): {missing}"
    )
    for needed in (
        "nanoclaw/image/Dockerfile.nanoclaw",
        "nanoclaw/image/dockerignore",
        "nanoclaw/image/entrypoint.mjs",
        "scaffolds/_fleet/gitignore",
        "nanoclaw/patches/001-web-chat-row.patch",
    ):
        assert (ROOT / "smbos" / needed).is_file(), needed


def test_the_packaged_dockerfile_and_dockerignore_are_the_repository_roots() -> None:
    """One file each (ADR 018): the package's copies link to the root's, which the project's
    layout names and the stand-in build uses; a wheel carries their contents."""
    image = ROOT / "smbos" / "nanoclaw" / "image"
    assert (image / "Dockerfile.nanoclaw").samefile(ROOT / "Dockerfile.nanoclaw")
    assert (image / "dockerignore").samefile(ROOT / ".dockerignore")
