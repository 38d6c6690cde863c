"""``impact.csv``: one row per damaged record, ready to drive a notification mail-merge."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from ackguard.reports.impact import DamagedRecord

__all__ = ["COLUMNS", "write_impact_csv"]

COLUMNS = (
    "kind",
    "practitioner_id",
    "practitioner_rpps",
    "practitioner_name",
    "patient_id",
    "patient_name",
    "patient_national_id",
    "consultation_id",
    "key",
    "fields",
    "ack_time_s",
    "ack_wall_clock",
    "practice_time",
    "detection_time_s",
    "detection_wall_clock",
    "faults_active",
    "verifiers",
    "other_practitioner_id",
    "other_practitioner_name",
    "other_patient_id",
    "other_patient_name",
    "other_patient_national_id",
    "other_key",
    "misattributed_via",
    "time_to_detect_s",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_impact_csv(records: Iterable[DamagedRecord], path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for record in records:
            writer.writerow(_row(record))
    return path


def _row(record: DamagedRecord) -> list[str]:
    ids = " ".join(record.all_ids)
    return [
        record.kind,
        _text(record.practitioner_id),
        _text(record.rpps),
        _text(record.practitioner_name),
        _text(record.patient_id),
        _text(record.patient_name),
        _text(record.national_id),
        _text(ids),
        _text(record.key),
        _text(";".join(record.field_names)),
        _seconds(record.ack_s),
        _wall(record.ack_wall),
        _wall(record.practice_time),
        _seconds(record.detection_s),
        _wall(record.detection_wall),
        _text(";".join(record.faults)),
        ";".join(record.verifiers),
        _text(record.other_practitioner_id),
        _text(record.other_practitioner_name),
        _text(record.other_patient_id),
        _text(record.other_patient_name),
        _text(record.other_national_id),
        _text(record.other_key),
        record.via or "",
        _seconds(record.time_to_detect_s),
    ]


def _text(value: str | None) -> str:
    """Text from the system under test; a leading formula character is quoted so a spreadsheet
    opening the file shows it instead of evaluating it."""
    text = value or ""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _wall(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="milliseconds")
