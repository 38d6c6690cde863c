"""The typed values of the history's client ops: what a create, update, read or list carries.

One definition for the fast readers (msgspec decodes a line straight into these, with no dict
per value) and for anyone who writes or reads a value by its keys. Every key a client op's
``value`` may hold is an attribute of :class:`OpValue`; which op carries which:

- ``create`` invoke: ``practitioner_id``, ``patient_id``, ``started_at``, ``fields`` (all four
  :data:`~harness.history.OBSERVATION_FIELDS`, null for a field it does not send); on ``ok``
  also the server ``id`` and ``version``;
- ``update`` invoke: ``id``, ``practitioner_id``, ``patient_id``, ``fields`` (the ones it sends);
- ``read`` invoke: ``id``; on ``ok``: ``found``, ``fields`` (as stored);
- ``list`` invoke (the query): ``practitioner_id`` and maybe ``patient_id``; on ``ok``: ``keys``
  and ``complete`` (false: a partial listing);
- any acknowledged answer may name whom its record belongs to: ``seen_key``,
  ``seen_practitioner_id``, ``seen_patient_id``.

A field value is a :class:`Digest` (``{"digest", "length", "prefix"}``) or null. A key the value
does not hold is :data:`msgspec.UNSET`, which is not null: ``seen_key`` absent means the answer
named nobody, ``seen_key: null`` that it named no key.

Integers are bounded to 64 bits and texts are texts: a line holding anything else does not fit
these types, and the readers hand it to the reference JSON decoder (which decides, as it always
has, how such a line reads).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "DIGEST_KEYS",
    "I64",
    "UNSET",
    "Digest",
    "ObservedFields",
    "OpValue",
    "Scalar",
    "TypedLine",
]

I64 = Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)]
"""An integer as the reference decoder reads it exactly (it turns wider ones into floats)."""

Scalar = str | I64 | None
"""An id or a time as a client op's value holds it."""


class Digest(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    """A field value (a :class:`~harness.history.FieldDigest`'s JSON) as the readers keep it: a
    fifth of the size of the dict. It reads like that dict (``value["digest"]``, ``dict(value)``
    gives it back, keys in the writer's order), and equals another Digest exactly when the two
    dicts would be equal. Decoded only from an object with exactly these three keys."""

    digest: str
    length: I64
    prefix: str

    def __getitem__(self, name: str) -> Any:
        if name == "digest":
            return self.digest
        if name == "length":
            return self.length
        if name == "prefix":
            return self.prefix
        raise KeyError(name)

    def keys(self) -> tuple[str, ...]:
        return DIGEST_KEYS


DIGEST_KEYS = ("digest", "length", "prefix")


class OpValue(msgspec.Struct, gc=False):
    """A client op's ``value``: every key any op carries (which op carries which: the module
    docstring). ``fields`` stays undecoded (:class:`msgspec.Raw`) until an op needs it: most
    answers echo fields nobody reads."""

    practitioner_id: Scalar | UnsetType = UNSET
    patient_id: Scalar | UnsetType = UNSET
    started_at: Scalar | UnsetType = UNSET
    id: Scalar | UnsetType = UNSET
    found: bool | UnsetType | None = UNSET
    keys: list[str] | UnsetType | None = UNSET
    complete: bool | UnsetType | None = UNSET
    seen_key: Scalar | UnsetType = UNSET
    seen_practitioner_id: Scalar | UnsetType = UNSET
    seen_patient_id: Scalar | UnsetType = UNSET
    fields: msgspec.Raw | UnsetType = UNSET


class ObservedFields(msgspec.Struct, gc=False):
    """The observation fields of a read's ``fields`` (others are not read); absent is null."""

    visit_reason: Digest | None = None
    exam_report: Digest | None = None
    conclusion: Digest | None = None
    prescription: Digest | None = None


class TypedLine(msgspec.Struct, gc=False):
    """A history line whose client value fits :class:`OpValue` (``error`` is not read)."""

    index: I64
    time: I64
    process: I64 | str
    type: str
    f: str
    key: str | None = None
    value: OpValue | None = None
