"""The allowed-value rule: which final (or in-run) value of a field is acceptable, given the
acknowledged, indeterminate and failed writes to it.

**Which field values are allowed** (:func:`is_allowed`), after Jepsen's register and set
semantics extended to fields. Every create writes all four observation fields (a field it does
not send is written as null); an update writes the fields it sends. For one field, observed at
a read that began at ``before`` (for the final read, when it began), a value is allowed when it
is

- the value of an *acknowledged* write that is not superseded, where an acknowledged write ``w``
  is superseded when another acknowledged write to the field began after ``w`` completed and
  itself completed before ``before`` (so concurrent acknowledged writes may land in either
  order, and the last acknowledged write is always allowed);
- the value of an *indeterminate* write (``info``, or still pending) invoked before the read
  completed, whenever it was invoked: like Jepsen's ``info`` ops, it may take effect at any time
  after its invoke, before or after any later acknowledged write;
- null (absent), when no acknowledged write to the field completed before ``before`` (a field
  never acknowledged promised nothing).

A *failed* write is never allowed by itself; its value passes only when an allowed write set
the same value. Values are compared by digest string, so "allowed" means "exactly that content".

A read that began at ``before`` bounds what can supersede an acknowledgement: a write that
completed after the read began may not have landed when the read saw the field. For the final
read, ``before`` is when it began.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from ackguard.harness.history_values import Digest, FieldValues

__all__ = [
    "FAIL",
    "INFO",
    "OK",
    "PENDING",
    "DigestJSON",
    "Write",
    "digest_of",
    "is_allowed",
    "last_acknowledged",
]

PENDING, OK, INFO, FAIL = 0, 1, 2, 3
_UNWRITTEN: Any = object()

DigestJSON = Mapping[str, Any]


def digest_of(value: DigestJSON | None) -> str | None:
    """The digest string of a FieldDigest JSON value, ``None`` for null."""
    return None if value is None else str(value["digest"])


class Write(msgspec.Struct, gc=False, eq=False):
    """One create or update: when it began and ended, how, and the field values it wrote.

    A msgspec struct for its size and its making (a million-op history makes a quarter of a
    million): no garbage collector header (``gc=False``: it holds no cycle, only its fields),
    made in C; compared and hashed by identity (``eq=False``), as a plain object is."""

    inv: int
    fields: Mapping[str, DigestJSON | None] | FieldValues  # FieldValues: as decoded, compact
    cmp: int | None = None
    status: int = PENDING


def is_allowed(
    writes: Iterable[Write], name: str, observed: str | None, before: int | None
) -> bool:
    """Whether ``observed`` (a digest, or ``None`` for null) is an allowed value of field ``name``
    for a read that began at ``before`` (``None``: no bound), given ``writes`` as they stood
    when the read completed. The rule is in the module docstring. One pass, no allocation."""
    superseding_inv = -1  # latest invoke among acknowledged writes completed before `before`
    matched_cmp = -1  # latest completion among acknowledged writes of the observed value
    for w in writes:
        value = w.fields.get(name, _UNWRITTEN)
        if value is _UNWRITTEN:
            continue
        status = w.status
        if status == FAIL:
            continue
        if value is None:
            same = observed is None
        elif value.__class__ is Digest:  # most values: an attribute, not a method call
            same = value.digest == observed
        else:
            same = value["digest"] == observed
        if status != OK:
            if same:
                return True  # indeterminate: may land at any time after its invoke
            continue
        cmp: int = w.cmp  # type: ignore[assignment]
        if (before is None or cmp < before) and w.inv > superseding_inv:
            superseding_inv = w.inv
        if same and cmp > matched_cmp:
            matched_cmp = cmp
    if superseding_inv < 0:
        return observed is None or matched_cmp >= 0
    return matched_cmp >= superseding_inv


def last_acknowledged(writes: Iterable[Write], name: str) -> Write | None:
    """The acknowledged write to ``name`` that completed last."""
    latest: Write | None = None
    for w in writes:
        if w.status == OK and name in w.fields and (latest is None or w.cmp > latest.cmp):  # type: ignore[operator]
            latest = w
    return latest
