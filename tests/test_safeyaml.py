"""smbos.safeyaml: libyaml's parser reads the texts when PyYAML has it, and what comes out (the
data, every problem with its line and column) is what the pure-Python reader gives."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smbos import safeyaml
from smbos.errors import Problem

from .test_properties import ODD_YAML_SNIPPETS

needs_libyaml = pytest.mark.skipif(not safeyaml.FAST, reason="PyYAML without libyaml")

# Pieces of YAML syntax, so that random texts are mostly near-YAML rather than plain words.
PIECES = [
    "a",
    "b",
    "name",
    "port",
    ": ",
    ":",
    "- ",
    "-",
    "\n",
    "  ",
    " ",
    "\t",
    "{",
    "}",
    "[",
    "]",
    ", ",
    ",",
    "? ",
    "&x ",
    "*x",
    "&",
    "*",
    "!!int ",
    "!!str ",
    "!!map ",
    "!!seq ",
    "!!float ",
    "!!bool ",
    "!!timestamp ",
    "!!binary ",
    "!x ",
    "!<tag:yaml.org,2002:str> ",
    "'",
    '"',
    "''",
    "# c",
    " #",
    "|",
    "|-",
    ">",
    ">+",
    "---",
    "...",
    "--- ",
    "%YAML 1.1\n",
    "%TAG ! !x\n",
    "\\",
    "\\u00e9",
    "\\x41",
    "\u2028",
    "\u2029",
    "\x85",
    "\ufeff",
    "\r",
    "\r\n",
    "é",
    "𝄞",
    "1",
    "-1",
    "0x1F",
    "0o17",
    "1_000",
    "1e3",
    ".inf",
    ".nan",
    "190:20:30",
    "~",
    "null",
    "yes",
    "No",
    "2099-01-01",
    "2099-01-01T09:00:00",
    "2027-13-01",
    "<<: ",
    "=",
    "@",
    "`",
    "%",
    "\x00",
    "\x1b",
    "\ud800",
    "\ufffe",
    '"a":1',
    '{"a":1}',
    "[a:1]",
    "\n  ",
    "\n    ",
    "\n- ",
    "\n  - ",
    "- - ",
    "%YAML 1.2\n",
    "%YAML 1.3\n",
    "%YAML 2.0\n",
    "%FOO bar\n",
    "! ",
    "!a!b ",
    "!!null ",
    "|2",
    ">-",
    "|1#",
    " # c\n",
    "http://x",
    "a:b",
    "key: value\n",
    "? a\n: b\n",
    "'a''b'",
    '"a\\"b"',
    "\\\n",
    "*x : 1",
    "! 12",
    "! '1'",
    "!",
    "! [1]",
    "! {a: 1}",
]
NEAR_YAML = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


# How a text may be read: by the reference alone, libyaml's events composed in Python, or libyaml
# composing too (each mode also takes what the modes before it take).
MODES = {"reference": (False, False), "events": (True, False), "composed": (True, True)}


def _read(
    text: str, mode: str, monkeypatch: pytest.MonkeyPatch, first_line: int = 1
) -> tuple[str, list[Problem]]:
    fast, composed = MODES[mode]
    monkeypatch.setattr(safeyaml, "FAST", fast)
    monkeypatch.setattr(safeyaml, "C_COMPOSER", composed and safeyaml.C_COMPOSER)
    problems: list[Problem] = []
    data = safeyaml.load_yaml(
        text, "agents/andy/config.yaml", problems, "front matter", first_line=first_line
    )
    return repr(data), problems  # repr: NaN is not equal to itself


def _same_either_way(text: str, monkeypatch: pytest.MonkeyPatch, first_line: int = 1) -> None:
    reference = _read(text, "reference", monkeypatch, first_line)
    assert _read(text, "events", monkeypatch, first_line) == reference, text
    assert _read(text, "composed", monkeypatch, first_line) == reference, text


@needs_libyaml
@pytest.mark.parametrize(
    "text",
    [
        *ODD_YAML_SNIPPETS,
        "name: Andy\nname: Bea\n",
        "runtime:\n  timezone: UTC\n  timezone: UTC\n",
        "schedules:\n- id: a\n  id: b\n",
        "name: R&D\ndescription: '*'\n",
        "name: [R&D, *]\n",
        "name: 'R & D'\nrank: &r 1\n",
        "{a: 1, b: &x 2}\n",
        "{ä€𝄞: 1, b: &x 2}\n",
        "name: a\n  bad indent: 1\n",
        "name: 'unterminated\n",
        "a: b: c\n",
        "\tname: x\n",
        "- a\nb: c\n",
        "name: x\n---\nname: y\n",
        "%YAML 2.0\n---\nname: x\n",
        "[" * 2000,
        "name: x\x07\n",
        "é: \u2028\n",
        "a: \x85b\n",
        "a: 'b\u2028c'\n",
        "a: |\n  b\n\u2028c\n",
        "",
        "\n",
        "# only a comment\n",
        "~\n",
        "port: ! 3301\n",
        "a: ! '1'\n",
        "a: !\n",
        "! :\n",
        "a: |#\n  b\n",
        "a: >-# c\n  b\n",
        "name: Andy\t\n",
        "a\t",
        "-\r\n\ufeffa #",
        "a: b\n\ufeff",
        "{a: b?}\n",
        "[what? now]\n",
        "heal: {after: 1000? 0}\n",
        "a: what?\n",
        "{? a : b}\n",
        "[? a]\n",
        ".nan: 1\n.nan: 2\n",
        "{.nan: 1, .NaN: 2}\n",
        "<<: {a: 1}\nb: 2\n",
        "=: 1\n",
        "true: 1\nyes: 2\n",
        "1: a\n0x1: b\n",
        "1: a\n1.0: b\n",
        "!!map {a: 1}\n",
        "!!seq [1]\n",
        "!!set {a}\n",
        "!!omap [a: 1]\n",
        "!!pairs [a: 1]\n",
        "!!str 1\n",
        "!!map x\n",
        "!!seq x\n",
        "a: !!map\n",
        "a: !\nb: 1\n",
        "prompt: Hello! world\n",
        "[!]\n",
        "{a: !}\n",
        "- !\n- b\n",
        "a: !!binary aGVsbG8=\n",
        "a: !!binary '*'\n",
        "? [a]\n: 1\n",
        "a: 2027-13-01\n",
        "a: !!timestamp 2027-13-01\n",
        "a: 2099-01-01 09:00:00 +2\n",
    ],
)
def test_libyaml_and_the_pure_reader_agree(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _same_either_way(text, monkeypatch)
    _same_either_way(text, monkeypatch, first_line=2)


@needs_libyaml
@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.one_of(NEAR_YAML, st.text(max_size=60)))
def test_libyaml_and_the_pure_reader_agree_on_any_text(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _same_either_way(text, monkeypatch)


@needs_libyaml
@pytest.mark.parametrize(
    "text",
    [
        "name: Andy\nport: 3301\nruntime:\n  timezone: UTC\n"
        "schedules:\n- id: a\n  cron: 0 8 * * *\n  prompt: What now?\n",
        "name: R&D\nschedules: [{id: a, cron: '0 8 * * *', prompt: 'What now?'}]\n",
    ],
)
def test_libyaml_reads_what_has_no_problem(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyYAML's pure-Python scanner made `smbos generate` of 10,000 agents take half a minute:
    a text without problems is read by libyaml's parser, never by it; composed by libyaml
    unless it holds `&` or a `?` and a flow collection; and made data without PyYAML's
    constructor."""

    def refuse(*args: object) -> None:
        raise AssertionError("read by the pure-Python scanner or composer")

    monkeypatch.setattr(yaml.scanner.Scanner, "fetch_more_tokens", refuse)
    monkeypatch.setattr(yaml.constructor.BaseConstructor, "construct_document", refuse)
    if safeyaml.C_COMPOSER and "&" not in text and "[" not in text:
        monkeypatch.setattr(yaml.composer.Composer, "compose_document", refuse)
    problems: list[Problem] = []
    data = safeyaml.load_yaml(text, "agents/andy/config.yaml", problems)
    assert problems == []
    assert data["schedules"][0]["cron"] == "0 8 * * *"


def test_problems_name_the_line_whichever_reader_finds_them() -> None:
    """A problem found by the fast reader is reported as the reference reports it."""
    problems: list[Problem] = []
    assert safeyaml.load_yaml("a: 1\nb:\n  c: 2\n  c: &x 3\n", "f", problems) is None
    assert [str(p) for p in problems] == [
        "f: not valid YAML at line 4, column 6: anchors and aliases are not supported"
    ]
    problems.clear()
    assert safeyaml.load_yaml("a: 1\nb:\n  c: 2\n  c: 3\n", "f", problems, first_line=2) is None
    assert [str(p) for p in problems] == [
        "f: b.c: given twice (line 5, first on line 4); a key may appear once in a mapping"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port: !!int\n", "f: not valid YAML at line 1, column 7: cannot read '' as int"),
        (
            "once: !!timestamp soon\n",
            "f: not valid YAML at line 1, column 7: cannot read 'soon' as timestamp",
        ),
        (
            "once: !!timestamp\n",
            "f: not valid YAML at line 1, column 7: cannot read '' as timestamp",
        ),
    ],
)
def test_an_empty_or_odd_value_under_a_tag_is_a_problem(text: str, message: str) -> None:
    """An empty `!!int` (IndexError in PyYAML) and `!!timestamp` on what is no date
    (AttributeError) were exceptions out of the loader, so `smbos validate` said "internal
    error"."""
    problems: list[Problem] = []
    assert safeyaml.load_yaml(text, "f", problems) is None
    assert len(problems) == 1 and str(problems[0]).startswith(message), problems
