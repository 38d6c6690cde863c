"""The typed values of the history's client ops: what a create, update, read or list carries.

One definition for the writer and the readers. The practitioners build each value as the type of
its op (:class:`CreateInvoke`, :class:`CreateOk`, :class:`UpdateInvoke`, :class:`UpdateOk`,
:class:`ReadInvoke`, :class:`ReadOk`, :class:`ListInvoke`, :class:`ListOk`; a ``fail`` or ``info``
completion repeats its invoke's value) and the history writer encodes it. The fast readers decode
every client value as :class:`OpValue` (msgspec decodes a line straight into it, with no dict per
value): its attributes are exactly the union of the per-kind types' attributes, each per-kind type
being the part of it that its op carries (``fields``, a mapping of :class:`Digest` written, stays
:class:`msgspec.Raw` there until read, as :class:`ObservedFields`). Which op carries which key:

- ``create`` invoke: ``practitioner_id``, ``patient_id``, ``started_at``, ``fields`` (all four
  :data:`~harness.history.OBSERVATION_FIELDS`, null for a field it does not send); on ``ok``
  also the server ``id`` and ``version``;
- ``update`` invoke: ``id``, ``practitioner_id``, ``patient_id``, ``fields`` (the ones it sends);
  on ``ok`` also ``version``;
- ``read`` invoke: ``id``; on ``ok``: ``found``, ``fields`` (as stored) and, when found,
  ``version``;
- ``list`` invoke (the query): ``practitioner_id`` and ``day`` (older histories: maybe
  ``patient_id``); on ``ok``: ``keys`` and ``complete`` (false: a partial listing);
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

from collections.abc import Iterator, Mapping
from hashlib import blake2b
from typing import Annotated, Any, TypeAlias

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "DIGEST_KEYS",
    "I64",
    "PREFIX_CHARS",
    "UNSET",
    "ClientValue",
    "CreateFields",
    "CreateInvoke",
    "CreateOk",
    "Digest",
    "FieldValues",
    "ListInvoke",
    "ListOk",
    "ObservedFields",
    "OpValue",
    "ReadInvoke",
    "ReadOk",
    "Scalar",
    "SentFields",
    "TypedLine",
    "UpdateInvoke",
    "UpdateOk",
    "digest_values",
]

I64 = Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)]
"""An integer as the reference decoder reads it exactly (it turns wider ones into floats)."""

Scalar = str | I64 | None
"""An id or a time as a client op's value holds it."""


class Digest(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    """A field value as the history and the final read keep it: digest, length, prefix (also
    named :class:`~harness.history.FieldDigest`: one type, so that a written value and the
    final read's equal one can be one object). A fifth of the size of its JSON dict, which it
    reads like (``value["digest"]``, ``dict(value)`` gives it back, keys in the writer's order);
    it equals another Digest exactly when the two dicts would be equal. Decoded only from an
    object with exactly these three keys."""

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

    @classmethod
    def of(cls, text: str) -> Digest:
        """The digest of ``text``: blake2b (10 bytes, in hex), its length, its first
        :data:`PREFIX_CHARS` characters."""
        raw = text.encode("utf-8")
        return cls(blake2b(raw, digest_size=10).hexdigest(), len(text), text[:PREFIX_CHARS])

    def to_json(self) -> dict[str, object]:
        return {"digest": self.digest, "length": self.length, "prefix": self.prefix}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Digest:
        """The lenient reading: any JSON object with a digest and a length (prefix: none)."""
        return cls(str(data["digest"]), int(data["length"]), str(data.get("prefix", "")))


DIGEST_KEYS = ("digest", "length", "prefix")

PREFIX_CHARS = 24
"""How much of a field's text a digest keeps in clear, for humans."""


def digest_values(fields: Mapping[str, str | None]) -> dict[str, Digest | None]:
    """Written fields as the history keeps them: each text digested (the recipe of
    :meth:`~harness.history.FieldDigest.of`); ``None`` (cleared) stays ``None``."""
    return {
        name: (
            None
            if text is None
            else Digest(
                blake2b(text.encode("utf-8"), digest_size=10).hexdigest(),
                len(text),
                text[:PREFIX_CHARS],
            )
        )
        for name, text in fields.items()
    }


Fields: TypeAlias = dict[str, Digest | None]
"""A written or read ``fields``: field name -> digest, null for a field cleared or absent."""

# The writer's types, one per kind of op (module docstring). Keys absent from an answer are
# UNSET, which the encoder leaves out, as the dicts these replace left them out.


class CreateInvoke(msgspec.Struct, gc=False):
    """A create as sent: every observation field, null for one it does not send."""

    practitioner_id: str
    patient_id: str
    started_at: str
    fields: Fields


class CreateOk(CreateInvoke, gc=False):
    """An acknowledged create: what was sent, the server's id and version, whom it names."""

    id: Scalar = None
    version: Scalar = None
    seen_key: str | UnsetType = UNSET
    seen_practitioner_id: str | UnsetType = UNSET
    seen_patient_id: str | UnsetType = UNSET


class UpdateInvoke(msgspec.Struct, gc=False):
    """An update as sent: the fields it changes."""

    id: str
    practitioner_id: str
    patient_id: str
    fields: Fields


class UpdateOk(UpdateInvoke, gc=False):
    """An acknowledged update: what was sent, the version answered, whom it names."""

    version: Scalar = None
    seen_key: str | UnsetType = UNSET
    seen_practitioner_id: str | UnsetType = UNSET
    seen_patient_id: str | UnsetType = UNSET


class ReadInvoke(msgspec.Struct, gc=False):
    """A read of one record by its server id."""

    id: str


class ReadOk(ReadInvoke, gc=False):
    """An answered read: found or not, the fields as stored (all null when not found)."""

    found: bool = False
    version: Scalar | UnsetType = UNSET
    fields: Fields = {}
    seen_key: str | UnsetType = UNSET
    seen_practitioner_id: str | UnsetType = UNSET
    seen_patient_id: str | UnsetType = UNSET


class ListInvoke(msgspec.Struct, gc=False):
    """A practitioner's listing of one day."""

    practitioner_id: str
    day: str


class ListOk(ListInvoke, gc=False):
    """An answered listing: the idempotency keys listed, and whether the listing is whole."""

    keys: list[str] = []
    complete: bool = True


ClientValue: TypeAlias = (
    CreateInvoke | CreateOk | UpdateInvoke | UpdateOk | ReadInvoke | ReadOk | ListInvoke | ListOk
)
"""The value of a practitioner's op, as the writer takes it."""


class OpValue(msgspec.Struct, gc=False):
    """A client op's ``value``: every key any op carries (which op carries which: the module
    docstring). ``fields`` stays undecoded (:class:`msgspec.Raw`) until an op needs it: most
    answers echo fields nobody reads."""

    practitioner_id: Scalar | UnsetType = UNSET
    patient_id: Scalar | UnsetType = UNSET
    started_at: Scalar | UnsetType = UNSET
    day: Scalar | UnsetType = UNSET
    id: Scalar | UnsetType = UNSET
    version: Scalar | UnsetType = UNSET
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


_FIELD_NAMES = ("visit_reason", "exam_report", "conclusion", "prescription")
_IS_FIELD = frozenset(_FIELD_NAMES)
_astuple = msgspec.structs.astuple


class FieldValues(msgspec.Struct, gc=False):
    """The fields a write sends, decoded from its ``fields`` (:class:`SentFields`,
    :class:`CreateFields`): a quarter of the size of the dict, which it reads like (``get``,
    ``in``, ``[]``, ``items``; the fields sent, in the order of the observation fields). A
    field not sent is UNSET; null is a field cleared."""

    def get(self, name: str, default: Any = None) -> Any:
        if name in _IS_FIELD:
            value = getattr(self, name)
            if value is not UNSET:
                return value
        return default

    def __getitem__(self, name: str) -> Digest | None:
        value = self.get(name, UNSET)
        if value is UNSET:
            raise KeyError(name)
        return value  # type: ignore[no-any-return]

    def __contains__(self, name: object) -> bool:
        return name in _IS_FIELD and getattr(self, str(name)) is not UNSET

    def items(self) -> list[tuple[str, Digest | None]]:
        values = _astuple(self)
        return [(n, v) for n, v in zip(_FIELD_NAMES, values, strict=True) if v is not UNSET]

    def keys(self) -> list[str]:
        return [n for n, _ in self.items()]

    def values(self) -> list[Digest | None]:
        return [v for _, v in self.items()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.items())


class SentFields(FieldValues, gc=False, forbid_unknown_fields=True):
    """An update's ``fields``: the ones it sends (another name than the observation fields'
    does not fit: such a line is read whole)."""

    visit_reason: Digest | UnsetType | None = UNSET
    exam_report: Digest | UnsetType | None = UNSET
    conclusion: Digest | UnsetType | None = UNSET
    prescription: Digest | UnsetType | None = UNSET


class CreateFields(FieldValues, gc=False, forbid_unknown_fields=True):
    """A create's ``fields``: all four observation fields, null where it sends none."""

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
