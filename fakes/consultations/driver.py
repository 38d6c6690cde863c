"""The hot statements on the DBAPI cursor, past SQLAlchemy's execution layer.

Measured on SQLite, ``Connection.execute`` costs 80-150 us of CPU per statement (execution
context, parameter processing, result metadata: rebuilt on every call for a textual statement),
where the database's own work for a PATCH's ``UPDATE ... RETURNING`` or a read by id is ~10 us.
The statements the practitioners' mix runs all the time (a PATCH's update, a read by id, a
listing page) run here on the DBAPI cursor of the same pooled connection, in the same
transaction. A DBAPI error comes out as the SQLAlchemy error SQLAlchemy itself raises for it
(same class, ``connection_invalidated`` from the dialect's own disconnect test; a read's lost
connection invalidates the pool's older ones, as SQLAlchemy does), so the writer's and the
readers' handling of errors is unchanged (the writer replaces its connection after any error).

SQLite and PostgreSQL (:func:`handles`); other databases keep SQLAlchemy's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError, StatementError

__all__ = ["Rows", "handles", "mark", "read", "run"]

Rows = list[dict[str, Any]]
_MARKS = {"sqlite": "?", "postgresql": "%s"}


def handles(dialect: Dialect) -> bool:
    return dialect.name in _MARKS


def mark(dialect: Dialect) -> str:
    """The parameter placeholder of this dialect's driver."""
    return _MARKS[dialect.name]


def run(connection: Connection, sql: str, params: Sequence[object]) -> Rows:
    """Run ``sql`` inside ``connection``'s transaction (begun here if it was not, so that the
    connection's commit commits it); its rows as dicts."""
    if not connection.in_transaction():
        connection.begin()
    dialect, dbapi_connection = connection.dialect, connection.connection.dbapi_connection
    try:
        return _rows(dbapi_connection, sql, params)
    except dialect.loaded_dbapi.Error as exc:
        lost = bool(dialect.is_disconnect(exc, dbapi_connection, None))
        raise _wrapped(dialect, sql, params, exc, lost=lost) from exc


def read(engine: Engine, sql: str, params: Sequence[object]) -> Rows:
    """Run the one-statement read ``sql`` on a pooled connection of ``engine``; its rows."""
    dialect = engine.dialect
    try:  # unlike Engine.connect, the pool raises the driver's own errors
        fairy = engine.raw_connection()
    except dialect.loaded_dbapi.Error as exc:
        raise _wrapped(dialect, sql, params, exc, lost=False) from exc
    lost = False
    try:
        return _rows(fairy.dbapi_connection, sql, params)
    except dialect.loaded_dbapi.Error as exc:
        lost = bool(dialect.is_disconnect(exc, fairy.dbapi_connection, None))
        if lost:  # as Connection does: this one and every older pooled connection replaced
            engine.pool._invalidate(fairy, exc)
        raise _wrapped(dialect, sql, params, exc, lost=lost) from exc
    finally:
        if not lost:
            fairy.close()


def _rows(dbapi_connection: Any, sql: str, params: Sequence[object]) -> Rows:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, params)
        if cursor.description is None:
            return []
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        cursor.close()


def _wrapped(
    dialect: Dialect, sql: str, params: Sequence[object], exc: Exception, *, lost: bool
) -> StatementError:
    return DBAPIError.instance(
        sql, params, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )
