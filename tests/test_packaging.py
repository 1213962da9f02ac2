"""The package metadata as today's build backends want it: `pip wheel .` prints no deprecation
warning (setuptools refuses a licence table in builds after 2027-02-18)."""

from __future__ import annotations

import re
import tomllib

from .conftest import ROOT


def test_license_is_an_spdx_string_and_setuptools_can_read_it() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["license"] == "MIT"
    # An SPDX string in `license` needs setuptools 77 or later.
    [setuptools] = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    match = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", setuptools)
    assert match and int(match.group(1)) >= 77, setuptools
