"""The final read, white-box: every consultation straight from the database, as digests.

:func:`read_database` reads the ``consultations`` table (schema in the brief) with SQLAlchemy
Core, in id order, a bounded batch at a time (keyset pagination: memory does not grow with the
table beyond the digests kept). :func:`final_read_from_records` converts full records as the
reference API exports them, so the API export and the database read share one conversion.

SQLAlchemy is imported when a database is read, not when this module is imported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit, urlunsplit

from harness.final_read import FinalRead, FinalRecord
from harness.history import OBSERVATION_FIELDS, FieldDigest

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = ["BATCH_ROWS", "final_read_from_records", "final_record", "read_database"]

BATCH_ROWS = 2000
"""Rows fetched per query while streaming the table."""

_COLUMNS = (
    "id",
    "idempotency_key",
    "practitioner_id",
    "patient_id",
    "version",
    "started_at",
    *OBSERVATION_FIELDS,
)


def final_record(row: Mapping[str, object]) -> FinalRecord:
    """One full record (API JSON or database row) as the verifiers compare it: ids as strings,
    each non-null observation field digested, null fields absent."""
    key = row.get("idempotency_key")
    version = row.get("version")
    started = row.get("started_at")
    fields: dict[str, FieldDigest] = {}
    for name in OBSERVATION_FIELDS:
        text = row.get(name)
        if text is not None:
            fields[name] = FieldDigest.of(str(text))
    return FinalRecord(
        id=str(row["id"]),
        key=None if key is None else str(key),
        practitioner_id=str(row.get("practitioner_id")),
        patient_id=str(row.get("patient_id")),
        version=int(version) if isinstance(version, int | str) else 0,
        fields=fields,
        started_at=_iso(started),
    )


def _iso(moment: object) -> str | None:
    """A start time as text: a database may hand back a datetime, an API a string."""
    if moment is None:
        return None
    isoformat = getattr(moment, "isoformat", None)
    return str(isoformat()) if callable(isoformat) else str(moment)


def final_read_from_records(
    records: Iterable[Mapping[str, object]],
    source: Literal["api", "database"] = "api",
    time: int | None = None,
    *,
    complete: bool = True,
    error: str | None = None,
) -> FinalRead:
    """A :class:`FinalRead` from full records (``{id, idempotency_key, practitioner_id,
    patient_id, ..., visit_reason, exam_report, conclusion, prescription, version, ...}``).
    ``time`` is when the read began, in ns since the run started."""
    return FinalRead(source, complete, [final_record(r) for r in records], error, time)


def read_database(
    url: str, *, time_ns: int | None = None, batch_rows: int = BATCH_ROWS
) -> FinalRead:
    """Every row of ``consultations`` at ``url`` (any SQLAlchemy URL; ``postgresql://`` uses
    psycopg 3). A database that cannot be read gives an incomplete read naming the error,
    with the rows read so far, so the verdict is unknown rather than a crash."""
    import sqlalchemy

    records: list[FinalRecord] = []
    engine = sqlalchemy.create_engine(_with_driver(url))
    try:
        with engine.connect() as connection:
            for row in _stream(connection, batch_rows):
                records.append(final_record(row))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = exc.args[0] if exc.args else exc
        message = f"reading {_redacted(url)} failed: {type(exc).__name__}: {reason}"
        return FinalRead("database", False, records, message, time_ns)
    finally:
        engine.dispose()
    return FinalRead("database", True, records, None, time_ns)


def _stream(connection: Connection, batch_rows: int) -> Iterable[Mapping[str, object]]:
    import sqlalchemy

    table = sqlalchemy.table("consultations", *(sqlalchemy.column(c) for c in _COLUMNS))
    query = sqlalchemy.select(*table.columns).order_by(table.c.id).limit(batch_rows)
    last_id: object = None
    while True:
        page = query if last_id is None else query.where(table.c.id > last_id)
        rows = connection.execute(page).mappings().all()
        for row in rows:
            yield dict(row)
        if len(rows) < batch_rows:
            return
        last_id = rows[-1]["id"]


def _with_driver(url: str) -> str:
    scheme, rest = url.split("://", 1) if "://" in url else (url, "")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
