"""final_read.jsonl and final_read.json: written and read back by one contract; files of older
writers still read; a bad file is named with its line or field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ackguard.harness.final_read import (
    FinalFields,
    FinalRead,
    FinalRecord,
    load_final_read,
    load_records,
    record_ids,
    write_final_read,
)
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


def test_a_record_s_fields_read_like_the_dict_of_the_fields_present() -> None:
    """FinalFields: a field empty in the store is absent; a mapping given is made one (a null
    or a name other than an observation field's is not kept), equal to that mapping."""
    cough, fever = FieldDigest.of("cough"), FieldDigest.of("fever")
    given = {"conclusion": fever, "visit_reason": cough, "prescription": None, "other": cough}
    found = FinalRecord("1", "k-1", "pr1", "pa1", 1, given)
    fields = found.fields
    assert isinstance(fields, FinalFields)
    assert fields == {"visit_reason": cough, "conclusion": fever}
    assert fields != {"visit_reason": cough}
    assert list(fields.items()) == [("visit_reason", cough), ("conclusion", fever)]
    assert "conclusion" in fields and "prescription" not in fields and "other" not in fields
    assert fields["visit_reason"] is cough and fields.get("exam_report") is None
    assert len(fields) == 2 and list(fields) == ["visit_reason", "conclusion"]
    with pytest.raises(KeyError):
        fields["prescription"]
    assert found.to_json()["fields"] == {
        "visit_reason": cough.to_json(),
        "conclusion": fever.to_json(),
    }
    assert found == FinalRecord("1", "k-1", "pr1", "pa1", 1, FinalFields.of(given))


def test_a_loaded_final_read_holds_one_object_per_long_length(tmp_path: Path) -> None:
    """Lengths above 256 are objects of their own: the records read back share one per value."""
    texts = ["a" * 1000, "b" * 1000, "c" * 999]
    records = [
        FinalRecord(str(n), f"k-{n}", "pr", "pa", 1, {"exam_report": FieldDigest.of(text)})
        for n, text in enumerate(texts)
    ]
    write_final_read(tmp_path, FinalRead("api", True, records, None, 0))
    loaded = load_records(tmp_path / "final_read.jsonl")
    assert loaded == records
    lengths = [r.fields["exam_report"].length for r in loaded]
    assert lengths == [1000, 1000, 999] and lengths[0] is lengths[1]


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
    assert list(record_ids(tmp_path / "final_read.jsonl")) == [RECORDS[0].id, "7"]
    facts = load_final_read(tmp_path, records=False)  # what a verification in parts holds
    assert facts is not None and facts.records == [] and facts.stored == facts.size == 0


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
