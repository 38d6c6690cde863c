"""YAML with positions: every value of a scenario file remembers its line, so that validation
errors name the file, the line and the field.

Scenario files come from users and from CI checkouts, so loading them is bounded: at most
:data:`MAX_BYTES`, at most :data:`MAX_NODES` values once aliases are expanded (a "billion laughs"
of 540 bytes stops after a few thousand nodes, not after a gigabyte), each anchor re-used at most
:data:`MAX_ALIAS_USES` times, nesting at most :data:`MAX_DEPTH` deep, plain YAML tags only
(``!!python/...`` and any other tag refused), no value containing itself. Every refusal is a
:class:`ScenarioError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MAX_ALIAS_USES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Located",
    "ScenarioError",
    "dotted",
    "load_located",
    "read_text",
]

MAX_BYTES = 1_000_000
MAX_NODES = 10_000
MAX_ALIAS_USES = 200
MAX_DEPTH = 40
_STANDARD = "tag:yaml.org,2002:"
_SCALAR_TAGS = {
    f"{_STANDARD}{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")
}


class ScenarioError(ValueError):
    """A scenario file is wrong. The message reads ``file:line: field: problem``."""

    def __init__(self, source: str, line: int | None, field: str, problem: str) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")
        self.source = source
        self.line = line
        self.field = field
        self.problem = problem


def dotted(loc: Sequence[str | int]) -> str:
    """``("faults", 0, "params", "signal")`` -> ``faults[0].params.signal``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


@dataclass(frozen=True, slots=True)
class Located:
    """A parsed YAML value with its 1-based line and its dotted path from the document root."""

    value: Any
    line: int
    path: str
    source: str

    def error(self, problem: str, *, field: str | None = None) -> ScenarioError:
        return ScenarioError(self.source, self.line, field or self.path, problem)

    def error_at(self, loc: Sequence[str | int], problem: str) -> ScenarioError:
        """The error at the deepest value of ``loc`` the file has (its line), naming ``loc``."""
        at = self
        for part in loc:
            value = at.value
            found = isinstance(value, dict) and part in value
            found = found or (
                isinstance(value, list) and isinstance(part, int) and part < len(value)
            )
            if not found:
                break
            at = value[part]
        return at.error(problem, field=dotted(loc))

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
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise ScenarioError(source, None, "", f"the file is {size:,} bytes; at most {MAX_BYTES:,}")
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
    except _TooDeep as exc:
        problem = f"nested too deeply (at most {MAX_DEPTH} levels)"
        raise ScenarioError(source, exc.line, "", problem) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(source, line, "", f"not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if node is None:
        raise ScenarioError(source, 1, "", "the file is empty")
    return _Converter(source).convert(node, "", ())


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _BoundedLoader(yaml.SafeLoader):
    """Composes no deeper than :data:`MAX_DEPTH`: PyYAML's scanner slows down with the square of
    the nesting, so a deep file is refused while it is read, not after."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _TooDeep(event.start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Converter:
    """Turns composed YAML nodes into :class:`Located` values within the budgets. Aliases make
    the composed graph share nodes; a node met again is an alias expanded once more."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.nodes = 0
        self.seen: dict[int, int] = {}

    def _error(
        self, node: yaml.Node, path: str, problem: str, line: int | None = None
    ) -> ScenarioError:
        return ScenarioError(self.source, line or node.start_mark.line + 1, path, problem)

    def convert(
        self, node: yaml.Node, path: str, parents: tuple[int, ...], used_at: int | None = None
    ) -> Located:
        """``used_at``: the line where the value is written (an alias's line, for a re-used
        node whose own mark is its anchor's)."""
        if id(node) in parents:
            raise self._error(node, path, "an alias refers to a value that contains it", used_at)
        if len(parents) >= MAX_DEPTH:
            raise self._error(node, path, f"nested too deeply (at most {MAX_DEPTH} levels)")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            problem = f"too many values once aliases are expanded (at most {MAX_NODES:,})"
            raise self._error(node, path, problem, used_at)
        uses = self.seen.get(id(node), 0)
        if uses > MAX_ALIAS_USES:
            problem = f"an anchor is used more than {MAX_ALIAS_USES} times"
            raise self._error(node, path, problem, used_at)
        self.seen[id(node)] = uses + 1
        line = node.start_mark.line + 1
        inside = (*parents, id(node))
        if isinstance(node, yaml.MappingNode):
            self._check_tag(node, path, f"{_STANDARD}map")
            items: dict[str, Located] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SCALAR_TAGS:
                    raise self._error(key_node, path, "a key must be a plain name")
                key = str(key_node.value)
                child = f"{path}.{key}" if path else key
                if key in items:
                    raise self._error(key_node, child, "appears twice")
                items[key] = self.convert(value_node, child, inside, key_node.start_mark.line + 1)
            return Located(items, line, path, self.source)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, path, f"{_STANDARD}seq")
            elements = [
                self.convert(v, f"{path}[{i}]", inside, line) for i, v in enumerate(node.value)
            ]
            return Located(elements, line, path, self.source)
        if node.tag not in _SCALAR_TAGS:
            raise self._error(node, path, f"unsupported tag {_shown(node.tag)} (plain values only)")
        try:
            scalar = yaml.constructor.SafeConstructor().construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise self._error(node, path, f"not a valid value: {problem}") from None
        return Located(scalar, line, path, self.source)

    def _check_tag(self, node: yaml.Node, path: str, expected: str) -> None:
        if node.tag != expected:
            raise self._error(node, path, f"unsupported tag {_shown(node.tag)} (plain values only)")


def _shown(tag: str) -> str:
    return f"!!{tag.removeprefix(_STANDARD)}" if tag.startswith(_STANDARD) else tag


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
    """The text of a scenario file, refused (with the file, and the line and byte offset of a
    bad byte) when it is too big or not UTF-8."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(str(path), None, "", f"cannot read: {exc.strerror}") from exc
    if len(data) > MAX_BYTES:
        raise ScenarioError(str(path), None, "", f"the file is over {MAX_BYTES:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            str(path), line, "", f"not valid UTF-8 (byte {exc.start}: {data[exc.start]:#04x})"
        ) from None
