"""The tables (names and columns as the brief fixes them, for white-box final reads) and their
creation on start. Ids are integer primary keys; times are ISO 8601 strings, stored as sent
(``started_at``) or as the service wrote them (``created_at``/``updated_at``, UTC)."""

from __future__ import annotations

import logging

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

__all__ = [
    "OBSERVATION_FIELDS",
    "consultations",
    "create_schema",
    "metadata",
    "patients",
    "practitioners",
    "use_plain_key_index",
]

log = logging.getLogger("fakes.consultations")

OBSERVATION_FIELDS = ("visit_reason", "exam_report", "conclusion", "prescription")

# 20,000 characters can exceed MySQL's TEXT (65,535 bytes) in utf8mb4.
_NOTE = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

metadata = MetaData()

practitioners = Table(
    "practitioners",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("specialty", String(100), nullable=False),
    Column("rpps", String(32), nullable=False),
)

patients = Table(
    "patients",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("birth_date", String(10), nullable=False),
    Column("national_id", String(32), nullable=False),
)

consultations = Table(
    "consultations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(128), nullable=False),
    Column("practitioner_id", Integer, ForeignKey("practitioners.id"), nullable=False),
    Column("patient_id", Integer, ForeignKey("patients.id"), nullable=False),
    Column("started_at", String(64), nullable=False),
    *(Column(name, _NOTE, nullable=True) for name in OBSERVATION_FIELDS),
    Column("version", Integer, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Index("ix_consultations_practitioner", "practitioner_id", "id"),
    Index("ix_consultations_patient", "patient_id", "id"),
)

UNIQUE_KEY_INDEX = Index(
    "uq_consultations_idempotency_key", consultations.c.idempotency_key, unique=True
)
PLAIN_KEY_INDEX = Index("ix_consultations_idempotency_key", consultations.c.idempotency_key)


def _index_names(connection: Connection) -> set[str]:
    return {str(ix["name"]) for ix in inspect(connection).get_indexes("consultations")}


def create_schema(engine: Engine, *, unique_keys: bool) -> None:
    """Create missing tables and the idempotency-key index. ``unique_keys`` is the correct mode;
    if duplicates already exist (a previous defective run) the unique index cannot be built: the
    service logs it and goes on with a plain index, and the duplicates stay visible."""
    with engine.begin() as connection:
        metadata.create_all(connection)
    if not unique_keys:
        with engine.begin() as connection:
            use_plain_key_index(connection)
        return
    with engine.connect() as connection:
        present = _index_names(connection)
    if UNIQUE_KEY_INDEX.name in present:
        return
    try:
        with engine.begin() as connection:
            UNIQUE_KEY_INDEX.create(connection)
    except SQLAlchemyError as exc:
        log.warning("idempotency keys are not unique in this database; no unique index: %s", exc)
        if PLAIN_KEY_INDEX.name not in present:
            with engine.begin() as connection:
                PLAIN_KEY_INDEX.create(connection)


def use_plain_key_index(connection: Connection) -> None:
    """Replace the unique index on idempotency_key by a plain one (non_idempotent_retry)."""
    present = _index_names(connection)
    if PLAIN_KEY_INDEX.name not in present:
        PLAIN_KEY_INDEX.create(connection)
    if UNIQUE_KEY_INDEX.name in present:
        UNIQUE_KEY_INDEX.drop(connection)
