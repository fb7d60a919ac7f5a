"""YAML loading that remembers where every value came from.

pydantic reports errors by path (``steps.2.type``); users need ``file.yaml:14``. We compose the
YAML node tree ourselves so each mapping key and sequence item keeps its line, and keep a map
from value path to line next to the plain Python data that pydantic validates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.errors import SpecError

PathKey = tuple[str | int, ...]


@dataclass
class YamlDoc:
    """Plain data from one YAML file plus the line of every value in it (1-based)."""

    path: Path
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, loc: PathKey) -> int | None:
        """The line of ``loc``, or of its nearest ancestor that has one."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), 1)

    def error(self, loc: PathKey, message: str) -> SpecError:
        """A SpecError pointing at ``loc`` in this file."""
        return SpecError(message, path=self.path, line=self.line_of(loc))


_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present: same nodes, ~5x faster


class _Loader(_BASE):  # type: ignore[misc,valid-type]
    """SafeLoader with YAML 1.2 booleans (only true/false) that refuses duplicate keys.

    YAML 1.1 reads ``on``, ``off``, ``yes`` and ``no`` as booleans, which would turn a join's
    ``on:`` key into ``True``; a silent overwrite of a duplicate key hides mistakes.
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).append(
        ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")))


def _convert(node: yaml.Node, loader: _Loader, loc: PathKey, lines: dict[PathKey, int], path: Path) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (dict, list)):
                raise SpecError("a mapping key must be a scalar", path=path, line=key_node.start_mark.line + 1)
            if key in out:
                raise SpecError(f"duplicate key '{key}'", path=path, line=key_node.start_mark.line + 1)
            child = (*loc, str(key))
            out[key] = _convert(value_node, loader, child, lines, path)
            lines[child] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, loader, (*loc, i), lines, path) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_yaml_text(text: str, path: Path) -> YamlDoc:
    """Parse YAML text; syntax errors become one SpecError at the offending line."""
    lines: dict[PathKey, int] = {}
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = {} if node is None else _convert(node, loader, (), lines, path)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"YAML syntax error: {problem}", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"YAML syntax error: {exc}", path=path) from None
    finally:
        loader.dispose()
    return YamlDoc(path=path, data=data, lines=lines)


def load_yaml_file(path: Path, display_path: Path | None = None) -> YamlDoc:
    """Read and parse one YAML file; errors name ``display_path`` (relative, for humans)."""
    shown = display_path or path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("file not found", path=shown) from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text ({exc.reason})", path=shown) from None
    return load_yaml_text(text, shown)
