"""YAML with positions: every value of a scenario file remembers its line, so that validation
errors name the file, the line and the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Located", "ScenarioError", "load_located", "read_text"]


class ScenarioError(ValueError):
    """A scenario file is wrong. The message reads ``file:line: field: problem``."""

    def __init__(self, source: str, line: int | None, field: str, problem: str) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")
        self.source = source
        self.line = line
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Located:
    """A parsed YAML value with its 1-based line and its dotted path from the document root."""

    value: Any
    line: int
    path: str
    source: str

    def error(self, problem: str, *, field: str | None = None) -> ScenarioError:
        return ScenarioError(self.source, self.line, field or self.path, problem)

    def mapping(self) -> dict[str, Located]:
        if not isinstance(self.value, dict):
            raise self.error(f"must be a mapping, got {_kind(self.value)}")
        return dict(self.value)

    def sequence(self) -> list[Located]:
        if not isinstance(self.value, list):
            raise self.error(f"must be a list, got {_kind(self.value)}")
        return list(self.value)

    def plain(self) -> Any:
        """The value without positions (for parameters handed on as they are)."""
        return _plain(self.value)


def load_located(text: str, source: str) -> Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(source, line, "", f"not valid YAML: {exc}") from exc
    if node is None:
        raise ScenarioError(source, 1, "", "the file is empty")
    return _convert(node, "", source)


def _convert(node: yaml.Node, path: str, source: str) -> Located:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        items: dict[str, Located] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key in items:
                raise ScenarioError(source, key_node.start_mark.line + 1, child, "appears twice")
            items[key] = _convert(value_node, child, source)
        return Located(items, line, path, source)
    if isinstance(node, yaml.SequenceNode):
        elements = [_convert(v, f"{path}[{i}]", source) for i, v in enumerate(node.value)]
        return Located(elements, line, path, source)
    scalar = yaml.constructor.SafeConstructor().construct_object(node)
    return Located(scalar, line, path, source)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v.value) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_plain(v.value) for v in value]
    return value


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(path), None, "", f"cannot read: {exc.strerror}") from exc
