"""The value types scenario files are made of, and pydantic's errors put into plain words.

Every scenario model (and every fault kind's parameters) is built on :class:`Strict`: unknown
keys are refused with the list of known ones, and each value type checks its own bounds and says
them in the message (``must be between 1 and 100,000, got 0``). :func:`problem` raises an error
at a location below the model being validated (``every`` of a schedule); pydantic prefixes it
with the model's own location, so the message still lands on the right YAML line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from ackguard.harness.scenario_yaml import dotted

__all__ = [
    "Command",
    "Seconds",
    "Strict",
    "Text",
    "describe",
    "dotted",
    "mapping_of",
    "maybe",
    "number",
    "parse_duration",
    "problem",
    "seconds",
    "text",
    "whole",
]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
PLACEHOLDERS = ("port", "database_url", "run_dir")
"""What the harness fills in a user's commands: ``{port}``, ``{database_url}``, ``{run_dir}``."""


def parse_duration(value: object) -> float:
    """Seconds from ``"500ms"``, ``"30s"``, ``"2m"``, ``"18h"``, ``"1d"`` or a number."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"not a duration: {_short(value)} (write e.g. 500ms, 30s, 2m, 18h)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(seconds):
        raise ValueError(f"must be a finite duration, got {value!r}")
    if seconds < 0:
        raise ValueError(f"must not be negative: {value!r}")
    return seconds


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else f"{shown[:57]}..."


def _amount(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,g}"


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def whole(low: int, high: int) -> Callable[[object], int]:
    """A validator: a whole number (not a bool, not 2.0) in [low, high]."""

    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number, got {_short(value)}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low:,} and {high:,}, got {_short(value)}")
        return value

    return check


def number(low: float, high: float) -> Callable[[object], float]:
    """A validator: a finite number in [low, high]."""

    def check(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, got {_short(value)}")
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {value!r}")
        if not low <= value <= high:
            raise ValueError(
                f"must be between {_amount(low)} and {_amount(high)}, got {_short(value)}"
            )
        return float(value)

    return check


def seconds(low: float, high: float) -> Callable[[object], float]:
    """A validator: a duration (``30s``, ``2m`` or a number of seconds) in [low, high]."""

    def check(value: object) -> float:
        found = parse_duration(value)
        if not low <= found <= high:
            raise ValueError(f"must be between {_span(low)} and {_span(high)}, got {_short(value)}")
        return found

    return check


def text(most: int, *, pattern: str | None = None, hint: str = "") -> Callable[[object], str]:
    """A validator: a non-empty text of at most ``most`` characters, matching ``pattern``."""

    def check(value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"must be a non-empty text, got {_short(value)}")
        if len(value) > most:
            raise ValueError(f"must be at most {most:,} characters, got {len(value):,}")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise ValueError(hint or f"must match {pattern}")
        return value

    return check


def _command(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(
            f"must be a non-empty list of arguments, e.g. [python, app.py], got {_short(value)}"
        )
    for index, argument in enumerate(value):
        if not isinstance(argument, str) or not argument:
            raise problem((index,), f"must be a non-empty text (quote it), got {_short(argument)}")
        unknown = placeholders_in(argument) - set(PLACEHOLDERS)
        if unknown:
            known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            raise problem(
                (index,), f"unknown placeholder {{{sorted(unknown)[0]}}} (known: {known})"
            )
    return tuple(value)


def maybe(check: Callable[[object], Any]) -> Callable[[object], Any]:
    """A validator: ``check``, letting None (an absent optional value) through."""
    return lambda value: None if value is None else check(value)


def mapping_of(check: Callable[[object], str], most: int) -> Callable[[object], Any]:
    """A validator: a mapping of at most ``most`` entries, each value through ``check``
    (its error located at the key)."""

    def checked(value: object) -> Any:
        if not isinstance(value, dict):
            return value  # the field's own type says "must be a mapping"
        if len(value) > most:
            raise ValueError(f"must have at most {most} entries, got {len(value)}")
        found: dict[str, str] = {}
        for key, item in value.items():
            try:
                found[key] = check(item)
            except ValueError as exc:
                raise problem((key,), str(exc), item) from None
        return found

    return checked


def placeholders_in(value: str) -> set[str]:
    """The ``{name}`` placeholders of one argument."""
    return set(re.findall(r"\{([^{}]*)\}", value))


Text = Annotated[str, BeforeValidator(text(10_000))]
"""A non-empty text of at most 10,000 characters."""
Seconds = Annotated[float, BeforeValidator(seconds(0.0, 7 * 86400.0))]
"""A duration of at most 7 days."""
Command = Annotated[tuple[str, ...], BeforeValidator(_command)]
"""A command as a list of arguments (no shell), with the placeholders the harness fills."""


def problem(loc: Sequence[str | int], message: str, value: object = None) -> ValidationError:
    """An error at ``loc`` below the model being validated, to ``raise`` from a validator."""
    return ValidationError.from_exception_data(
        "scenario",
        [
            InitErrorDetails(
                type=PydanticCustomError("scenario", message), loc=tuple(loc), input=value
            )
        ],
    )


class Strict(BaseModel):
    """A mapping of a scenario file: known keys only, frozen once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    unknown_key: ClassVar[str] = "unknown field (allowed here: {allowed})"

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"must be a mapping, got {_kind(data)}")
        allowed = [info.alias or name for name, info in cls.model_fields.items()]
        for key in data:
            if key not in allowed:
                message = cls.unknown_key.format(allowed=", ".join(allowed) or "none")
                raise problem((str(key),), message, data[key])
        return data


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {_short(value)}"


def describe(error: ErrorDetails) -> str:
    """One pydantic error in the words of scenario messages."""
    kind, value = error["type"], error.get("input")
    context = error.get("ctx") or {}
    if kind == "value_error":
        return str(context.get("error", error["msg"]))
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "literal_error":
        expected = str(context.get("expected", "")).replace("'", "")
        return f"must be one of {expected.replace(' or ', ', ')}, got {_short(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"must be a mapping, got {_kind(value)}"
    if kind in ("list_type", "tuple_type", "iterable_type"):
        return f"must be a list, got {_kind(value)}"
    if kind == "string_type":
        return f"must be a text, got {_kind(value)}"
    if kind == "bool_type" or kind == "bool_parsing":
        return f"must be true or false, got {_short(value)}"
    if kind.startswith("int_"):
        return f"must be a whole number, got {_short(value)}"
    if kind.startswith("float_") or kind == "finite_number":
        return f"must be a finite number, got {_short(value)}"
    return f"{error['msg'][:1].lower()}{error['msg'][1:]}"
