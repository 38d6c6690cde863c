"""Many rows in one INSERT statement, their new ids in the rows' order.

Written out rather than through SQLAlchemy's insertmanyvalues, which cost five times the
database's own time per row in profiles: on SQLite a multi-row ``INSERT ... VALUES ...
RETURNING id``, on PostgreSQL ``INSERT ... SELECT FROM unnest(...) WITH ORDINALITY ORDER BY``
the row's position (one array parameter per column: the statement's text does not depend on
the number of rows, so the server prepares it once). Either way the database assigns the ids in
row order (SQLite's rowid is one past the largest; the ORDER BY fixes the order the sequence is
drawn in, as SQLAlchemy's own sorted insertmanyvalues relies on), so the returned ids, sorted,
are the rows' ids in order. Run on the driver's cursor (:mod:`.driver`). Other databases:
``None``, the caller inserts its own way.

The writer uses it for the creates of a batch that nothing bends (:func:`insert_creates_together`):
on PostgreSQL one round trip instead of one per create, which is what bounded a batch's time
(each round trip waits for the server process to be scheduled, long on a busy machine).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from sqlalchemy import Integer, Table
from sqlalchemy.engine import Connection

from ackguard.fakes.consultations import driver
from ackguard.fakes.consultations.amend import update_together
from ackguard.fakes.consultations.errors import Answer, ApiError
from ackguard.fakes.consultations.jobs import (
    CreateConsultation,
    PatchConsultation,
    WriteContext,
    WriteJob,
)
from ackguard.fakes.consultations.records import utc_now_iso
from ackguard.fakes.consultations.schema import consultations

__all__ = ["insert_creates_together", "insert_rows", "update_patches_together"]

_DIALECTS = ("sqlite", "postgresql")


def insert_creates_together(
    connection: Connection, context: WriteContext, jobs: Sequence[WriteJob]
) -> dict[int, Answer]:
    """The answers, by position in ``jobs``, of the batch's creates that nothing bends (see
    :meth:`~.jobs.CreateConsultation.plain_row`; a key no other create of the batch carries),
    inserted in one statement when there are two or more. The writer runs them first and the
    other jobs after, in order, as it would have had they come in that order (the batch's
    requests are concurrent: none can depend on another's answer)."""
    if connection.dialect.name not in _DIALECTS:
        return {}
    keys = Counter(job.key for job in jobs if isinstance(job, CreateConsultation))
    chosen: list[tuple[int, CreateConsultation]] = []
    rows = []
    for index, job in enumerate(jobs):
        if not isinstance(job, CreateConsultation) or keys[job.key] > 1:
            continue
        try:
            row = job.plain_row(connection, context)
        except ApiError:  # e.g. an id the database refuses: run alone, it is answered there
            continue
        if row is not None:
            chosen.append((index, job))
            rows.append(row)
    if len(rows) < 2:
        return {}
    ids = insert_rows(connection, consultations, rows)
    if ids is None:
        return {}
    return {
        index: job.inserted(new_id, context)
        for (index, job), new_id in zip(chosen, ids, strict=True)
    }


def update_patches_together(
    connection: Connection, context: WriteContext, jobs: Sequence[WriteJob]
) -> dict[int, Answer]:
    """PostgreSQL, no defect active: the answers, by position in ``jobs``, of the batch's
    PATCHes (the first of each record; a later one of the same record runs after, alone) in one
    statement (:func:`.amend.update_together`) when there are two or more; as for the creates,
    the batch's requests are concurrent, so running them before the others changes nothing."""
    if connection.dialect.name != "postgresql" or context.defects.entries:
        return {}
    chosen: dict[int, tuple[int, PatchConsultation]] = {}
    for index, job in enumerate(jobs):
        if isinstance(job, PatchConsultation):
            chosen.setdefault(job.record_id, (index, job))
    if len(chosen) < 2:
        return {}
    records = update_together(
        connection,
        [(record_id, job.body.changes(), utc_now_iso()) for record_id, (_, job) in chosen.items()],
    )
    return {
        index: job.updated(records.get(record_id)) for record_id, (index, job) in chosen.items()
    }


def insert_rows(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, object]]
) -> list[int] | None:
    """Insert ``rows`` (every column but ``id``) into ``table``; their ids in order, or
    ``None`` when this database has no such statement here."""
    names = [column.name for column in table.columns if column.name != "id"]
    columns = ",".join(names)
    dialect = connection.dialect.name
    if dialect == "sqlite":
        values = ",".join(["(" + ",".join("?" * len(names)) + ")"] * len(rows))
        sql = f"INSERT INTO {table.name} ({columns}) VALUES {values} RETURNING id"
        flat = tuple(row[name] for row in rows for name in names)
        return sorted(int(found["id"]) for found in driver.run(connection, sql, flat))
    if dialect == "postgresql":
        arrays = ",".join(
            "%s::integer[]" if isinstance(table.c[name].type, Integer) else "%s::text[]"
            for name in names
        )
        sql = (
            f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM unnest({arrays}) "
            f"WITH ORDINALITY AS given({columns}, position) ORDER BY position RETURNING id"
        )
        params = tuple([row[name] for row in rows] for name in names)
        return sorted(int(found["id"]) for found in driver.run(connection, sql, params))
    return None
