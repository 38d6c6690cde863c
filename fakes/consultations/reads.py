"""Reads, on a bounded pool of their own connections (they see committed data only), run in a
thread pool so the event loop never blocks on the database. On SQLite and PostgreSQL the read
by id and the listing pages run on the driver's cursor (:mod:`.driver`), as statements written
once per shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select, text
from sqlalchemy.engine import Engine

from ackguard.fakes.consultations import driver
from ackguard.fakes.consultations.records import ConsultationRecord, consultation_record
from ackguard.fakes.consultations.schema import consultations

__all__ = ["ListQuery", "Page", "get_consultation", "list_consultations", "ping"]


@dataclass(frozen=True)
class ListQuery:
    practitioner_id: int | None
    patient_id: int | None
    after_id: int
    limit: int


@dataclass(frozen=True)
class Page:
    items: list[ConsultationRecord]
    next_cursor: str | None


_BY_ID = select(consultations).where(consultations.c.id == bindparam("id"))


_COLUMNS = ", ".join(column.name for column in consultations.columns)


@cache
def _sql_by_id(mark: str) -> str:
    return f"SELECT {_COLUMNS} FROM {consultations.name} WHERE id = {mark}"


@cache
def _sql_listing(mark: str, by_practitioner: bool, by_patient: bool) -> str:
    filters = "".join(
        f" AND {name} = {mark}"
        for name, wanted in (("practitioner_id", by_practitioner), ("patient_id", by_patient))
        if wanted
    )
    return (
        f"SELECT {_COLUMNS} FROM {consultations.name} WHERE id > {mark}{filters} "
        f"ORDER BY id LIMIT {mark}"
    )


def get_consultation(engine: Engine, record_id: int) -> ConsultationRecord | None:
    if driver.handles(engine.dialect):
        rows = driver.read(engine, _sql_by_id(driver.mark(engine.dialect)), (record_id,))
        return consultation_record(rows[0]) if rows else None
    with engine.connect() as connection:
        row = connection.execute(_BY_ID, {"id": record_id}).mappings().first()
    return None if row is None else consultation_record(row)


def _listing(by_practitioner: bool, by_patient: bool) -> Select[Any]:
    column = consultations.c
    statement = select(consultations).where(column.id > bindparam("after_id"))
    if by_practitioner:
        statement = statement.where(column.practitioner_id == bindparam("practitioner_id"))
    if by_patient:
        statement = statement.where(column.patient_id == bindparam("patient_id"))
    return statement.order_by(column.id).limit(bindparam("limit"))


# Built once, values as parameters: building one per request (and its cache key) cost more
# than running it in profiles.
_LISTINGS = {
    (by_practitioner, by_patient): _listing(by_practitioner, by_patient)
    for by_practitioner in (False, True)
    for by_patient in (False, True)
}


def list_consultations(engine: Engine, query: ListQuery) -> Page:
    shape = (query.practitioner_id is not None, query.patient_id is not None)
    rows: Sequence[Mapping[Any, Any]]
    if driver.handles(engine.dialect):
        params = [query.after_id, query.practitioner_id, query.patient_id, query.limit + 1]
        given = [value for value in params if value is not None]
        rows = driver.read(engine, _sql_listing(driver.mark(engine.dialect), *shape), given)
    else:
        named = {
            "after_id": query.after_id,
            "practitioner_id": query.practitioner_id,
            "patient_id": query.patient_id,
            "limit": query.limit + 1,
        }
        with engine.connect() as connection:
            rows = connection.execute(_LISTINGS[shape], named).mappings().all()
    items = [consultation_record(row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    return Page(items, items[-1]["id"] if more and items else None)


def ping(engine: Engine) -> None:
    """Raises unless the database answers a query that touches a table (on SQLite a bare
    ``SELECT 1`` would not even open the file)."""
    with engine.connect() as connection:
        connection.execute(text("SELECT count(*) FROM practitioners WHERE id = 0")).scalar()
