"""One fast pass over ``history.jsonl`` into columns (numpy arrays), for runs of millions of ops.

Parsing every line with ``json.loads`` costs seconds per million lines, so lines written by
:class:`harness.history.HistoryWriter` (compact JSON, keys in a fixed order) are matched by one
regular expression over whole chunks; a chunk where any line does not match falls back to
per-line parsing through :meth:`harness.history.Op.from_json`. Only the few fault (``nemesis``)
lines are parsed in full.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from harness.history import NEMESIS, Op

__all__ = ["TYPE_CODES", "Columns", "scan_history"]

TYPE_CODES = {"invoke": 0, "ok": 1, "fail": 2, "info": 3}
NOT_A_CLIENT = -1  # process column value of nemesis (and any other non-integer) processes
CHUNK_BYTES = 32 << 20

_STR = rb'"(?:[^"\\]|\\.)*"'
_LINE = re.compile(
    rb'^\{"index":-?\d+,"time":(-?\d+),"process":(-?\d+|' + _STR + rb"),"
    rb'"type":"(\w+)","f":"((?:[^"\\]|\\.)*)"'
    rb'(?:,"key":(?:null|' + _STR + rb'),"value":\{(?:"id":(?:' + _STR + rb"|-?\d+),)?"
    rb'"practitioner_id":"((?:[^"\\]|\\.)*)","patient_id":"((?:[^"\\]|\\.)*)")?',
    re.M,
)
_NEMESIS_MARK = b'"process":"' + NEMESIS.encode() + b'"'

Row = tuple[bytes, bytes, bytes, bytes, bytes, bytes]


@dataclass(frozen=True, slots=True)
class Columns:
    """The history as parallel arrays, in file order, plus the fault ops parsed in full.

    ``process`` is the client process id or ``NOT_A_CLIENT``; ``type`` a :data:`TYPE_CODES`
    value; ``f`` an index into ``f_names``. ``writers``/``patients`` hold who had an
    acknowledged create or update."""

    time: npt.NDArray[np.int64]
    process: npt.NDArray[np.int64]
    type: npt.NDArray[np.int8]
    f: npt.NDArray[np.int16]
    f_names: tuple[str, ...]
    nemesis: tuple[Op, ...]
    writers: frozenset[str]
    patients: frozenset[str]
    skipped_lines: int


def scan_history(path: Path) -> Columns:
    f_table: dict[bytes, int] = {}
    times: list[npt.NDArray[np.int64]] = []
    processes: list[npt.NDArray[np.int64]] = []
    types: list[npt.NDArray[np.int8]] = []
    fs: list[npt.NDArray[np.int16]] = []
    nemesis: list[Op] = []
    writers: set[bytes] = set()
    patients: set[bytes] = set()
    skipped = 0
    for chunk in _chunks(path):
        rows = _LINE.findall(chunk)
        if len(rows) == chunk.count(b"\n"):
            nemesis.extend(_nemesis_ops(chunk))
        else:
            rows, faults, bad = _parse_slowly(chunk)
            nemesis.extend(faults)
            skipped += bad
        if not rows:
            continue
        time_col, process_col, type_col, f_col, writer_col, patient_col = zip(*rows, strict=True)
        times.append(np.array(time_col).astype(np.int64))
        proc = np.array(process_col)
        is_client = ~np.char.startswith(proc, b'"')
        processes.append(np.where(is_client, proc, b"-1").astype(np.int64))
        codes = np.full(len(rows), -1, dtype=np.int8)
        type_arr = np.array(type_col)
        for name, code in TYPE_CODES.items():
            codes[type_arr == name.encode()] = code
        types.append(codes)
        names, inverse = np.unique(np.array(f_col), return_inverse=True)
        mapping = np.array([f_table.setdefault(bytes(n), len(f_table)) for n in names], np.int16)
        fs.append(mapping[inverse.reshape(-1)])
        acked_writes = (codes == TYPE_CODES["ok"]) & is_client
        writer_arr, patient_arr = np.array(writer_col), np.array(patient_col)
        writers.update(bytes(w) for w in np.unique(writer_arr[acked_writes]) if w)
        patients.update(bytes(p) for p in np.unique(patient_arr[acked_writes]) if p)
    return Columns(
        time=np.concatenate(times) if times else np.zeros(0, np.int64),
        process=np.concatenate(processes) if processes else np.zeros(0, np.int64),
        type=np.concatenate(types) if types else np.zeros(0, np.int8),
        f=np.concatenate(fs) if fs else np.zeros(0, np.int16),
        f_names=tuple(_text(name) for name in sorted(f_table, key=f_table.__getitem__)),
        nemesis=tuple(sorted(nemesis, key=lambda op: op.index)),
        writers=frozenset(_text(w) for w in writers),
        patients=frozenset(_text(p) for p in patients),
        skipped_lines=skipped,
    )


def _chunks(path: Path) -> Iterator[bytes]:
    """Whole lines, a few MB at a time; a torn (unparsable, unterminated) last line is dropped."""
    carry = b""
    with path.open("rb") as source:
        while block := source.read(CHUNK_BYTES):
            data = carry + block
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            if cut:
                yield data[:cut]
    if carry.strip():
        try:
            json.loads(carry)
        except ValueError:
            return
        yield carry + b"\n"


def _parse_slowly(chunk: bytes) -> tuple[list[Row], list[Op], int]:
    """Line by line, for histories not written by HistoryWriter; unparsable lines are counted."""
    rows: list[Row] = []
    faults: list[Op] = []
    bad = 0
    for line in chunk.splitlines():
        if not line.strip():
            continue
        try:
            op = Op.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError):
            bad += 1
            continue
        rows.append(_row(op))
        if op.process == NEMESIS:
            faults.append(op)
    return rows, faults, bad


def _row(op: Op) -> Row:
    value = op.value if isinstance(op.value, dict) else {}
    process = str(op.process) if isinstance(op.process, int) else json.dumps(str(op.process))
    return (
        str(op.time).encode(),
        process.encode(),
        op.type.encode(),
        op.f.encode(),
        str(value.get("practitioner_id") or "").encode(),
        str(value.get("patient_id") or "").encode(),
    )


def _nemesis_ops(chunk: bytes) -> Iterator[Op]:
    position = chunk.find(_NEMESIS_MARK)
    while position >= 0:
        start = chunk.rfind(b"\n", 0, position) + 1
        end = chunk.find(b"\n", position)
        end = len(chunk) if end < 0 else end
        try:
            op = Op.from_json(json.loads(chunk[start:end]))
        except (ValueError, KeyError, TypeError):
            op = None
        if op is not None and op.process == NEMESIS:
            yield op
        position = chunk.find(_NEMESIS_MARK, end)


def _text(raw: bytes) -> str:
    if b"\\" in raw:
        decoded: str = json.loads(b'"' + raw + b'"')
        return decoded
    return raw.decode("utf-8", "replace")
