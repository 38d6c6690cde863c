"""A history scanned in parts, by worker processes, gives exactly the columns of one pass."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from ackguard.harness.history import HistoryReading, HistoryWriter, read_history
from ackguard.reports.history_scan import Columns, scan_history
from tests.reports.runbuilder import synthetic_run

pytestmark = pytest.mark.process  # the parts are read by worker processes


def _assert_equal(one: Columns, other: Columns) -> None:
    for name in (f.name for f in fields(Columns) if f.compare):
        mine, theirs = getattr(one, name), getattr(other, name)
        if isinstance(mine, np.ndarray):
            assert mine.dtype == theirs.dtype and np.array_equal(mine, theirs), name
        else:
            assert mine == theirs, name


def _history(tmp_path: Path) -> tuple[Path, list[bytes]]:
    synthetic_run(
        tmp_path, operations=3000, duration_s=30, practitioners=40, write_final_records=False
    )
    history = tmp_path / "history.jsonl"
    return history, history.read_bytes().splitlines(keepends=True)


def _spaced(line: bytes) -> bytes:
    """The line as another writer writes it: spaces after separators, keys reordered."""
    return json.dumps(dict(reversed(list(json.loads(line).items())))).encode() + b"\n"


DAMAGE = {
    "none": lambda lines: b"".join(lines),
    "damaged, blank and spaced lines, torn last line": lambda lines: (
        b"garbage\n"
        + b"".join(lines[:700])
        + b"\n{not json\n"
        + b"".join(map(_spaced, lines[700:900]))
        + b"[1,2]\n"
        + b"".join(lines[900:-20])
        + b"garbage near the end, in the last part\n"
        + b"".join(lines[-20:])
        + b'{"index":99999,"time":12'
    ),
    "unparsable last line with its newline": lambda lines: b"".join(lines) + b"garbage\n",
    "every other line damaged, so parts end on damage": lambda lines: b"".join(
        line + b"}" + line[1:] for line in lines
    ),
    "no newline at the end": lambda lines: b"".join(lines).rstrip(b"\n"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_parts_give_the_columns_of_one_pass(tmp_path: Path, damage: str) -> None:
    history, lines = _history(tmp_path)
    history.write_bytes(DAMAGE[damage](lines))
    keys = {f"k-{n}" for n in range(0, 3000, 7)}
    whole = scan_history(history, keys, parts=1)
    reading = HistoryReading()
    ops = list(read_history(history, reading))
    assert whole.time.tolist() == [op.time for op in ops]  # and one pass is the reference's
    assert list(whole.damaged_lines) == reading.damaged_lines[:10]
    assert whole.skipped_lines == len(reading.damaged_lines)
    assert whole.torn_last_line == reading.torn_last_line
    assert [op.f for op in whole.nemesis] == [
        op.f for _, op in reading.system_ops if op.process == "nemesis"
    ]
    for parts in (2, 5):
        _assert_equal(scan_history(history, keys, parts=parts), whole)


def test_practice_window_and_consultation_times_merge_across_parts(tmp_path: Path) -> None:
    """Creates in different parts, across a change of UTC offset: the window spans all of
    them, and a key created twice keeps its first create's start."""
    starts = ["2026-03-28T17:00:00+01:00", "2026-03-29T09:00:00+02:00", "2026-03-28T08:30:00+01:00"]
    history = tmp_path / "history.jsonl"
    with HistoryWriter(history) as writer:
        for n, started in enumerate([*starts, "2026-03-30T09:00:00+02:00"]):
            key = f"k-{n % 3}"
            value = {"practitioner_id": str(n), "patient_id": "2", "started_at": started}
            writer.record(n, "invoke", "create", key=key, value=value)
            writer.record(n, "ok", "create", key=key, value=value | {"id": str(n)})
    whole = scan_history(history, keys={"k-0", "k-1"}, parts=1)
    assert whole.consultation_times["k-0"].isoformat() == starts[0]
    assert whole.practice_window is not None
    assert whole.practice_window[1].isoformat() == "2026-03-30T09:00:00+02:00"
    for parts in (2, 3, 8):
        _assert_equal(scan_history(history, keys={"k-0", "k-1"}, parts=parts), whole)


def test_more_parts_than_lines_and_an_empty_history(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    history.write_bytes(b"")
    assert scan_history(history, parts=4).time.size == 0
    with HistoryWriter(history) as writer:
        writer.record(0, "invoke", "read", key="k", value=None)
    _assert_equal(scan_history(history, parts=4), scan_history(history, parts=1))
