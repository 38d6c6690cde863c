"""The fast history scan agrees with read_history, line for line, on any writer's layout."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from ackguard.harness.history import NEMESIS, HistoryReading, HistoryWriter, read_history
from ackguard.harness.history_read import read_batches, read_range_batches
from ackguard.reports.history_scan import TYPE_CODES, scan_history
from tests.reports.runbuilder import synthetic_run


def _reference(path: Path) -> tuple[list[int], list[int], list[int], list[str], set[str], set[str]]:
    ops = list(read_history(path))
    writers = {
        str(op.value["practitioner_id"])
        for op in ops
        if op.type == "ok" and op.f in ("create", "update") and op.process != NEMESIS
    }
    patients = {
        str(op.value["patient_id"])
        for op in ops
        if op.type == "ok" and op.f in ("create", "update") and op.process != NEMESIS
    }
    return (
        [op.time for op in ops],
        [op.process if isinstance(op.process, int) else -1 for op in ops],
        [TYPE_CODES[op.type] for op in ops],
        [op.f for op in ops],
        writers,
        patients,
    )


def _assert_same(path: Path) -> None:
    columns = scan_history(path)
    times, processes, types, fs, writers, patients = _reference(path)
    assert columns.time.tolist() == times
    assert columns.process.tolist() == processes
    assert columns.type.tolist() == types
    assert [columns.f_names[code] for code in columns.f.tolist()] == fs
    assert columns.writers == writers and columns.patients == patients
    assert [op.f for op in columns.nemesis] == [
        f for f, p in zip(fs, processes, strict=True) if p == -1
    ]


def test_fast_scan_matches_read_history(tmp_path: Path) -> None:
    synthetic_run(
        tmp_path, operations=4000, duration_s=30, practitioners=50, write_final_records=False
    )
    _assert_same(tmp_path / "history.jsonl")


def test_other_layouts_fall_back_to_json_and_torn_last_line_is_skipped(tmp_path: Path) -> None:
    synthetic_run(
        tmp_path, operations=500, duration_s=5, practitioners=20, write_final_records=False
    )
    history = tmp_path / "history.jsonl"
    spaced = tmp_path / "spaced.jsonl"
    lines = [json.loads(line) for line in history.read_text(encoding="utf-8").splitlines()]
    with spaced.open("w", encoding="utf-8") as out:
        for line in lines:  # another writer: spaces after separators, keys reordered
            out.write(json.dumps(dict(reversed(list(line.items())))) + "\n")
        out.write('{"index": 99999, "time": 12')
    _assert_same(spaced)
    columns = scan_history(spaced)
    assert columns.skipped_lines == 0 and columns.time.size == len(lines)
    assert np.array_equal(columns.time, scan_history(history).time)


def test_a_damaged_line_in_the_middle_is_counted_not_fatal(tmp_path: Path) -> None:
    synthetic_run(
        tmp_path, operations=200, duration_s=5, practitioners=20, write_final_records=False
    )
    history = tmp_path / "history.jsonl"
    lines = history.read_bytes().splitlines(keepends=True)
    history.write_bytes(b"".join(lines[:50]) + b"garbage\n" + b"".join(lines[50:]))
    columns = scan_history(history)
    assert columns.skipped_lines == 1 and columns.damaged_lines == (51,)
    assert columns.time.size == len(lines) and not columns.torn_last_line


@pytest.mark.parametrize(
    ("tail", "torn"),
    [
        (b'{"index":99999,"time":12', True),  # cut mid-line by a kill: no newline
        (b"garbage\n", True),  # an unparsable last line, newline or not
        (b"", False),
    ],
)
def test_damage_is_read_as_the_harness_reads_it(tmp_path: Path, tail: bytes, torn: bool) -> None:
    """The same lines are skipped, the same line numbers named and the same torn last line
    said as by the harness's one history reader."""
    synthetic_run(
        tmp_path, operations=300, duration_s=5, practitioners=20, write_final_records=False
    )
    history = tmp_path / "history.jsonl"
    lines = history.read_bytes().splitlines(keepends=True)
    damaged = b"".join(lines[:10]) + b"{not json\n" + b"".join(lines[10:200]) + b"[1,2]\n"
    history.write_bytes(damaged + b"".join(lines[200:]) + tail)
    reading = HistoryReading()
    ops = list(read_history(history, reading))
    columns = scan_history(history)
    assert columns.torn_last_line == reading.torn_last_line == torn
    assert list(columns.damaged_lines) == reading.damaged_lines == [11, 202]
    assert columns.skipped_lines == 2
    assert columns.time.tolist() == [op.time for op in ops]


def test_empty_history(tmp_path: Path) -> None:
    (tmp_path / "history.jsonl").write_bytes(b"")
    columns = scan_history(tmp_path / "history.jsonl")
    assert columns.time.size == 0 and columns.nemesis == ()


def test_simulated_times_are_read_in_the_same_pass_whatever_the_layout(tmp_path: Path) -> None:
    """The practice window spans the first and last create's simulated start, across a change
    of UTC offset; each asked-for key gets its own create's start, other keys none."""
    starts = ["2026-03-28T17:00:00+01:00", "2026-03-29T09:00:00+02:00", "2026-03-28T08:30:00+01:00"]
    history = tmp_path / "history.jsonl"
    with HistoryWriter(history) as writer:
        for n, started in enumerate(starts):
            value = {"practitioner_id": "1", "patient_id": "2", "started_at": started}
            writer.record(n, "invoke", "create", key=f"k-{n}", value=value)
            writer.record(n, "ok", "create", key=f"k-{n}", value=value | {"id": str(n)})
    spaced = tmp_path / "spaced.jsonl"
    lines = [json.loads(line) for line in history.read_text(encoding="utf-8").splitlines()]
    spaced.write_text(
        "".join(json.dumps(dict(reversed(list(line.items())))) + "\n" for line in lines),
        encoding="utf-8",
    )
    for path in (history, spaced):
        columns = scan_history(path, keys={"k-1", "k-9"})
        assert columns.practice_window == (
            datetime.fromisoformat(starts[2]),
            datetime.fromisoformat(starts[1]),
        )
        assert columns.consultation_times == {"k-1": datetime.fromisoformat(starts[1])}
    assert scan_history(history).consultation_times == {}


def test_writers_and_patients_are_exact_whatever_their_ids(tmp_path: Path) -> None:
    """Ids written as decimal integers and any other (leading zeros, commas, other digits,
    numbers beyond 64 bits, non-texts) give the ids the reference reader gives."""
    odd: list[object] = ["007", "0", "", "1,2", "٣", "12345678901234567890", " 8", "+9", "-3"]
    odd += [5, "5", 5.0, True, None, "42"]
    history = tmp_path / "history.jsonl"
    with HistoryWriter(history) as writer:
        for n in range(3000):  # blocks of decimal ids only
            value = {"practitioner_id": str(n % 97 + 1), "patient_id": str(n + 1)}
            writer.record(n, "ok", "create", key=f"k-{n}", value=value)
        for n, who in enumerate(odd):  # then a block mixing them with the rest
            value = {"practitioner_id": who, "patient_id": who}
            writer.record(n, "ok", "update", key=f"k-{n}", value=value)
            writer.record(n, "ok", "create", key=f"j-{n}", value={"practitioner_id": str(n + 1)})
    ops = [op for op in read_history(history) if op.type == "ok" and isinstance(op.value, dict)]
    expected = {
        name: {str(v) for op in ops if (v := op.value.get(name)) is not None and v != ""}
        for name in ("practitioner_id", "patient_id")
    }
    columns = scan_history(history)
    assert columns.writers == expected["practitioner_id"]
    assert columns.patients == expected["patient_id"]
    assert {"007", "0", "٣", "12345678901234567890", "5", "5.0", "True"} <= columns.writers


@pytest.mark.parametrize("block_bytes", [64, 1000, 1 << 18])
def test_a_byte_range_reads_as_the_whole_file_does(tmp_path: Path, block_bytes: int) -> None:
    """read_range_batches (the scan's reader) over the whole file, whatever its block size
    (lines longer than a block included), reads what read_batches reads."""
    synthetic_run(
        tmp_path, operations=300, duration_s=5, practitioners=20, write_final_records=False
    )
    history = tmp_path / "history.jsonl"
    lines = history.read_bytes().splitlines(keepends=True)
    history.write_bytes(
        b"".join(lines[:100]) + b"\n{not json\n" + b"".join(lines[100:]) + b"garbage\n"
    )
    expected, found = HistoryReading(), HistoryReading()
    whole = [(op.time, op.key) for batch in read_batches(history, expected) for op in batch]
    ranged = read_range_batches(history, found, block_bytes=block_bytes)
    assert [(op.time, op.key) for batch in ranged for op in batch] == whole
    assert found == expected and found.torn_last_line and len(found.damaged_lines) == 2
    cut = len(b"".join(lines[:150])) + len(b"\n{not json\n")  # a line start
    first, second = HistoryReading(), HistoryReading()
    head = [op.time for b in read_range_batches(history, first, 0, cut, block_bytes=block_bytes)
            for op in b]  # fmt: skip
    tail = [op.time for b in read_range_batches(history, second, cut, block_bytes=block_bytes)
            for op in b]  # fmt: skip
    assert head + tail == [time for time, _ in whole]
    assert first.damaged_lines == [101, 102] and not first.torn_last_line
    assert second.torn_last_line and first.lines + second.lines == expected.lines
