"""A YAML reader that keeps the line of every key and value, for file:line errors.

Every scalar is read as text: mapping files hold codes such as ``01`` whose
leading zeros YAML's own typing would lose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bridge.errors import ConfigError


class YStr(str):
    """A text scalar that knows where it was written."""

    where: str


class YList(list[Any]):
    """A sequence that knows where it was written."""

    where: str


class YMap(dict[str, Any]):
    """A mapping that knows where it and each of its keys were written."""

    where: str
    key_where: dict[str, str]

    def at(self, key: str) -> str:
        """Where ``key`` was written, or where the mapping starts."""
        return self.key_where.get(key, self.where)


def load_yaml(path: Path) -> YMap:
    """Read ``path`` into YMap / YList / YStr values, each with its file:line."""
    try:
        with path.open(encoding="utf-8") as stream:
            node = yaml.compose(stream, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise ConfigError(f"{path}:{line}: not valid YAML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read mapping file: {exc}") from exc

    if not isinstance(node, yaml.MappingNode):
        line = node.start_mark.line + 1 if node is not None else 1
        raise ConfigError(f"{path}:{line}: a mapping file must be a YAML mapping")
    return _convert(node, path)  # type: ignore[return-value]


def _where(node: yaml.Node, path: Path) -> str:
    return f"{path}:{node.start_mark.line + 1}"


def _convert(node: yaml.Node, path: Path) -> YMap | YList | YStr:
    if isinstance(node, yaml.MappingNode):
        return _convert_map(node, path)

    if isinstance(node, yaml.SequenceNode):
        items = YList(_convert(item, path) for item in node.value)
        items.where = _where(node, path)
        return items

    scalar = YStr(node.value)
    scalar.where = _where(node, path)
    return scalar


def _convert_map(node: yaml.MappingNode, path: Path) -> YMap:
    result = YMap()
    result.where = _where(node, path)
    result.key_where = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise ConfigError(f"{_where(key_node, path)}: a key must be plain text")
        key = key_node.value
        if key in result:
            raise ConfigError(f"{_where(key_node, path)}: key {key!r} appears twice")
        result[key] = _convert(value_node, path)
        result.key_where[key] = _where(key_node, path)
    return result
