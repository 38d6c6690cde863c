"""The index built in parts (``part=(number, count)``) is the whole index cut by key: the parts'
records are disjoint, together they are the whole index's records state by state, sorting them
by ``first`` gives the whole index's order, and every count and the op tally add up over the
parts to the whole index's. On the random histories of the fast-path and reader tests (damaged
lines, a torn last line, keyless and keyed lists, ops that end another's flight), read typed from
the file and whole from rows, with and without a final read whose texts the index shares."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ackguard.harness import history_read
from ackguard.harness.final_read import FinalRead
from ackguard.harness.history import (
    HARNESS,
    NEMESIS,
    OBSERVATION_FIELDS,
    HistoryReading,
    read_lines,
)
from ackguard.harness.history_values import CreateFields, Digest, SentFields
from ackguard.harness.verifiers.allowed_value import Write
from ackguard.harness.verifiers.index import (
    HistoryIndex,
    Part,
    RecordState,
    build_index_from_file,
    build_index_from_rows,
    part_of,
)
from tests.verifiers.test_fast_verdict import _final_read, _history
from tests.verifiers.test_reader_agree import _histories, _row, _write

_SYSTEM = (NEMESIS, HARNESS)
_SCALARS = ("operations", "indeterminate", "failed", "reads", "acknowledged_writes", "pending")


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few lines: one history is read partly typed, partly line by line."""
    monkeypatch.setattr(history_read, "BLOCK_BYTES", 700)


def _write_facts(write: Write) -> tuple[Any, ...]:
    fields = {n: None if v is None else dict(v) for n, v in write.fields.items()}
    return (write.inv, write.cmp, write.status, fields)


def _state(record: RecordState) -> dict[str, Any]:
    """Every slot of ``record``, writes by value (a create also by its place among the writes)."""
    facts: dict[str, Any] = {}
    for name in RecordState.__slots__:
        value = getattr(record, name)
        if name == "writes":
            value = [_write_facts(w) for w in value]
        elif name == "creates":
            places = {id(w): n for n, w in enumerate(record.writes)}
            value = [(places[id(w)], _write_facts(w)) for w in value]
        elif isinstance(value, list | tuple) and name != "current":
            value = list(value)
        facts[name] = value
    return facts


def _assert_parts_make_the_whole(whole: HistoryIndex, parts: list[HistoryIndex]) -> None:
    seen: set[str] = set()
    for number, part in enumerate(parts):
        assert not seen & part.records.keys()  # disjoint
        seen |= part.records.keys()
        assert all(part_of(key, len(parts)) == number for key in part.records)
    union = {key: r for part in parts for key, r in part.records.items()}
    assert union.keys() == whole.records.keys()
    for key, record in whole.records.items():
        assert _state(union[key]) == _state(record)
    in_order = sorted(union.values(), key=lambda r: r.first)
    assert [r.key for r in in_order] == list(whole.records)
    for name in _SCALARS:
        assert sum(getattr(p, name) for p in parts) == getattr(whole, name), name
    tally: Counter[tuple[str, str]] = Counter()
    for part in parts:
        tally.update(part.op_tally)
    assert dict(tally) == {k: v for k, v in whole.op_tally.items() if v}


def _from_file(path: Path, final_read: FinalRead | None, part: Part | None) -> HistoryIndex:
    finals = () if final_read is None else final_read.records
    return build_index_from_file(path, HistoryReading(), finals, part=part)


def _firsts(rows: list[tuple[Any, ...]]) -> dict[Any, int]:
    """key -> the number, among the keyed client invokes, of the first that makes a record (a
    read, create or update of it)."""
    keyed = [
        row for row in rows if row[1] not in _SYSTEM and row[2] == "invoke" and row[4] is not None
    ]
    firsts: dict[Any, int] = {}
    for ordinal, (_time, _process, _type, f, key, _value) in enumerate(keyed):
        if f in ("read", "create", "update"):
            firsts.setdefault(key, ordinal)
    return firsts


def _fails(build: Callable[[Part | None], HistoryIndex], part: Part) -> bool:
    """Whether building ``part`` raises the TypeError of an unhashable process (a part raises
    it only when it has an op in flight: an empty dict is not asked for the hash)."""
    try:
        build(part)
    except TypeError:
        return True
    return False


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_history, _histories), _final_read)
def test_the_parts_of_the_index_make_the_whole_index(
    history: tuple[list[Any], list[tuple[int, bytes]], Any], final_read: FinalRead | None
) -> None:
    path = _write(*history)
    rows = list(read_lines(path, _row, HistoryReading()))
    for build in (
        lambda part: _from_file(path, final_read, part),
        lambda part: build_index_from_rows(rows, part=part),
    ):
        try:
            whole = build(None)
        except TypeError:  # a process the index cannot take (a list): some part fails alike
            for count in (2, 3):
                assert any(_fails(build, (number, count)) for number in range(count))
            continue
        assert {k: r.first for k, r in whole.records.items()} == _firsts(rows)
        for count in (2, 3):
            _assert_parts_make_the_whole(whole, [build((n, count)) for n in range(count)])


def test_a_part_skips_another_parts_op_but_ends_the_flight_it_replaces(tmp_path: Path) -> None:
    """The whole index matches a completion to the op its process invoked last: an op of
    another part replaces the one in flight, whose completion then comes to nothing."""
    keys = [f"k{n}" for n in range(40)]
    mine = next(k for k in keys if part_of(k, 2) == 0)
    other = next(k for k in keys if part_of(k, 2) == 1)
    rows = [
        (1, 1, "invoke", "read", mine, {"id": "1"}),
        (2, 1, "invoke", "read", other, {"id": "2"}),  # replaces the read of `mine` in flight
        (3, 1, "ok", "read", other, {"found": True, "fields": {}}),
        (4, 2, "invoke", "list", None, {"practitioner_id": "p1"}),
        (5, 2, "ok", "list", None, {"keys": [], "complete": True}),
    ]
    whole = build_index_from_rows(rows)
    zero, one = (build_index_from_rows(rows, part=(n, 2)) for n in range(2))
    assert list(zero.records) == [mine] and list(one.records) == [other]
    assert zero.records[mine].last_present is None  # the read of `mine` never completed
    assert one.records[other].last_present == 2
    assert (zero.records[mine].first, one.records[other].first) == (0, 1)
    assert zero.op_tally == {("read", "invoked"): 1, ("list", "invoked"): 1, ("list", "ok"): 1}
    assert one.op_tally == {("read", "invoked"): 1, ("read", "ok"): 1}
    assert (zero.reads, one.reads, whole.reads) == (1, 1, 2)
    _assert_parts_make_the_whole(whole, [zero, one])


def test_part_of_is_the_crc32_of_the_key_text() -> None:
    assert part_of("k1", 7) == 2_517_541_033 % 7  # zlib.crc32(b"k1")
    assert part_of(12, 3) == part_of("12", 3)  # repr of 12 is its text
    assert part_of(("a",), 5) == part_of("('a',)", 5)


def test_the_compact_written_fields_read_like_their_dict() -> None:
    """A write's fields as the typed path decodes them (SentFields, CreateFields) name the
    observation fields in their order, and read like the dict the whole path keeps."""
    names = tuple(SentFields.__struct_fields__)
    assert names == tuple(CreateFields.__struct_fields__) == OBSERVATION_FIELDS
    digest = Digest("d", 300, "p")
    sent = SentFields(prescription=digest, visit_reason=None)
    expected = {"visit_reason": None, "prescription": digest}
    assert dict(sent) == expected and list(sent) == list(expected) and len(sent) == 2
    assert sent.items() == list(expected.items()) and sent.values() == [None, digest]
    assert "visit_reason" in sent and "conclusion" not in sent and "get" not in sent
    assert sent.get("conclusion", 7) == 7 and sent["prescription"] is digest
    with pytest.raises(KeyError):
        sent["conclusion"]
    assert dict(CreateFields(conclusion=digest)) == dict.fromkeys(names) | {"conclusion": digest}
