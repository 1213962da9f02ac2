"""YAML as an agent folder may hold it: one document, no anchors or aliases (no document can
expand), no key given twice in a mapping (loaders keep the last value silently), problems as
one-line `Problem`s with the file's own line numbers (`agent.md` is split by smbos.agentmd).
"""

from __future__ import annotations

from typing import Any

import yaml

from smbos.errors import Problem


class _NoAliasLoader(yaml.SafeLoader):
    """A safe loader that refuses anchors and aliases, so no document can expand (YAML bombs)."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        # An alias, or an anchor (`&name`, which only an alias would use): refused at once.
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.constructor.ConstructorError(
                None, None, "anchors and aliases are not supported", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_object(self, node, deep=False):
        # A value its tag cannot hold (`!!int abc`, `!!bool maybe`) is a problem at its line,
        # never an exception out of the loader.
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            tag = str(node.tag).rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"cannot read {str(node.value)[:40]!r} as {tag} ({exc})",
                node.start_mark,
            ) from None

    def construct_yaml_timestamp(self, node):
        # What looks like a timestamp but is no time (`2027-13-01`) stays the text it is, as if
        # quoted: the field it is given to says what is wrong with it, as it would quoted.
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_NoAliasLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _NoAliasLoader.construct_yaml_timestamp
)


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
    loader = None
    try:
        loader = _NoAliasLoader(text)  # its reader refuses unprintable characters at once
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
