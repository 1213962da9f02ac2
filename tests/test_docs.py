"""The README and the ADRs say what the code does: commands and their options, exit codes, make
targets, modules named."""

from __future__ import annotations

import re

import click
import pytest

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
    return [
        set(param.opts)
        for param in command.params
        if isinstance(param, click.Option)
        and not param.hidden
        and not set(param.opts) & PROJECT_OPTIONS
    ]


@pytest.mark.parametrize("name", sorted(set(cli.commands) - {"ps"}))
def test_every_command_and_option_is_in_the_readme_table(name):
    rows = _command_rows()
    assert name in rows, f"smbos {name} is not in the README's command table"
    usage = re.match(r"^\| (`[^`]*`)", rows[name]).group(1)
    written = set(re.findall(r"(?<![\w-])--?[a-z][a-z-]*", usage))
    options = _options(cli.commands[name])
    missing = [sorted(o) for o in options if not o & written]
    unknown = written - set().union(*options) if options else written
    assert not missing and not unknown, (
        f"smbos {name}: not in the README: {missing}; no such option: {sorted(unknown)}"
    )


def test_every_exit_code_is_documented():
    codes = {
        errors.EXIT_OK,
        errors.EXIT_CHECK_FAILED,
        errors.EXIT_INVALID_INPUT,
        errors.EXIT_ENGINE_UNREACHABLE,
        errors.EXIT_INTERNAL,
        errors.EXIT_INTERRUPTED,
    }
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


DECISIONS = sorted((ROOT / "docs" / "decisions").glob("*.md"))


@pytest.mark.parametrize("adr", DECISIONS, ids=lambda p: p.name[:3])
def test_every_decision_has_a_status_and_its_consequences(adr):
    text = adr.read_text(encoding="utf-8")
    assert re.match(r"# \d{3}: ", text), f"{adr.name}: the title is `# NNN: what was decided`"
    assert text.startswith(f"# {adr.name[:3]}: "), f"{adr.name}: the title's number is the file's"
    assert re.search(r"^Status: (accepted|superseded by \d{3}|proposed)\b", text, re.MULTILINE), (
        f"{adr.name}: no `Status:` line"
    )
    assert re.search(r"^Consequences:", text, re.MULTILINE), f"{adr.name}: no `Consequences:`"


def test_decision_numbers_are_unique():
    numbers = [p.name[:3] for p in DECISIONS]
    assert len(numbers) == len(set(numbers)), numbers


# Paths of this repository that a document may name (generated and per-machine files, such as
# compose/docker-compose.yml or state/, are not checked: a clean checkout has none).
REPO_PATH = re.compile(
    r"`((?:smbos|tests|bench|docs|agents)/[A-Za-z0-9_./-]+|Dockerfile\.nanoclaw"
    r"|Makefile|pyproject\.toml|\.ci/run)`"
)


def test_every_path_a_document_names_exists():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for path in REPO_PATH.findall(doc.read_text(encoding="utf-8")):
            if (
                any(ch in path for ch in "<>*")
                or path.startswith("agents/")
                and path.count("/") < 2
            ):
                continue  # a pattern (`agents/<id>/`), not a path
            assert (ROOT / path.rstrip("/")).exists(), f"{doc.relative_to(ROOT)} names {path}"


def _config_keys(model, prefix: str = "") -> list[str]:
    """Every key `config.yaml` accepts, nested models followed (`runtime.resources.cpus`)."""
    from smbos.schema import _Model

    keys = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        keys.append(f"{prefix}{key}")
        annotation = info.annotation
        nested = [
            a
            for a in (getattr(annotation, "__args__", None) or (annotation,))
            if isinstance(a, type) and issubclass(a, _Model)
        ]
        for sub in nested:
            keys += _config_keys(sub, f"{prefix}{key}.")
    return keys


def test_every_config_key_is_in_the_schema_document():
    from smbos.schema import AgentConfig

    text = (ROOT / "docs" / "agent-schema.md").read_text(encoding="utf-8")
    missing = [
        key
        for key in _config_keys(AgentConfig)
        if not re.search(rf"(?<![\w-]){re.escape(key.rpartition('.')[2])}\s*:", text)
    ]
    assert not missing, f"docs/agent-schema.md does not show: {missing}"
