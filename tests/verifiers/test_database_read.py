"""The white-box final read: a real SQLite file and the machine's PostgreSQL server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from ackguard.harness.final_read import final_read_from_records, read_database
from ackguard.harness.history import FieldDigest

ROWS: list[dict[str, object]] = [
    {"id": 1, "idempotency_key": "k1", "visit_reason": "cough", "exam_report": "x" * 2000},
    {"id": 2, "idempotency_key": "k2", "visit_reason": None, "conclusion": "cold"},
    {"id": 3, "idempotency_key": None, "prescription": "rest"},
    {"id": 10, "idempotency_key": "k1", "visit_reason": ""},
]


def create_schema(engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "consultations",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("idempotency_key", sa.String(128)),
        sa.Column("practitioner_id", sa.Integer, nullable=False),
        sa.Column("patient_id", sa.Integer, nullable=False),
        sa.Column("started_at", sa.String, nullable=False),
        *(
            sa.Column(n, sa.Text)
            for n in ("visit_reason", "exam_report", "conclusion", "prescription")
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String, nullable=False),
        sa.Column("updated_at", sa.String, nullable=False),
    )
    metadata.create_all(engine)
    base: dict[str, object] = {
        "practitioner_id": 4,
        "patient_id": 5,
        "started_at": "2026-03-02T09:00:00+01:00",
        "version": 2,
    }
    base |= {"created_at": "2026-03-02T09:00:00Z", "updated_at": "2026-03-02T09:00:00Z"}
    empty = dict.fromkeys(("visit_reason", "exam_report", "conclusion", "prescription"))
    with engine.begin() as connection:
        connection.execute(sa.insert(table), [base | empty | row for row in reversed(ROWS)])


def assert_read(url: str) -> None:
    read = read_database(url, time_ns=77, batch_rows=2)  # several pages
    assert (read.source, read.complete, read.error, read.time) == ("database", True, None, 77)
    assert [r.id for r in read.records] == ["1", "2", "3", "10"]
    first = read.records[0]
    assert (first.key, first.practitioner_id, first.patient_id, first.version) == (
        "k1",
        "4",
        "5",
        2,
    )
    assert first.fields == {
        "visit_reason": FieldDigest.of("cough"),
        "exam_report": FieldDigest.of("x" * 2000),
    }
    assert first.fields["exam_report"].length == 2000
    assert read.records[1].fields == {"conclusion": FieldDigest.of("cold")}, (
        "null fields are absent"
    )
    assert read.records[2].key is None
    assert read.records[3].fields == {"visit_reason": FieldDigest.of("")}


def test_reads_a_sqlite_file_in_id_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'consultations.db'}"
    engine = sa.create_engine(url)
    create_schema(engine)
    engine.dispose()
    assert_read(url)


def test_a_database_without_the_table_is_an_incomplete_read_naming_the_error(
    tmp_path: Path,
) -> None:
    read = read_database(f"sqlite:///{tmp_path / 'empty.db'}")
    assert read.complete is False and read.records == []
    assert read.error is not None and "consultations" in read.error


@pytest.fixture
def postgres_url() -> Iterator[str]:
    admin = sa.create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT"
    )
    name = f"ackguard_read_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"no PostgreSQL server at 127.0.0.1:5432: {exc.args[0]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.postgres
def test_reads_a_postgresql_database_in_id_order(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    create_schema(engine)
    engine.dispose()
    assert_read(postgres_url)


def test_api_export_records_convert_like_database_rows() -> None:
    exported = [
        {
            "id": 12,
            "idempotency_key": "k1",
            "practitioner_id": "4",
            "patient_id": 5,
            "started_at": "2026-03-02T09:00:00+01:00",
            "visit_reason": "cough",
            "exam_report": None,
            "conclusion": "cold",
            "prescription": None,
            "version": 3,
            "created_at": "2026-03-02T09:00:00Z",
            "updated_at": "2026-03-02T09:05:00Z",
        }
    ]
    read = final_read_from_records(exported, source="api", time=5)
    assert (read.source, read.complete, read.time) == ("api", True, 5)
    (found,) = read.records
    assert (found.id, found.key, found.practitioner_id, found.patient_id, found.version) == (
        "12",
        "k1",
        "4",
        "5",
        3,
    )
    assert found.fields == {
        "visit_reason": FieldDigest.of("cough"),
        "conclusion": FieldDigest.of("cold"),
    }
