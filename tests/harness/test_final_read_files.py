"""final_read.jsonl and final_read.json: written and read back by one contract; files of older
writers still read; a bad file is named with its line or field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ackguard.harness.final_read import FinalRead, FinalRecord, load_final_read, write_final_read
from ackguard.harness.history import FieldDigest
from ackguard.harness.run_files import RunFileError

pytestmark = pytest.mark.unit

RECORDS = [
    FinalRecord("1", "k-1", "pr1", "pa1", 2, {"visit_reason": FieldDigest.of("cough")}),
    FinalRecord("2", None, "pr2", "pa2", 1, {}, "2026-01-05T09:00:00+01:00"),
    FinalRecord("3", "k-3", "pr1", "pa3", 3, {"exam_report": FieldDigest.of("é" * 300)}),
]


def test_a_final_read_reads_back_as_written(tmp_path: Path) -> None:
    write_final_read(tmp_path, FinalRead("database", False, RECORDS, "cut short", 12_000))
    assert load_final_read(tmp_path) == FinalRead("database", False, RECORDS, "cut short", 12_000)


def test_a_run_without_final_read_json_has_no_final_read(tmp_path: Path) -> None:
    (tmp_path / "final_read.jsonl").write_text("", encoding="utf-8")
    assert load_final_read(tmp_path) is None


def test_records_of_an_older_writer_still_read(tmp_path: Path) -> None:
    """Numbers for ids, no key, no version, a digest without prefix, blank lines: the lenient
    reading takes them as the old reader did."""
    old = {
        "id": 7,
        "practitioner_id": 3,
        "patient_id": "pa",
        "fields": {"conclusion": {"digest": "ab", "length": 2}},
    }
    lines = [json.dumps(RECORDS[0].to_json()), "", json.dumps(old)]
    (tmp_path / "final_read.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "final_read.json").write_text('{"source": "api", "complete": true}')
    read = load_final_read(tmp_path)
    assert read is not None and read.time is None and read.error is None
    assert read.records == [
        RECORDS[0],
        FinalRecord("7", None, "3", "pa", 0, {"conclusion": FieldDigest("ab", 2, "")}),
    ]


def test_a_damaged_record_line_is_named(tmp_path: Path) -> None:
    lines = [json.dumps(r.to_json()) for r in RECORDS]
    lines[1] = lines[1][:40]
    (tmp_path / "final_read.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "final_read.json").write_text('{"source": "api", "complete": true}')
    with pytest.raises(RunFileError, match=r"^final_read\.jsonl: line 2: "):
        load_final_read(tmp_path)


def test_a_record_without_its_practitioner_is_named(tmp_path: Path) -> None:
    record = RECORDS[0].to_json()
    del record["practitioner_id"]
    (tmp_path / "final_read.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    (tmp_path / "final_read.json").write_text('{"source": "api", "complete": true}')
    with pytest.raises(RunFileError, match="line 1: no 'practitioner_id'"):
        load_final_read(tmp_path)


@pytest.mark.parametrize(
    ("meta", "named"),
    [
        ('{"complete": true}', "missing required field `source`"),
        ('{"source": "api", "complete": "yes"}', r"`\$\.complete`"),
        ('{"source": "api", "complete": true, "time": 1.5}', r"`\$\.time`"),
        ("[1]", "Expected `object`"),
    ],
)
def test_a_bad_final_read_json_is_named_with_its_field(
    tmp_path: Path, meta: str, named: str
) -> None:
    (tmp_path / "final_read.json").write_text(meta, encoding="utf-8")
    with pytest.raises(RunFileError, match=rf"^final_read\.json: .*{named}"):
        load_final_read(tmp_path)
