"""One fast pass over ``history.jsonl`` into columns (numpy arrays), for runs of millions of ops.

Parsing every line with ``json.loads`` (or even one regular expression with groups) costs
seconds per million lines. Lines written by :class:`harness.history.HistoryWriter` are compact
JSON with keys in a fixed order, ``{"index":N,"time":T,"process":P,"type":"X","f":"Y",...``, and
none of those values holds a comma: so the first five commas of each line delimit them, and numpy
finds and decodes them for a whole chunk at once. Each chunk is checked against that layout;
a chunk that does not fit falls back to per-line parsing through
:meth:`harness.history.Op.from_json`. Only the few fault (``nemesis``) lines are parsed in full,
and one literal-led regular expression collects who had an acknowledged write.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ackguard.harness.history import NEMESIS, Op

__all__ = ["TYPE_CODES", "Columns", "scan_history"]

TYPE_CODES = {"invoke": 0, "ok": 1, "fail": 2, "info": 3}
NOT_A_CLIENT = -1  # process column value of nemesis (and any other non-integer) processes
CHUNK_BYTES = 32 << 20
MAX_NAMED_LINES = 10  # damaged lines named by number; the rest only counted

_CHARS = rb'[^"\\]*(?:\\.[^"\\]*)*'  # a JSON string's content, as an unrolled loop
_ACKED_WRITE = re.compile(
    rb'"type":"ok","f":"(?:create|update)","key":(?:null|"' + _CHARS + rb'"),"value":\{'
    rb'(?:"id":(?:"'
    + _CHARS
    + rb'"|-?\d+),)?"practitioner_id":"('
    + _CHARS
    + rb'","patient_id":"'
    + _CHARS
    + rb')"'
)
_TYPE_BYTES = {name.encode(): code for name, code in TYPE_CODES.items()}
_NEMESIS_MARK = b'"process":"' + NEMESIS.encode() + b'"'
# The layout of a HistoryWriter line up to its fifth comma: literal, and where it sits.
_LINE_START = b'{"index":'
_AFTER_COMMA = ((0, b',"time":'), (1, b',"process":'), (2, b',"type":"'), (3, b',"f":"'))
_POW10 = 10 ** np.arange(19, dtype=np.int64)
_MAX_DIGITS = 18  # int64 holds any 18-digit number; times in ns reach 18 digits after 31 years

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
    skipped_lines: int  # damaged lines (not the torn last one), skipped
    damaged_lines: tuple[int, ...] = ()  # their 1-based line numbers, the first few
    torn_last_line: bool = False  # the last line was cut (harness killed mid-write): ignored


def scan_history(path: Path) -> Columns:
    f_table: dict[bytes, int] = {}
    parts: list[ChunkColumns] = []
    nemesis: list[Op] = []
    acked_pairs: set[bytes] = set()  # b'<practitioner_id>","patient_id":"<patient_id>'
    writers: set[bytes] = set()
    patients: set[bytes] = set()
    skipped = 0
    damaged: list[int] = []
    last_bad = 0
    lines_before = 0  # lines in the chunks already read: the next chunk's first line number - 1
    with path.open("rb") as source:
        size = os.fstat(source.fileno()).st_size
        data: mmap.mmap | bytes = (
            mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        )
    try:
        torn = _torn_tail(data)
        for start, end in _line_blocks(data):
            parsed = _parse_fast(data, start, end, f_table)
            if parsed is not None:
                nemesis.extend(_nemesis_ops(data, start, end))
                acked_pairs.update(_ACKED_WRITE.findall(data, start, end))
            else:
                rows, faults, bad = _parse_slowly(data[start:end], lines_before)
                nemesis.extend(faults)
                skipped += len(bad)
                damaged.extend(bad[: MAX_NAMED_LINES - len(damaged)])
                last_bad = bad[-1] if bad else last_bad
                parsed = _columns_of(rows, f_table, writers, patients)
            parts.append(parsed)
            lines_before += _newlines(data, start, end)
        if skipped and not torn and last_bad == _last_line(data, lines_before):
            # an unparsable last line is the torn line of a killed harness, as the harness reads it
            torn, skipped = True, skipped - 1
            damaged = [n for n in damaged if n != last_bad]
    finally:
        if isinstance(data, mmap.mmap):
            with contextlib.suppress(BufferError):  # released with the last view, if one is left
                data.close()
    for pair in acked_pairs:
        writer, _, patient = pair.partition(b'","patient_id":"')
        writers.add(writer)
        patients.add(patient)
    return Columns(
        time=np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64),
        process=np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64),
        type=np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int8),
        f=np.concatenate([p[3] for p in parts]) if parts else np.zeros(0, np.int16),
        f_names=tuple(_text(name) for name in sorted(f_table, key=f_table.__getitem__)),
        nemesis=tuple(sorted(nemesis, key=lambda op: op.index)),
        writers=frozenset(_text(w) for w in writers if w),
        patients=frozenset(_text(p) for p in patients if p),
        skipped_lines=skipped,
        damaged_lines=tuple(damaged),
        torn_last_line=torn,
    )


ChunkColumns = tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int8], npt.NDArray[np.int16]
]


def _parse_fast(
    data: mmap.mmap | bytes, offset: int, end: int, f_table: dict[bytes, int]
) -> ChunkColumns | None:
    """time, process, type and f of every line, or ``None`` if a line is not in the layout."""
    buf = np.frombuffer(data, dtype=np.uint8, count=end - offset, offset=offset)
    ends = np.flatnonzero(buf == ord("\n"))
    if ends.size == 0:
        return None
    starts = np.concatenate(([0], ends[:-1] + 1))
    commas = np.flatnonzero(buf == ord(","))
    first = np.searchsorted(commas, starts)
    if first[-1] + 5 > commas.size:
        return None
    at = [commas[first + k] for k in range(5)]  # the first five commas of each line
    if (at[4] >= ends).any() or not _literal_at(buf, starts, _LINE_START):
        return None
    if not all(_literal_at(buf, at[k], text) for k, text in _AFTER_COMMA):
        return None
    time = _decimal(buf, at[0] + len(_AFTER_COMMA[0][1]), at[1])
    process_start = at[1] + len(_AFTER_COMMA[1][1])
    is_client = buf[process_start] != ord('"')
    client_process = _decimal(buf, process_start[is_client], at[2][is_client])
    if time is None or client_process is None:
        return None
    process = np.full(time.size, NOT_A_CLIENT, dtype=np.int64)
    process[is_client] = client_process
    type_start, type_end = at[2] + len(_AFTER_COMMA[2][1]), at[3] - 1
    f_start, f_end = at[3] + len(_AFTER_COMMA[3][1]), at[4] - 1
    if (buf[type_end] != ord('"')).any() or (buf[f_end] != ord('"')).any():
        return None
    types = _codes(buf, type_start, type_end, dict(_TYPE_BYTES), grow=False).astype(np.int8)
    return time, process, types, _codes(buf, f_start, f_end, f_table, grow=True)


def _literal_at(buf: npt.NDArray[np.uint8], positions: npt.NDArray[np.int64], text: bytes) -> bool:
    """Whether ``text`` is at each position; its first three and last bytes are compared,
    which tells the fixed layout from anything else a writer might produce."""
    if positions.size and positions.max() + len(text) > buf.size:
        return False
    return all(
        bool((buf[positions + k] == text[k]).all()) for k in sorted({0, 1, 2, len(text) - 1})
    )


def _decimal(
    buf: npt.NDArray[np.uint8], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64] | None:
    """The non-negative decimal integers written in ``buf[start:end]`` for each pair."""
    if not start.size:
        return np.zeros(0, np.int64)
    length = end - start
    width = int(length.max())
    if width > _MAX_DIGITS or length.min() < 1:
        return None
    place = np.arange(width)
    present = place >= width - length[:, None]  # digits right-aligned in a window of `width`
    window = np.maximum(end[:, None] - width + place, 0)
    digits = buf[window].astype(np.int64) - ord("0")
    if ((digits < 0) | (digits > 9))[present].any():
        return None
    digits[~present] = 0
    value: npt.NDArray[np.int64] = (digits * _POW10[width - 1 - place]).sum(axis=1)
    return value


def _codes(
    buf: npt.NDArray[np.uint8],
    start: npt.NDArray[np.int64],
    end: npt.NDArray[np.int64],
    table: dict[bytes, int],
    *,
    grow: bool,
) -> npt.NDArray[np.int16]:
    """Each ``buf[start:end]`` as its code in ``table`` (a new name gets the next code when
    ``grow``, else -1). Names are told apart by their length, first three and last bytes."""
    if not start.size:
        return np.zeros(0, np.int16)
    length = end - start
    last = buf.size - 1
    key = length.astype(np.int64) << 32
    for k in range(3):
        byte = np.where(k < length, buf[np.minimum(start + k, last)], 0).astype(np.int64)
        key |= byte << (8 * k)
    key |= buf[np.maximum(end - 1, 0)].astype(np.int64) << 24
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    mapping = []
    for index in first:
        name = bytes(buf[start[index] : end[index]])
        mapping.append(table.setdefault(name, len(table)) if grow else table.get(name, -1))
    codes: npt.NDArray[np.int16] = np.asarray(mapping, dtype=np.int16)[inverse.reshape(-1)]
    return codes


def _columns_of(
    rows: list[Row], f_table: dict[bytes, int], writers: set[bytes], patients: set[bytes]
) -> ChunkColumns:
    for _, process, kind, _, writer, patient in rows:
        if writer and kind == b"ok" and not process.startswith(b'"'):
            writers.add(writer)
            patients.add(patient)
    return (
        np.array([int(row[0]) for row in rows], dtype=np.int64),
        np.array([NOT_A_CLIENT if r[1].startswith(b'"') else int(r[1]) for r in rows], np.int64),
        np.array([_TYPE_BYTES.get(row[2], -1) for row in rows], dtype=np.int8),
        np.array([f_table.setdefault(row[3], len(f_table)) for row in rows], dtype=np.int16),
    )


def _line_blocks(data: mmap.mmap | bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of runs of whole lines, a few MB each; a torn last line is left out."""
    start, size = 0, len(data)
    while start < size:
        newline = data.find(b"\n", min(start + CHUNK_BYTES, size - 1))
        if newline < 0:  # the last line has no newline: keep it only if it parses
            last = data.rfind(b"\n", start, size) + 1
            if last > start:
                yield start, last
            if _parses(data[last:size]):
                yield last, size
            return
        yield start, newline + 1
        start = newline + 1


def _torn_tail(data: mmap.mmap | bytes) -> bool:
    """Whether the file ends in a line without its newline that does not parse."""
    size = len(data)
    if not size or data[size - 1 : size] == b"\n":
        return False
    tail = data[data.rfind(b"\n") + 1 : size]
    return bool(tail.strip()) and not _parses(tail)


def _newlines(data: mmap.mmap | bytes, start: int, end: int) -> int:
    return int(np.count_nonzero(np.frombuffer(data, np.uint8, end - start, start) == ord("\n")))


def _last_line(data: mmap.mmap | bytes, whole_lines: int) -> int:
    """The number of the file's last non-blank whole line."""
    number, end = whole_lines, len(data)
    if end and data[end - 1 : end] != b"\n":
        end = data.rfind(b"\n") + 1  # a tail without newline was handled on its own
    while end > 0:
        start = data.rfind(b"\n", 0, end - 1) + 1
        if data[start:end].strip():
            return number
        number, end = number - 1, start
    return 0


def _parses(line: bytes) -> bool:
    if not line.strip():
        return False
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _parse_slowly(chunk: bytes, lines_before: int) -> tuple[list[Row], list[Op], list[int]]:
    """Line by line, for histories not written by HistoryWriter (or damaged): the numbers of
    the unparsable lines are returned, and reading goes on."""
    rows: list[Row] = []
    faults: list[Op] = []
    bad: list[int] = []
    for number, line in enumerate(chunk.split(b"\n"), start=lines_before + 1):
        if not line.strip():
            continue
        try:
            op = Op.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError):
            bad.append(number)
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


def _nemesis_ops(data: mmap.mmap | bytes, start: int, end: int) -> Iterator[Op]:
    position = data.find(_NEMESIS_MARK, start, end)
    while position >= 0:
        line_start = data.rfind(b"\n", start, position) + 1 or start
        line_end = data.find(b"\n", position, end)
        line_end = end if line_end < 0 else line_end
        try:
            op = Op.from_json(json.loads(data[line_start:line_end]))
        except (ValueError, KeyError, TypeError):
            op = None
        if op is not None and op.process == NEMESIS:
            yield op
        position = data.find(_NEMESIS_MARK, line_end, end)


def _text(raw: bytes) -> str:
    if b"\\" in raw:
        decoded: str = json.loads(b'"' + raw + b'"')
        return decoded
    return raw.decode("utf-8", "replace")
