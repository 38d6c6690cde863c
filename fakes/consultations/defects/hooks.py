"""The hook protocol through which a defect changes a consultation write.

A write (a create or a PATCH of a consultation) is described by a :class:`WriteCall`. Before
anything is written, the writer calls :meth:`DefectHooks.before_write` of every defect that
covers the write (its cohort and window), in the order of the active set; each may change what
is stored, where, whether the write happens, when it is answered and committed. After the
write, :meth:`DefectHooks.after_write` may schedule follow-up steps. A defect is one module
holding a :class:`DefectHooks` subclass and its ``KIND`` (see :mod:`.spec`), plus a line in
:mod:`.registry` and its parameter model in :mod:`.params`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

if TYPE_CHECKING:  # imported at run time only by the writer: the harness reads defect params
    from sqlalchemy.engine import Connection

__all__ = ["DefectHooks", "FollowUp", "Notes", "WriteCall", "set_notes"]

Notes = dict[str, str | None]
P = TypeVar("P")


@dataclass
class FollowUp:
    """A step run after the commit, in its own transaction, once ``due`` (monotonic) passed."""

    due: float
    description: str
    action: Callable[[Connection], None]


@dataclass
class WriteCall:
    """One consultation write as the defects see and bend it.

    ``sent`` is what the client sent (a create: all four fields; a PATCH: the changed ones);
    ``stored`` what will be stored in them; ``row_notes`` (creates) what the first INSERT
    carries, when it differs from ``stored``; ``before`` the fields as stored before a PATCH.
    ``record_id`` is the consultation written: known for a PATCH (a hook may change it),
    set after the INSERT for a create. ``clock`` is ``time.monotonic()`` after the write."""

    op: Literal["create", "update"]
    connection: Connection
    practitioner_id: int
    sent: Notes
    stored: Notes
    record_id: int | None = None
    before: Notes = field(default_factory=dict)
    row_notes: Notes | None = None
    check_key: bool = True  # creates: replay an existing record of the Idempotency-Key
    write: bool = True  # False: answered as if written, nothing written
    defer_s: float | None = None  # answer now, commit this much later
    answer_on_error: bool = False  # a database error is answered 2xx anyway
    clock: float = 0.0
    followups: list[FollowUp] = field(default_factory=list)

    @property
    def insert_notes(self) -> Notes:
        return self.stored if self.row_notes is None else self.row_notes


class DefectHooks(Generic[P]):
    """What a defect does to a covered write; every hook does nothing unless overridden."""

    def before_write(self, params: P, call: WriteCall) -> None:
        """Before the write: change ``stored``, ``row_notes``, ``record_id``, ``write``,
        ``check_key``, ``defer_s``, ``answer_on_error``."""

    def after_write(self, params: P, call: WriteCall) -> None:
        """After the write (only when it was written): add ``followups``."""


def set_notes(record_id: int, notes: Notes, *, only_if_null: bool) -> Callable[[Connection], None]:
    """A follow-up action writing ``notes`` to a consultation (``only_if_null``: where null)."""

    def action(connection: Connection) -> None:
        from sqlalchemy import func, update

        from ackguard.fakes.consultations.schema import OBSERVATION_FIELDS, consultations

        column = consultations.c
        values = {
            name: func.coalesce(column[name], text) if only_if_null else text
            for name, text in notes.items()
            if name in OBSERVATION_FIELDS
        }
        connection.execute(update(consultations).where(column.id == record_id).values(**values))

    return action
