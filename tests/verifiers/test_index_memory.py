"""What the index and the final read share to hold less memory, without changing any value: a
written digest equal to its record's final one is the final one's object, and the final read
holds one object per practitioner and patient id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ackguard.harness.final_read import FinalRead, load_records, write_final_read
from ackguard.harness.history import OBSERVATION_FIELDS
from ackguard.harness.verifiers.index import HistoryIndex, build_index_from_file
from tests.verifiers.builder import FIELDS, History, record


def _history_file(tmp_path: Path) -> Path:
    history = History()
    history.create_invoke(1, "k1")
    history.create_done(1, "k1")
    history.update_invoke(1, "k1", {"conclusion": "flu"})
    history.update_done(1, "k1", "ok", {"conclusion": "flu"})
    history.create_invoke(2, "k2")
    history.create_done(2, "k2", record_id="2")
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"".join(orjson.dumps(op.to_json()) + b"\n" for op in history.ops))
    return path


def _facts(index: HistoryIndex) -> dict[str, Any]:
    return {
        key: [(w.inv, w.cmp, w.status, dict(w.fields)) for w in state.writes]
        for key, state in index.records.items()
    }


def test_written_digests_equal_to_the_final_ones_are_the_final_ones(tmp_path: Path) -> None:
    path = _history_file(tmp_path)
    found = record("k1", FIELDS | {"conclusion": "flu"})
    alone = build_index_from_file(path)
    shared = build_index_from_file(path, final_records=[found])
    assert _facts(shared) == _facts(alone)
    create, update = shared.records["k1"].writes
    final = found.fields
    assert create.fields["visit_reason"] is final["visit_reason"]
    assert create.fields["exam_report"] is final["exam_report"]
    assert update.fields["conclusion"] is final["conclusion"]
    # the create's conclusion ("cold") is not the final one: it keeps its own
    assert create.fields["conclusion"] != final["conclusion"]
    assert create.fields["conclusion"].digest is not final["conclusion"].digest
    assert shared.records["k1"].key is found.key
    assert create.fields["prescription"] is None  # null: nothing to share
    assert tuple(create.fields) == OBSERVATION_FIELDS


def test_the_final_read_holds_one_object_per_owner_id(tmp_path: Path) -> None:
    first, second = record("k1", record_id="1"), record("k2", record_id="2")
    write_final_read(tmp_path, FinalRead("api", True, [first, second], None, 0))
    loaded = load_records(tmp_path / "final_read.jsonl")
    assert loaded == [first, second]
    assert loaded[0].practitioner_id is loaded[1].practitioner_id
    assert loaded[0].patient_id is loaded[1].patient_id
