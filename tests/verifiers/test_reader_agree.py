"""The shared history reader agrees with the reference reader on any history: the same ops, the
same damaged lines, the same torn last line, the same nemesis and harness ops; the index built
from either is the same; the report's columns are too. The reference is
:func:`harness.history.read_lines` with the rows the verifiers always read (``read_history``
with its :class:`Op`, but a client op needs no ``index``: the verifiers never required one).

Histories are random: client ops of a few processes on a few records (creates, updates, reads,
lists with digests, ids and identity fields), faults and the end marker, written by the real
:class:`HistoryWriter`; then lines are damaged (garbage, blank, not an object, a missing or
mistyped field, a number beyond 64 bits, another key order or spacing) and the last line may be
torn. Blocks are made tiny so that a history spans many, some read at once, some line by line.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ackguard.harness import history_read
from ackguard.harness.history import (
    HARNESS,
    NEMESIS,
    HistoryReading,
    HistoryWriter,
    digest_fields,
    read_history,
    read_lines,
)
from ackguard.harness.history_read import read_batches
from ackguard.harness.verifiers.index import (
    HistoryIndex,
    build_index_from_file,
    build_index_from_rows,
)
from ackguard.reports.history_scan import TYPE_CODES, scan_history

KEYS = ("k1", "k2", "k3")
TEXTS = ("cough", "fever", "", "é 12:1234567890123456789", None)

_text = st.sampled_from(TEXTS)
_fields = st.dictionaries(
    st.sampled_from(("visit_reason", "exam_report", "conclusion", "prescription")), _text
)
_value = st.one_of(
    st.none(),
    st.builds(
        lambda fields, practitioner, patient, record_id, seen: {
            "practitioner_id": practitioner,
            "patient_id": patient,
            **({"id": record_id} if record_id is not None else {}),
            **({"seen_key": seen} if seen is not None else {}),
            "fields": digest_fields(fields),
        },
        _fields,
        st.sampled_from(("p1", "p2")),
        st.sampled_from(("a", "b")),
        st.one_of(st.none(), st.sampled_from(("1", "2", 3))),
        st.one_of(st.none(), st.sampled_from(KEYS)),
    ),
    st.builds(
        lambda found, fields: {"found": found, "fields": digest_fields(fields)},
        st.booleans(),
        _fields,
    ),
    st.builds(
        lambda keys, complete: {"keys": keys, "complete": complete},
        st.lists(st.sampled_from(KEYS), max_size=3),
        st.booleans(),
    ),
    st.builds(
        lambda practitioner, patient: {"practitioner_id": practitioner, "patient_id": patient},
        st.sampled_from(("p1", "p2")),
        st.one_of(st.none(), st.sampled_from(("a", "b"))),
    ),
)
_client_op = st.tuples(
    st.integers(0, 3),
    st.sampled_from(("invoke", "ok", "fail", "info")),
    st.sampled_from(("create", "update", "read", "list")),
    st.one_of(st.none(), st.sampled_from(KEYS)),
    _value,
)
_system_op = st.tuples(
    st.sampled_from((NEMESIS, HARNESS)),
    st.sampled_from(("invoke", "ok")),
    st.sampled_from(("start", "stop", "end")),
    st.none(),
    st.one_of(st.none(), st.just({"fault": "kill"})),
)
_DAMAGE = (
    b"garbage",
    b"",
    b"   ",
    b"[1,2]",
    b'"text"',
    b"{not json",
    b'{"index":1,"process":1,"type":"ok","f":"read"}',  # no time
    b'{"index":1,"time":"12","process":1,"type":"ok","f":"read"}',  # time as text: accepted
    b'{"index":1,"time":12.0,"process":2,"type":"invoke","f":"read","key":"k1"}',  # a float
    b'{"index":1,"time":123456789012345678901,"process":1,"type":"ok","f":"read"}',
    b'{"index":1,"time":5,"process":1,"type":"ok","f":"read","value":99999999999999999999}',
    b'{"time":5,"process":"nemesis","type":"ok","f":"stop"}',  # a fault without its index
    b'{"time":5,"process":3,"type":"invoke","f":"read","key":"k2"}',  # a client op, no index
    b'{"index": 7, "f": "read", "type": "ok", "process": 1, "time": 9, "key": "k1"}',
    b'{"index":1,"time":5,"process":[1],"type":"ok","f":"read"}',
)
_edit = st.tuples(st.integers(0, 10_000), st.sampled_from(_DAMAGE))
_tail = st.sampled_from((None, "cut", b"garbage", b"garbage\n", b"\n"))


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few lines: one history is read partly at once, partly line by line."""
    monkeypatch.setattr(history_read, "BLOCK_BYTES", 700)


@functools.cache
def _scratch() -> str:
    """The folder every example's history goes under, made on first use (not on import: a
    part's process that imports this module ends without running atexit) and removed when the
    test process ends."""
    folder = tempfile.mkdtemp(prefix="ackguard-reader-agree-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _write(
    ops: list[tuple[Any, str, str, Any, Any]], edits: list[tuple[int, bytes]], tail: Any
) -> Path:
    path = Path(tempfile.mkdtemp(prefix="reader-agree-", dir=_scratch())) / "history.jsonl"
    with HistoryWriter(path) as writer:
        for process, type_, f, key, value in ops:
            writer.record(process, type_, f, key=key, value=value)  # type: ignore[arg-type]
    lines = path.read_bytes().splitlines(keepends=True)
    for at, damage in edits:
        lines.insert(at % (len(lines) + 1), damage + b"\n")
    data = b"".join(lines)
    if tail == "cut" and lines:
        data = data[: -max(2, len(lines[-1]) // 2)]
    elif isinstance(tail, bytes):
        data += tail
    path.write_bytes(data)
    return path


def _row(data: Any) -> tuple[Any, ...]:
    """A line as the verifiers always read it (the reference decoder's parse)."""
    return (int(data["time"]), data["process"], data["type"], data["f"], data.get("key"),
            data.get("value"))  # fmt: skip


def _reference(path: Path, strict: bool) -> tuple[list[tuple[Any, ...]], HistoryReading | str]:
    reading = None if strict else HistoryReading()
    try:
        ops = list(read_lines(path, _row, reading))
    except ValueError as exc:
        return [], str(exc)
    assert reading is not None or strict
    return ops, reading if reading is not None else "whole"


def _shared(path: Path, strict: bool) -> tuple[list[tuple[Any, ...]], HistoryReading | str]:
    reading = None if strict else HistoryReading()
    try:
        ops = [(op.time, op.process, op.type, op.f, op.key, op.value)
               for batch in read_batches(path, reading) for op in batch]  # fmt: skip
    except ValueError as exc:
        return [], str(exc)
    return ops, reading if reading is not None else "whole"


def _index_facts(index: HistoryIndex) -> dict[str, Any]:
    records = {
        key: (
            r.attempted, r.ack_time, r.known_time, r.last_present, r.last_absent,
            list(r.absent_reads), list(r.flagged), list(r.misreads), r.record_id,
            r.practitioner_id, r.patient_id,
            [(w.inv, w.cmp, w.status, {n: None if v is None else dict(v)
                                       for n, v in w.fields.items()}) for w in r.writes],
        )
        for key, r in index.records.items()
    }  # fmt: skip
    counts = (index.indeterminate, index.failed, index.reads, index.operations, index.pending)
    return {"records": records, "counts": counts, "ops": index.operation_counts()}


_histories = st.tuples(
    st.lists(st.one_of(_client_op, _client_op, _client_op, _system_op), max_size=40),
    st.lists(_edit, max_size=3),
    _tail,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_histories)
def test_the_shared_reader_reads_what_read_history_reads(
    history: tuple[list[Any], list[tuple[int, bytes]], Any],
) -> None:
    path = _write(*history)
    for strict in (False, True):
        expected_ops, expected = _reference(path, strict)
        got_ops, got = _shared(path, strict)
        assert got_ops == expected_ops
        if isinstance(expected, str):
            assert got == expected  # whole, or the same error naming the same line
            continue
        assert isinstance(got, HistoryReading)
        assert got.lines == expected.lines
        assert got.damaged_lines == expected.damaged_lines
        assert got.torn_last_line == expected.torn_last_line
        assert got.last_time == expected.last_time
        assert got.system_ops == expected.system_ops


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_histories)
def test_the_index_and_the_columns_agree_with_read_history(
    history: tuple[list[Any], list[tuple[int, bytes]], Any],
) -> None:
    path = _write(*history)
    reading = HistoryReading()
    rows = list(read_lines(path, _row, reading))
    try:
        expected: dict[str, Any] | str = _index_facts(build_index_from_rows(rows))
    except Exception as exc:  # a history the index cannot take: both must fail alike
        expected = type(exc).__name__
    try:
        got: dict[str, Any] | str = _index_facts(build_index_from_file(path, HistoryReading()))
    except Exception as exc:
        got = type(exc).__name__
    assert got == expected
    if any(not -(1 << 63) <= row[0] < 1 << 63 for row in rows):
        return  # a time beyond 64 bits has no column: the report is not asked to draw it
    columns = scan_history(path)
    assert columns.time.tolist() == [row[0] for row in rows]
    assert columns.process.tolist() == [p if type(p) is int else -1 for _, p, *_ in rows]
    assert columns.type.tolist() == [TYPE_CODES.get(row[2], -1) for row in rows]
    assert [columns.f_names[c] for c in columns.f.tolist()] == [str(row[3]) for row in rows]
    assert list(columns.damaged_lines) == reading.damaged_lines[:10]
    assert columns.skipped_lines == len(reading.damaged_lines)
    assert columns.torn_last_line == reading.torn_last_line
    assert [op.f for op in columns.nemesis] == [row[3] for row in rows if row[1] == NEMESIS]


def test_read_history_and_the_shared_reader_give_the_same_ops(tmp_path: Path) -> None:
    """On what the writer writes, the typed reader's ops are the shared reader's lines."""
    path = _write([(1, "invoke", "create", "k1", {"fields": digest_fields({"a": "b"})}),
                   (NEMESIS, "invoke", "start", None, {"fault": "kill"}),
                   (1, "ok", "create", "k1", {"id": "1"})], [], "cut")  # fmt: skip
    reading, shared = HistoryReading(), HistoryReading()
    ops = [op.to_json() for op in read_history(path, reading)]
    lines = [op for batch in read_batches(path, shared) for op in batch]
    fields = ("index", "time", "process", "type", "f", "key", "value", "error")
    assert [{name: getattr(line, name) for name in fields} for line in lines] == ops
    assert reading == shared and reading.torn_last_line and len(ops) == 2


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_bytes().splitlines():
        yield json.loads(line)


def test_a_whole_history_is_read_in_blocks_not_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path is the one taken for what the writer writes: the reference decoder is
    never called (it would be, for every line, if the block check refused them)."""
    path = tmp_path / "history.jsonl"
    with HistoryWriter(path) as writer:
        for n in range(200):
            value = {"practitioner_id": "p1", "fields": digest_fields({"conclusion": f"c{n}"})}
            writer.record(n % 7, "invoke", "create", key=f"k{n}", value=value)
            writer.record(n % 7, "ok", "create", key=f"k{n}", value=value | {"id": str(n)})
        writer.finish(status="completed")
    called: list[int] = []

    def refuse(*args: Any) -> Any:
        called.append(1)
        raise AssertionError("the reference decoder was used for a whole history")

    monkeypatch.setattr(history_read, "_decode", refuse)
    reading = HistoryReading()
    ops = [op for batch in read_batches(path, reading) for op in batch]
    assert len(ops) == 401 and not called
    assert [op.time for op in ops] == [line["time"] for line in _lines(path)]
    end = reading.end_marker
    assert end is not None and end[0] == 401 and end[1].value == {"status": "completed"}
