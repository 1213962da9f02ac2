"""YAML as an agent folder may hold it: one document, no anchors or aliases (no document can
expand), no key given twice in a mapping (loaders keep the last value silently), problems as
one-line `Problem`s with the file's own line numbers (`agent.md` is split by smbos.agentmd).

A fleet of 10,000 agents is 20,000 documents, which PyYAML's pure-Python reader reads ten times
slower than libyaml. So with libyaml (`yaml.__with_libyaml__`) its C parser reads them, and
`_build` makes the data of the plain shapes (mappings, sequences, scalars of the standard tags)
as PyYAML's constructor does; anything else is left to the reference (below):

- most texts are composed by libyaml too (`_ComposedLoader`): a text without `&` can hold no
  anchor, so no alias either (an alias of no anchor is an error), and a key given twice is met
  by `_build`;
- a text with `&`, with `?` and a flow collection, or with a bare `!` tag (`_BARE_TAG`) is
  composed in Python from libyaml's events (`_EventsLoader`), where anchors are refused as they
  come (as the reference does), a plain `?` inside `[...]` or `{...}` (which libyaml reads on
  and PyYAML refuses) is found, and an empty value under `!` is resolved as PyYAML does;
- the reference, PyYAML's pure-Python reader (`_NoAliasLoader`), reads the few kinds of text
  the parsers read differently (`_REFERENCE_ONLY`) and every text a libyaml path finds anything
  wrong or unusual in, and its problems are the ones reported.

So what is accepted, the data, the problems' texts and their line numbers do not depend on
whether libyaml is installed (tests/test_safeyaml.py compares the three). libyaml's composer
recurses in C: it is used only from libyaml 0.2.6, whose parser stops at 1,000 levels of
nesting (`C_COMPOSER`).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from smbos.errors import Problem

# Whether libyaml reads the texts first, and composes them (tests turn these off to compare).
FAST = bool(getattr(yaml, "__with_libyaml__", False))
C_COMPOSER = FAST and yaml._yaml.get_version() >= (0, 2, 6)

# Texts only the reference reads: those with a character PyYAML's reader refuses (libyaml's set
# differs, and a lone surrogate cannot be handed to it as UTF-8), a tab (which libyaml accepts
# after a value, PyYAML not), a byte order mark (which libyaml skips anywhere, PyYAML only at
# the start), or what could be a block scalar's header with a comment and no space before it
# (`|#`, which libyaml reads as a comment). The reference then says what it always said of them.
_REFERENCE_ONLY = re.compile(f"[\t\ufeff]|[|>][-+0-9]*#|{yaml.reader.Reader.NON_PRINTABLE.pattern}")

# The non-specific tag `!` standing alone (not `Hello!`): libyaml composes an empty value under
# it as the empty text, PyYAML as null.
_BARE_TAG = re.compile(r"(?:^|(?<=[\s,\[{]))!(?=[\s,\]}]|$)")


class _Rules:
    """What an agent folder's YAML may not do, whichever parser reads it."""

    def compose_node(self, parent, index):
        event = self.peek_event()  # type: ignore[attr-defined]
        # An alias, or an anchor (`&name`, which only an alias would use): refused at once.
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "anchors and aliases are not supported", event.start_mark
            )
        return super().compose_node(parent, index)  # type: ignore[misc]

    def construct_yaml_timestamp(self, node):
        # What looks like a timestamp but is no time (`2027-13-01`) stays the text it is, as if
        # quoted: the field it is given to says what is wrong with it, as it would quoted.
        # `!!timestamp` on what is no date at all is a value its tag cannot hold.
        text = self.construct_scalar(node)  # type: ignore[attr-defined]
        if not self.timestamp_regexp.match(text):  # type: ignore[attr-defined]
            raise ValueError("not a date or a time")
        try:
            return super().construct_yaml_timestamp(node)  # type: ignore[misc]
        except ValueError:
            return self.construct_scalar(node)  # type: ignore[attr-defined]


# What a value its tag cannot hold raises out of PyYAML's constructors (`!!int abc`, `!!bool
# maybe`, an empty `!!int`, `!!timestamp soon`).
_UNFIT = (ValueError, LookupError, TypeError, ArithmeticError)


class _NoAliasLoader(_Rules, yaml.SafeLoader):
    """The reference: PyYAML's pure-Python reader, with the rules."""

    def construct_object(self, node, deep=False):
        # A value its tag cannot hold is a problem at its line, never an exception out of the
        # loader. (The libyaml readers leave such a text to the reference, which says where.)
        try:
            return super().construct_object(node, deep=deep)
        except _UNFIT as exc:
            tag = str(node.tag).rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"cannot read {str(node.value)[:40]!r} as {tag} ({exc})",
                node.start_mark,
            ) from None


_LOADERS: list[Any] = [_NoAliasLoader]

if FAST:
    # libyaml's event parser (PyYAML's stubs do not export it from yaml.cyaml).
    _CParser: Any = getattr(yaml.cyaml, "CParser")  # noqa: B009

    class _EventsLoader(_Rules, Composer, _CParser, SafeConstructor, Resolver):
        """libyaml's parser (events), PyYAML's composer, with the rules."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

        def compose_node(self, parent, index):
            event = self.peek_event()
            # PyYAML ends a plain value at `?` inside `[...]` or `{...}` (YAML 1.1) and then
            # refuses the `?`; libyaml reads on: the reference says what is wrong.
            if (
                isinstance(event, yaml.ScalarEvent)
                and not event.style
                and "?" in event.value
                and parent is not None
                and parent.flow_style
            ):
                raise _Unsure
            return super().compose_node(parent, index)

        def resolve(self, kind, value, implicit):
            # An empty value under the bare tag `!` is neither plain nor quoted for libyaml
            # (the empty text); PyYAML resolves it as plain (null).
            if kind is ScalarNode and implicit == (False, False):
                implicit = (True, False)
            return super().resolve(kind, value, implicit)

    class _ComposedLoader(_Rules, yaml.CSafeLoader):
        """libyaml's parser and composer: for texts without `&` (no anchors, so no aliases),
        a `?` in a flow collection or a bare `!` tag."""

    _LOADERS += [_EventsLoader, _ComposedLoader]

for _loader in _LOADERS:
    _loader.add_constructor(
        "tag:yaml.org,2002:timestamp",
        _Rules.construct_yaml_timestamp,
    )


def _c_loader(text: str) -> type | None:
    """The libyaml reader for `text`, None when only the reference may read it."""
    if not FAST or _REFERENCE_ONLY.search(text) is not None:
        return None
    if (
        C_COMPOSER
        and "&" not in text
        and ("?" not in text or ("[" not in text and "{" not in text))
        and ("!" not in text or _BARE_TAG.search(text) is None)
    ):
        return _ComposedLoader
    return _EventsLoader


class _Unsure(Exception):
    """What a libyaml path leaves to the reference: it may be wrong, or read differently."""


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
# Tags whose constructor makes a scalar's value at once (PyYAML's map and seq constructors are
# generators, for recursive structures, which an agent folder cannot hold).
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "binary", "timestamp")
)


def _build(loader: Any, node: yaml.Node) -> Any:
    """The data of `node`, as PyYAML's SafeConstructor makes it, for mappings, sequences and
    scalars of the standard tags; `_Unsure` for anything else: another tag, a merge key (`<<`),
    a key given twice (two keys of one tag and text read the same)."""
    kind, tag = type(node), node.tag
    if kind is ScalarNode:
        if tag == _STR:
            return node.value
        if tag in _SCALAR_TAGS:
            return loader.yaml_constructors[tag](loader, node)
    elif kind is MappingNode and tag == _MAP:
        data = {}
        for key_node, value_node in node.value:
            key = _build(loader, key_node)
            if key in data or key != key:  # given twice; or NaN, which is never "in"
                raise _Unsure
            data[key] = _build(loader, value_node)
        return data
    elif kind is SequenceNode and tag == _SEQ:
        return [_build(loader, item) for item in node.value]
    raise _Unsure


def _read_fast(loader_class: type, text: str) -> Any:
    """The data, or `_Unsure` (the class) when the reference must read the text."""
    loader = None
    try:
        loader = loader_class(text)
        node = loader.get_single_node()
        return None if node is None else _build(loader, node)
    except (yaml.YAMLError, RecursionError, _Unsure, *_UNFIT):
        return _Unsure
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_problem(exc: yaml.YAMLError, first_line: int = 1) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + first_line}, column {mark.column + 1}" if mark else ""
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"not valid YAML{where}: {what}"


def load_yaml(
    text: str, display: str, problems: list[Problem], field: str = "", first_line: int = 1
) -> Any:
    """`first_line`: the file's line number of the text's first line (front matter: 2).
    A key given twice in one mapping is an error naming it (YAML loaders keep the last value,
    silently): the data is not returned then."""
    fast = _c_loader(text)
    if fast is not None:
        data = _read_fast(fast, text)
        if data is not _Unsure:
            return data
    return _read(_NoAliasLoader, text, display, problems, field, first_line)


def _read(
    loader_class: type,
    text: str,
    display: str,
    problems: list[Problem],
    field: str,
    first_line: int,
) -> Any:
    """The data, with every problem added (the reference's way)."""
    loader = None
    try:
        loader = loader_class(text)  # its reader refuses unprintables at once
        node = loader.get_single_node()
        duplicates = _duplicate_keys(node, "") if node is not None else []
        for key, line, first in duplicates:
            problems.append(
                Problem(
                    display,
                    key,
                    f"given twice (line {line + first_line}, first "
                    f"on line {first + first_line}); a key may "
                    "appear once in a mapping",
                )
            )
        if duplicates:
            return None
        return loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        problems.append(Problem(display, field, _yaml_problem(exc, first_line)))
    except RecursionError:
        problems.append(Problem(display, field, "nested too deeply to be a configuration"))
    finally:
        if loader is not None:
            loader.dispose()
    return None


def _duplicate_keys(node: yaml.Node, path: str) -> list[tuple[str, int, int]]:
    """(key path, line, line of the first one) of every key repeated in a mapping of `node`."""
    found: list[tuple[str, int, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            scalar = isinstance(key_node, yaml.ScalarNode)
            name = str(key_node.value) if scalar else "?"
            where = f"{path}.{name}" if path else name
            if scalar:
                ident = (key_node.tag, key_node.value)
                if ident in seen:
                    found.append((where, key_node.start_mark.line, seen[ident]))
                else:
                    seen[ident] = key_node.start_mark.line
            found += _duplicate_keys(value_node, where)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicate_keys(item, f"{path}[{index}]")
    return found
