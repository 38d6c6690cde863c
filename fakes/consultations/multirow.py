"""Many rows in one INSERT statement, their new ids in the rows' order.

Written out rather than through SQLAlchemy's insertmanyvalues, which cost five times the
database's own time per row in profiles: on SQLite a multi-row ``INSERT ... VALUES ...
RETURNING id``, on PostgreSQL ``INSERT ... SELECT FROM unnest(...) WITH ORDINALITY ORDER BY``
the row's position (one array parameter per column: the statement's text does not depend on
the number of rows, so the server prepares it once). Either way the database assigns the ids in
row order (SQLite's rowid is one past the largest; the ORDER BY fixes the order the sequence is
drawn in, as SQLAlchemy's own sorted insertmanyvalues relies on), so the returned ids, sorted,
are the rows' ids in order. Other databases: ``None``, the caller inserts its own way.

The writer uses it for a batch of creates that nothing bends (:func:`insert_creates_together`):
on PostgreSQL one round trip instead of one per create, which is what bounded a batch's time
(each round trip waits for the server process to be scheduled, long on a busy machine).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Integer, Table
from sqlalchemy.engine import Connection

from ackguard.fakes.consultations.errors import Answer, ApiError
from ackguard.fakes.consultations.jobs import CreateConsultation, WriteContext, WriteJob
from ackguard.fakes.consultations.schema import consultations

__all__ = ["insert_creates_together", "insert_rows"]

_DIALECTS = ("sqlite", "postgresql")


def insert_creates_together(
    connection: Connection, context: WriteContext, jobs: Sequence[WriteJob]
) -> list[Answer] | None:
    """The answers of a batch made only of creates that nothing bends (see
    :meth:`~.jobs.CreateConsultation.plain_row`; distinct keys), inserted in one statement;
    ``None`` for any other batch, which the writer runs job by job as before (nothing has been
    written then)."""
    if len(jobs) < 2 or connection.dialect.name not in _DIALECTS:
        return None
    creates = [job for job in jobs if isinstance(job, CreateConsultation)]
    if len(creates) != len(jobs) or len({job.key for job in creates}) != len(creates):
        return None
    rows = []
    for job in creates:
        try:
            row = job.plain_row(connection, context)
        except ApiError:  # e.g. an id the database refuses: job by job, it is answered there
            return None
        if row is None:
            return None
        rows.append(row)
    ids = insert_rows(connection, consultations, rows)
    if ids is None:
        return None
    return [job.inserted(new_id, context) for job, new_id in zip(creates, ids, strict=True)]


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
        return sorted(int(found[0]) for found in connection.exec_driver_sql(sql, flat))
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
        return sorted(int(found[0]) for found in connection.exec_driver_sql(sql, params))
    return None
