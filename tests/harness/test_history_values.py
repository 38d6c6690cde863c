"""The per-kind client op values: written typed, read as the dicts the practitioners always wrote
(reference reader, listeners) and as :class:`OpValue` (typed reader), key for key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from ackguard.harness.history import (
    OBSERVATION_FIELDS,
    HistoryWriter,
    Op,
    digest_fields,
    read_history,
)
from ackguard.harness.history_read import read_typed_batches
from ackguard.harness.history_values import (
    UNSET,
    ClientValue,
    CreateInvoke,
    CreateOk,
    Digest,
    ListInvoke,
    ListOk,
    ObservedFields,
    OpValue,
    ReadInvoke,
    ReadOk,
    UpdateInvoke,
    UpdateOk,
    digest_values,
)

pytestmark = pytest.mark.unit

WRITTEN = {"visit_reason": "toux sèche", "exam_report": None, "conclusion": "é" * 40}
ALL = {name: WRITTEN.get(name) for name in OBSERVATION_FIELDS}
SEEN = ("k-1", "pr-1", "pa-1")
SEEN_JSON = {"seen_key": "k-1", "seen_practitioner_id": "pr-1", "seen_patient_id": "pa-1"}


def _cases() -> list[tuple[ClientValue, dict[str, Any]]]:
    """Each typed value with the dict the practitioners wrote for it before it was typed."""
    sent, every = digest_values(WRITTEN), digest_values(ALL)
    sent_json, every_json = digest_fields(WRITTEN), digest_fields(ALL)
    create = {"practitioner_id": "pr-1", "patient_id": "pa-1", "started_at": "2026-01-05T09:00:00"}
    update = {"id": "7", "practitioner_id": "pr-1", "patient_id": "pa-1"}
    return [
        (
            CreateInvoke("pr-1", "pa-1", "2026-01-05T09:00:00", every),
            {**create, "fields": every_json},
        ),
        (
            CreateOk("pr-1", "pa-1", "2026-01-05T09:00:00", every, "7", 1, *SEEN),
            {**create, "fields": every_json, "id": "7", "version": 1, **SEEN_JSON},
        ),
        (
            CreateOk("pr-1", "pa-1", "2026-01-05T09:00:00", every, None, None),
            {**create, "fields": every_json, "id": None, "version": None},
        ),
        (UpdateInvoke("7", "pr-1", "pa-1", sent), {**update, "fields": sent_json}),
        (
            UpdateOk("7", "pr-1", "pa-1", sent, 3, "k-1", UNSET, "pa-1"),
            {
                **update,
                "fields": sent_json,
                "version": 3,
                "seen_key": "k-1",
                "seen_patient_id": "pa-1",
            },
        ),
        (ReadInvoke("7"), {"id": "7"}),
        (
            ReadOk("7", True, 2, every, *SEEN),
            {"id": "7", "found": True, "version": 2, "fields": every_json, **SEEN_JSON},
        ),
        (
            ReadOk("7", False, UNSET, dict.fromkeys(OBSERVATION_FIELDS)),
            {"id": "7", "found": False, "fields": dict.fromkeys(OBSERVATION_FIELDS)},
        ),
        (ListInvoke("pr-1", "2026-01-05"), {"practitioner_id": "pr-1", "day": "2026-01-05"}),
        (
            ListOk("pr-1", "2026-01-05", ["k-1", "k-2"], False),
            {
                "practitioner_id": "pr-1",
                "day": "2026-01-05",
                "keys": ["k-1", "k-2"],
                "complete": False,
            },
        ),
    ]


def test_typed_values_read_back_as_the_dicts_they_replace(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    heard: list[Op] = []
    cases = _cases()
    with HistoryWriter(path) as history:
        history.listen(heard.append)
        for number, (value, _json) in enumerate(cases):
            history.record_typed(1, "ok", type(value).__name__, f"k-{number}", value)
    expected = [json for _value, json in cases]
    assert [op.value for op in read_history(path)] == expected
    assert [op.value for op in heard] == expected
    for value, json in cases:  # key order too: the layout of the dicts these replace
        assert list(msgspec.to_builtins(value)) == list(json)


def test_the_typed_reader_decodes_them_as_op_values(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    cases = _cases()
    with HistoryWriter(path) as history:
        for value, _json in cases:
            history.record_typed(1, "ok", type(value).__name__, None, value)
    batches = list(read_typed_batches(path))
    assert all(batch.typed for batch in batches)
    lines = [line for batch in batches for line in batch.lines]
    assert len(lines) == len(cases)
    op_keys = set(OpValue.__struct_fields__)
    for line, (value, json) in zip(lines, cases, strict=True):
        assert set(type(value).__struct_fields__) <= op_keys  # each kind is a part of OpValue
        decoded: OpValue = line.value
        for name in op_keys - {"fields"}:
            assert getattr(decoded, name) == json.get(name, UNSET), name
        if "fields" in json:
            fields = msgspec.json.decode(decoded.fields, type=ObservedFields)
            for name in OBSERVATION_FIELDS:
                digest = json["fields"].get(name)
                assert getattr(fields, name) == (None if digest is None else Digest(**digest))


def test_digest_values_are_the_digests_of_digest_fields() -> None:
    assert {
        name: None if d is None else dict(d) for name, d in digest_values(WRITTEN).items()
    } == digest_fields(WRITTEN)
