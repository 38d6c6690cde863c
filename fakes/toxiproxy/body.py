"""Reading request bodies as the reference server's Go decoder does: only the first JSON value,
unknown keys ignored, keys matched case-insensitively, null leaves a field unset, and a value of
the wrong JSON type is a 400 ``bad request body``."""

from __future__ import annotations

import json
from collections.abc import Mapping

from fakes.toxiproxy.errors import ApiError, bad_request_body

__all__ = [
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


def decode(body: bytes) -> JsonValue:
    text = body.decode("utf-8", errors="replace").lstrip()
    if not text:
        raise bad_request_body("EOF")
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text):
            raise bad_request_body("unexpected EOF") from exc
        raise bad_request_body(f"invalid character at offset {exc.pos + 1}: {exc.msg}") from exc
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
    return float(value)


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
