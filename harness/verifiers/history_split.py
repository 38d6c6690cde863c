"""The history split into one file per part of the records, so that a part reads its own lines.

A part (:func:`~harness.verifiers.index.part_of`) that reads the whole history pays for every
line, its own or not: at 1,000,000 lines a part reads and walks all of them, a second of CPU
before its share. Split first, a part reads about its share. The split itself is shared out:
the history is cut into byte ranges at line starts (:func:`line_ranges`), and each range is
split by a process of its own (:func:`split_range`), by the shared reader's rules (what it
finds is that range's :class:`~harness.history.HistoryReading`; :func:`joined_reading` makes the
whole history's of them). A range writes each part the lines that can change its index, in
file order:

- a keyed client op goes to its record's part;
- a line without a key (a list), a ``nemesis`` or ``harness`` op, and a line that is not an op
  go to every part;
- a keyed invoke or a completion also goes to every part that holds an op of the same process
  in flight: the whole history ends that op there (a process has one op in flight; the index
  matches a completion to the process's op), so the part must see it end. At a range's start
  nobody knows who holds what: every part is taken to, until the process's next line.

A line left out of a part's files is one that part's index would skip without a trace: a
completion for a process it has nothing in flight for, or another part's invoke that finds
nothing of its own to end. Read in order (:func:`part_files`) with the part's
``part=(number, count)``, a part's files give exactly the index the whole history gives, but
for :attr:`~harness.verifiers.index.RecordState.first`, the keyed invoke's ordinal in what was
read: the files come with each keyed invoke's place in the history (range, line), which
:func:`~harness.verifiers.index.build_index_from_files` takes as ``firsts``, so that records of
all parts sort into the history's order.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ackguard.harness.history import _DAMAGED, HARNESS, NEMESIS, HistoryReading, _decode
from ackguard.harness.history_read import _from_json, read_typed_batches
from ackguard.harness.history_values import TypedLine
from ackguard.harness.verifiers.c_build import usable
from ackguard.harness.verifiers.final_split import split_final_range
from ackguard.harness.verifiers.index import native_loop, part_of

try:  # the C loop over typed blocks (harness/verifiers/_split_loop.c), built when installed
    from ackguard.harness.verifiers import _split_loop  # type: ignore[attr-defined]
except ImportError:  # installed without a C compiler: the Python loop does the same
    _split_loop = None
if not usable(_split_loop):  # not built, or older than its sources (c_build says which)
    _split_loop = None
else:
    _split_loop.setup(TypedLine)

__all__ = [
    "RangeSplit",
    "SplitJob",
    "joined_reading",
    "line_ranges",
    "load_invokes",
    "part_files",
    "split_range",
]

_EVERY = -1  # the parts that hold a process's op in flight: all of them (or nobody knows)
_SYSTEM = (NEMESIS, HARNESS)
_INVOKES = "q"  # array type of the places of a part's keyed invokes
_RANGE_SHIFT = 40  # a place: range << _RANGE_SHIFT | line in the range (1-based)


@dataclass(frozen=True, slots=True)
class SplitJob:
    """One range of a history to split (:func:`split_range`'s arguments), sent to the process
    that splits it."""

    path: Path
    count: int
    directory: Path
    number: int
    start: int
    stop: int | None
    # the same process's range of the final read, (path, start, stop), split beside it
    final: tuple[Path, int, int | None] | None = None

    def run(self) -> RangeSplit:
        found = split_range(
            self.path, self.count, self.directory, self.number, self.start, self.stop
        )
        if self.final is not None:
            final, start, stop = self.final
            found.final_records = split_final_range(
                final, self.count, self.directory, self.number, start, stop
            )
        return found


@dataclass(slots=True)
class RangeSplit:
    """What splitting one range found: its reading (line numbers from the range's first line,
    which begins at byte ``start``), and how many records its range of the final read holds
    (``None``: not split, or none to split)."""

    start: int
    reading: HistoryReading = field(default_factory=HistoryReading)
    final_records: int | None = None


def line_ranges(path: Path, count: int) -> list[tuple[int, int | None]]:
    """``count`` byte ranges of ``path`` (fewer for a small file), each starting at a line
    start: ``(start, stop)``, the last one's stop ``None`` (to the end)."""
    size = path.stat().st_size
    starts = [0]
    with path.open("rb") as source:
        for n in range(1, count):
            source.seek(max(starts[-1], size * n // count))
            source.readline()  # to the next line's start
            at = source.tell()
            if at >= size:
                break
            if at > starts[-1]:
                starts.append(at)
    stops: list[int | None] = [*starts[1:], None]
    return list(zip(starts, stops, strict=True))


def part_files(directory: Path, part: int, ranges: int) -> tuple[list[Path], list[Path]]:
    """Part ``part``'s files of a history split in ``ranges`` ranges: its lines and its keyed
    invokes' places, in history order."""
    lines = [directory / f"part-{part}.range-{r}.jsonl" for r in range(ranges)]
    return lines, [path.with_suffix(".invokes") for path in lines]


def load_invokes(paths: Sequence[Path]) -> array[int]:
    """The places written to ``paths`` by :func:`split_range`, one after the other."""
    places: array[int] = array(_INVOKES)
    for path in paths:
        places.frombytes(path.read_bytes())
    return places


def split_range(
    path: Path, count: int, directory: Path, number: int, start: int, stop: int | None
) -> RangeSplit:
    """Range ``number`` of ``path`` (bytes ``[start, stop)``, at line starts) split into
    ``count`` parts' files in ``directory`` (see :func:`part_files`)."""
    found = RangeSplit(start)
    directory.mkdir(parents=True, exist_ok=True)
    names = [part_files(directory, part, number + 1)[0][number] for part in range(count)]
    outputs = [name.open("wb") for name in names]
    try:
        router = _Router(count, outputs, number)
        before = 0
        for batch in read_typed_batches(path, found.reading, start=start, stop=stop):
            if batch.typed and router.route_typed(batch.lines, batch.block, before):
                before += len(batch.lines)
                continue
            lines = batch.block.split(b"\n")
            if batch.block.endswith(b"\n"):
                lines.pop()
            ops = batch.lines if batch.typed else _each_line(lines, before)
            router.route(ops, lines, before)
            before += len(lines)
        for name, places in zip(names, router.invokes, strict=True):
            name.with_suffix(".invokes").write_bytes(places.tobytes())
    finally:
        for output in outputs:
            output.close()
    return found


def joined_reading(path: Path, ranges: Sequence[RangeSplit], strict: bool) -> HistoryReading:
    """The whole history's reading from its ranges', in order. ``strict``: a damaged line is a
    ``ValueError`` naming it, as the reader raises it."""
    whole = HistoryReading()
    for split in ranges:
        part = split.reading
        if strict and part.damaged_lines:
            first = part.damaged_lines[0]
            shown = (_line(path, split.start, first) + b"\n")[:80]  # as the reader shows it
            raise ValueError(f"{path}:{whole.lines + first}: damaged history line: {shown!r}")
        whole.damaged_lines.extend(whole.lines + n for n in part.damaged_lines)
        whole.system_ops.extend((whole.lines + n, op) for n, op in part.system_ops)
        if part.last_time is not None:
            whole.last_time = part.last_time
        whole.torn_last_line = part.torn_last_line
        whole.lines += part.lines
    return whole


def _line(path: Path, start: int, number: int) -> bytes:
    """Line ``number`` (1-based) of the lines from byte ``start`` of ``path``, without its end."""
    with path.open("rb") as source:
        source.seek(start)
        for _ in range(number - 1):
            source.readline()
        return source.readline().rstrip(b"\n")


def _each_line(lines: Sequence[bytes], before: int) -> list[Any]:
    """Each line of a block the reader took line by line, as the reference decoder reads it
    (``None``: not an op), one per line: the reader's own list leaves damaged lines out."""
    scratch = HistoryReading()
    ops: list[Any] = []
    for offset, line in enumerate(lines):
        op = _decode(line, before + offset + 1, _from_json, scratch)
        ops.append(None if op is _DAMAGED else op)
    return ops


class _Router:
    """Sends each line to the parts whose index it can change, following which parts hold
    each process's op in flight (a part number, :data:`_EVERY`, or ``None``: none)."""

    def __init__(self, count: int, outputs: Sequence[BinaryIO], number: int) -> None:
        self.count = count
        self.outputs = outputs
        self.base = number << _RANGE_SHIFT
        # a process not seen yet: none holds it at the history's start; anyone may, later
        self.unknown = None if number == 0 else _EVERY
        self.holders: dict[Any, int | None] = {}
        self.parts_of: dict[Any, int] = {}
        self.invokes: list[array[int]] = [array(_INVOKES) for _ in range(count)]

    def route_typed(self, ops: list[Any], block: bytes, before: int) -> bool:
        """:meth:`route` of a typed block (``ops``: a :class:`~harness.history_values.TypedLine`
        per line of ``block``) by the C loop, which copies each line from the block into the
        files of the parts that need it; ``False`` when the C loop is not there."""
        if not native_loop.on or _split_loop is None:
            return False
        texts = [bytearray() for _ in range(self.count)]
        added = [bytearray() for _ in range(self.count)]  # the places, as array("q") holds them
        base = self.base + before + 1
        _split_loop.route(
            ops, block, texts, added, self.holders, self.parts_of, self.unknown, base, part_of
        )
        for output, text in zip(self.outputs, texts, strict=True):
            output.write(text)
        for places, more in zip(self.invokes, added, strict=True):
            places.frombytes(more)
        return True

    def route(self, ops: Sequence[Any], lines: Sequence[bytes], before: int) -> None:
        """``ops``: one per line of ``lines`` (``None`` for a line that is not an op);
        ``before``: the range's lines before them."""
        count = self.count
        holders = self.holders
        unknown = self.unknown
        parts_of = self.parts_of
        kept: list[list[bytes]] = [[] for _ in range(count)]
        adds = [part.append for part in kept]
        marks = [places.append for places in self.invokes]
        base = self.base + before + 1
        for offset, op in enumerate(ops):
            line = lines[offset]
            if op is None:
                for add in adds:
                    add(line)
                continue
            process = op.process
            if process.__class__ is str and process in _SYSTEM:
                for add in adds:
                    add(line)
                continue
            try:
                held = holders.get(process, unknown)
            except TypeError:  # a process no index can hold either: every part sees it fail
                self._everywhere(adds, marks, line, op, base + offset)
                continue
            if op.type != "invoke":  # a completion ends the op of the parts that hold one
                if held is not None:
                    holders[process] = None
                    if held == _EVERY:
                        for add in adds:
                            add(line)
                    else:
                        adds[held](line)
                continue
            key = op.key
            if key is None:
                holders[process] = _EVERY
                for add in adds:
                    add(line)
                continue
            own = parts_of.get(key) if key.__class__ is str else part_of(key, count)
            if own is None:
                own = parts_of[key] = part_of(key, count)
            holders[process] = own
            place = base + offset
            adds[own](line)
            marks[own](place)
            if held == _EVERY:
                for n in range(count):
                    if n != own:
                        adds[n](line)
                        marks[n](place)
            elif held is not None and held != own:
                adds[held](line)
                marks[held](place)
        for output, part in zip(self.outputs, kept, strict=True):
            if part:
                part.append(b"")
                output.write(b"\n".join(part))

    @staticmethod
    def _everywhere(
        adds: Sequence[Any], marks: Sequence[Any], line: bytes, op: Any, at: int
    ) -> None:
        keyed = op.type == "invoke" and op.key is not None
        for add, mark in zip(adds, marks, strict=True):
            add(line)
            if keyed:
                mark(at)
