"""The README and the ADRs say what the code does: commands and their options, exit codes, make
targets, modules named."""

from __future__ import annotations

import re

import click
import pytest

from smbos import cli as cli_module
from smbos import errors
from smbos.cli import cli

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
PROJECT_OPTIONS = {"--agents", "--file", "--project-name", "-p", "--help", "-h"}


def _command_rows() -> dict[str, str]:
    """README command table: the first word(s) after `smbos` -> the whole row."""
    rows = {}
    for line in README.splitlines():
        match = re.match(r"^\| `smbos ([a-z]+(?:\\\|[a-z]+)*)[ `]", line)
        if match:
            for name in match.group(1).split("\\|"):
                rows[name] = line
    return rows


def _options(command: click.Command) -> list[set[str]]:
    """Each visible option's names (`-f`, `--follow`), project options left out."""
    return [set(param.opts) for param in command.params
            if isinstance(param, click.Option) and not param.hidden
            and not set(param.opts) & PROJECT_OPTIONS]


@pytest.mark.parametrize("name", sorted(set(cli.commands) - {"ps"}))
def test_every_command_and_option_is_in_the_readme_table(name):
    rows = _command_rows()
    assert name in rows, f"smbos {name} is not in the README's command table"
    usage = re.match(r"^\| (`[^`]*`)", rows[name]).group(1)
    written = set(re.findall(r"(?<![\w-])--?[a-z][a-z-]*", usage))
    options = _options(cli.commands[name])
    missing = [sorted(o) for o in options if not o & written]
    unknown = written - set().union(*options) if options else written
    assert not missing and not unknown, (f"smbos {name}: not in the README: {missing}; "
                                         f"no such option: {sorted(unknown)}")


def test_every_exit_code_is_documented():
    codes = {errors.EXIT_OK, errors.EXIT_CHECK_FAILED, errors.EXIT_INVALID_INPUT,
             errors.EXIT_ENGINE_UNREACHABLE, cli_module.EXIT_INTERNAL, 130}
    table = {int(m) for m in re.findall(r"^\| (\d+) \|", README, re.MULTILINE)}
    assert table == codes


def test_make_targets_exist_and_are_listed():
    makefile = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY: (.*)$", makefile, re.MULTILINE).group(1).split())
    rules = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    assert phony <= rules, f"phony without a rule: {sorted(phony - rules)}"
    listed = re.search(r"`make` targets: (.*?); `make help`", README, re.DOTALL).group(1)
    assert set(re.findall(r"`([a-z-]+)`", listed)) <= rules


def test_documented_modules_exist():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        for path in re.findall(r"(?<![\w/.])(smbos/[A-Za-z0-9_/]+\.(?:py|mjs|j2))", text):
            assert (ROOT / path).exists(), f"{doc.name} names {path}, which does not exist"


def test_readme_port_words_match_the_behaviour():
    assert "stable per id" not in README
    assert ".ports.json" in README
