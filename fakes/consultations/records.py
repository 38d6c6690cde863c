"""Shapes of what the API returns, and conversion from database rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.engine import RowMapping
from typing_extensions import TypedDict

__all__ = [
    "ConsultationRecord",
    "PatientRecord",
    "PractitionerRecord",
    "consultation_record",
    "utc_now_iso",
]


class PractitionerRecord(TypedDict):
    id: str
    name: str
    specialty: str
    rpps: str


class PatientRecord(TypedDict):
    id: str
    name: str
    birth_date: str
    national_id: str


class ConsultationRecord(TypedDict):
    id: str
    idempotency_key: str
    practitioner_id: str
    patient_id: str
    started_at: str
    visit_reason: str | None
    exam_report: str | None
    conclusion: str | None
    prescription: str | None
    version: int
    created_at: str
    updated_at: str


def consultation_record(row: Mapping[str, object] | RowMapping) -> ConsultationRecord:
    def text(name: str) -> str | None:
        value = row[name]
        return None if value is None else str(value)

    version = row["version"]
    return ConsultationRecord(
        id=str(row["id"]),
        idempotency_key=str(row["idempotency_key"]),
        practitioner_id=str(row["practitioner_id"]),
        patient_id=str(row["patient_id"]),
        started_at=str(row["started_at"]),
        visit_reason=text("visit_reason"),
        exam_report=text("exam_report"),
        conclusion=text("conclusion"),
        prescription=text("prescription"),
        version=int(version) if isinstance(version, int | str) else 0,
        created_at=str(row["created_at"]),
        updated_at=str(row["updated_at"]),
    )


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
