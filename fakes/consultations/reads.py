"""Reads, on a bounded pool of their own connections (they see committed data only), run in a
thread pool so the event loop never blocks on the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import Engine

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


def get_consultation(engine: Engine, record_id: int) -> ConsultationRecord | None:
    with engine.connect() as connection:
        row = connection.execute(_BY_ID, {"id": record_id}).mappings().first()
    return None if row is None else consultation_record(row)


def list_consultations(engine: Engine, query: ListQuery) -> Page:
    column = consultations.c
    statement = select(consultations).where(column.id > query.after_id)
    if query.practitioner_id is not None:
        statement = statement.where(column.practitioner_id == query.practitioner_id)
    if query.patient_id is not None:
        statement = statement.where(column.patient_id == query.patient_id)
    statement = statement.order_by(column.id).limit(query.limit + 1)
    with engine.connect() as connection:
        rows = connection.execute(statement).mappings().all()
    items = [consultation_record(row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    return Page(items, items[-1]["id"] if more and items else None)


def ping(engine: Engine) -> None:
    """Raises unless the database answers a query that touches a table (on SQLite a bare
    ``SELECT 1`` would not even open the file)."""
    with engine.connect() as connection:
        connection.execute(text("SELECT count(*) FROM practitioners WHERE id = 0")).scalar()
