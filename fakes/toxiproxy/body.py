"""Reading request bodies as the reference server's Go decoder does: only the first JSON value,
unknown keys ignored, keys matched case-insensitively, null leaves a field unset, and a value of
the wrong JSON type is a 400 ``bad request body``."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

from ackguard.fakes.toxiproxy.errors import ApiError, bad_request_body

__all__ = [
    "MAX_DEPTH",
    "MAX_NUMBER_LENGTH",
    "JsonValue",
    "decode",
    "fold_keys",
    "integer_attribute",
    "optional_bool",
    "optional_number",
    "optional_str",
    "type_error",
]

JsonValue = object


MAX_DEPTH = 32
"""Deepest nesting of arrays and objects in a body (a populate body is 3 levels deep)."""
MAX_NUMBER_LENGTH = 32
"""Most characters in one JSON number (an int64 has at most 20)."""
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


class _BadNumber(ValueError):
    pass


def _too_deep(text: str) -> bool:
    depth = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_LENGTH:
        raise _BadNumber(f"number {text[:12]}... is longer than {MAX_NUMBER_LENGTH} characters")
    return int(text)


def _fraction(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        raise _BadNumber(f"number {text[:12]}... is longer than {MAX_NUMBER_LENGTH} characters")
    value = float(text)
    if not math.isfinite(value):
        raise _BadNumber(f"number {text} is out of range")
    return value


def _constant(text: str) -> object:
    raise _BadNumber(f"{text} is not a JSON value")


_DECODER = json.JSONDecoder(parse_int=_integer, parse_float=_fraction, parse_constant=_constant)


def decode(body: bytes) -> JsonValue:
    """The first JSON value of ``body``. NaN and Infinity, numbers longer than
    ``MAX_NUMBER_LENGTH`` and nesting deeper than ``MAX_DEPTH`` are a 400."""
    text = body.decode("utf-8", errors="replace").lstrip()
    if not text:
        raise bad_request_body("EOF")
    if _too_deep(text):
        raise bad_request_body(f"nesting deeper than {MAX_DEPTH} levels")
    try:
        value, _ = _DECODER.raw_decode(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text):
            raise bad_request_body("unexpected EOF") from exc
        raise bad_request_body(f"invalid character at offset {exc.pos + 1}: {exc.msg}") from exc
    except _BadNumber as exc:
        raise bad_request_body(str(exc)) from exc
    except RecursionError as exc:  # belt and braces: the depth scan should have caught it
        raise bad_request_body(f"nesting deeper than {MAX_DEPTH} levels") from exc
    return value


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def type_error(value: object, where: str, go_type: str) -> ApiError:
    return bad_request_body(
        f"json: cannot unmarshal {_json_kind(value).split()[0]} into Go struct field "
        f"{where} of type {go_type}"
    )


def fold_keys(value: JsonValue, struct: str) -> dict[str, object]:
    """An object's members by lower-cased key (null members dropped); else a 400."""
    if not isinstance(value, Mapping):
        raise bad_request_body(
            f"json: cannot unmarshal {_json_kind(value).split()[0]} into Go value of type {struct}"
        )
    folded: dict[str, object] = {}
    for key, member in value.items():
        if member is None:
            continue
        # An exact lower-case key wins over other spellings, as in encoding/json.
        if key.lower() not in folded or key == key.lower():
            folded[key.lower()] = member
    return folded


def optional_str(fields: Mapping[str, object], key: str, where: str) -> str | None:
    value = fields.get(key)
    if value is None or isinstance(value, str):
        return value
    raise type_error(value, where, "string")


def optional_bool(fields: Mapping[str, object], key: str, where: str) -> bool | None:
    value = fields.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise type_error(value, where, "bool")


def optional_number(fields: Mapping[str, object], key: str, where: str) -> float | None:
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise type_error(value, where, "float32")
    return float(value)  # finite: decode refuses NaN, Infinity and overlong numbers


def integer_attribute(value: object, where: str) -> int:
    """An int64 attribute: a JSON integer; a string, a bool or a fraction is a 400."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float):
            raise bad_request_body(
                f"json: cannot unmarshal number {value} into Go struct field {where} of type int64"
            )
        raise type_error(value, where, "int64")
    if not -(2**63) <= value < 2**63:
        raise type_error(value, where, "int64")
    return value
