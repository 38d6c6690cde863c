"""A PATCH that no defect covers, in one statement: ``UPDATE ... RETURNING`` the whole row.

The general path (:class:`.jobs.PatchConsultation`) reads the row ``FOR UPDATE`` first: the
defects need its practitioner, its practice time and the fields' values before the write. With
no defect active nothing needs them, and the answer is the row as the UPDATE left it (the
record's fields, the changed ones, ``version`` one more, ``updated_at`` now): the same answer
the two statements give, in one round trip and one statement (the PATCH is most of the
practitioners' mix), run on the driver's cursor (:mod:`.driver`: one text per set of changed
fields).

SQLite (3.35+) and PostgreSQL only (:func:`has_update_returning`); elsewhere (MariaDB has no
``UPDATE ... RETURNING``) the caller takes the general path.

On PostgreSQL a statement is a round trip and most of a PATCH's CPU in the driver, so the
writer updates a batch's PATCHes of distinct records together (:func:`update_together`: one
``UPDATE ... FROM unnest(...)``, each row's changed fields flagged, the other fields kept), as
:mod:`.multirow` inserts the batch's creates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from sqlalchemy.engine import Connection

from ackguard.fakes.consultations import driver
from ackguard.fakes.consultations.records import ConsultationRecord, consultation_record
from ackguard.fakes.consultations.schema import OBSERVATION_FIELDS, consultations

__all__ = ["has_update_returning", "update_returning", "update_together"]

_COLUMNS = ", ".join(column.name for column in consultations.columns)


@cache
def _statement(mark: str, fields: tuple[str, ...]) -> str:
    assigned = "".join(f"{name} = {mark}, " for name in fields)
    return (
        f"UPDATE {consultations.name} SET {assigned}version = version + 1, updated_at = {mark} "
        f"WHERE id = {mark} RETURNING {_COLUMNS}"
    )


def has_update_returning(connection: Connection) -> bool:
    return driver.handles(connection.dialect)


def update_returning(
    connection: Connection, record_id: int, changes: Mapping[str, str | None], updated_at: str
) -> ConsultationRecord | None:
    """The record after the update (``None``: there is no such record)."""
    statement = _statement(driver.mark(connection.dialect), tuple(changes))
    rows = driver.run(connection, statement, (*changes.values(), updated_at, record_id))
    return consultation_record(rows[0]) if rows else None


_UNNESTED = ", ".join(["%s::integer[]", "%s::text[]"] + ["%s::boolean[], %s::text[]"] * 4)
_GIVEN = ", ".join(["id", "updated_at"] + [f"set_{n}, {n}" for n in OBSERVATION_FIELDS])
_TOGETHER = (
    f"UPDATE {consultations.name} AS c SET "
    + "".join(
        f"{name} = CASE WHEN given.set_{name} THEN given.{name} ELSE c.{name} END, "
        for name in OBSERVATION_FIELDS
    )
    + f"version = c.version + 1, updated_at = given.updated_at FROM unnest({_UNNESTED}) "
    + f"AS given({_GIVEN}) WHERE c.id = given.id RETURNING "
    + ", ".join(f"c.{column.name}" for column in consultations.columns)
)


def update_together(
    connection: Connection, patches: Sequence[tuple[int, Mapping[str, str | None], str]]
) -> dict[int, ConsultationRecord]:
    """PostgreSQL: the ``(record_id, changes, updated_at)`` of PATCHes of distinct records in
    one statement; the records after it by id (an id missing: no such record)."""
    if connection.dialect.name != "postgresql":
        raise ValueError(f"update_together is for PostgreSQL, not {connection.dialect.name}")
    if len({record_id for record_id, _, _ in patches}) != len(patches):
        raise ValueError("update_together takes one PATCH per record")
    params: list[list[object]] = [
        [record_id for record_id, _, _ in patches],
        [updated_at for _, _, updated_at in patches],
    ]
    for name in OBSERVATION_FIELDS:
        params.append([name in changes for _, changes, _ in patches])
        params.append([changes.get(name) for _, changes, _ in patches])
    rows = driver.run(connection, _TOGETHER, params)
    return {int(row["id"]): consultation_record(row) for row in rows}
