"""The one fast reader of ``history.jsonl``, shared by the verifiers and the reports.

Each line is parsed once, into a :class:`Line` (a msgspec Struct with the history's keys: the
key order of the file does not matter). The file is read in blocks of whole lines; a block is
decoded in one call (``decode_lines``), and checked: as many ops as lines, every field of the
expected type. A block that fails the check (a damaged line, a blank line, a value of another
type than the writer writes) is read again line by line by the reference reader,
:func:`harness.history.read_lines`'s decoder, so the rules are the reference's: a torn last line
is skipped and said in ``HistoryReading.torn_last_line``, a damaged line elsewhere is skipped
and its number kept in ``HistoryReading.damaged_lines`` (a ``ValueError`` naming it when no
reading is given), the ops of ``nemesis`` and ``harness`` are kept whole with their line
numbers, and ``last_time`` is the time of the last line read as an operation.

:func:`read_batches` streams the history as lists of lines, one block at a time, so memory holds
one block (a few MB) besides what the caller keeps. :func:`read_typed_batches` is the verifiers'
variant: client values decoded as :class:`~harness.history_values.OpValue` (no dict per value,
fields left raw), by the same rules. :func:`paused_gc` is for callers that build
millions of small objects from it: the cyclic garbage collector would otherwise walk the
growing heap again and again (a quarter of the CPU time of building the index of 1,000,000
ops: 8.8 s against 6.8 s), and JSON makes no cycles.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

import msgspec
import orjson

from ackguard.harness.history import (
    _DAMAGED,
    HistoryReading,
    Op,
    _decode,
)
from ackguard.harness.history_values import TypedLine

__all__ = [
    "BLOCK_BYTES",
    "Line",
    "TypedBatch",
    "paused_gc",
    "read_batches",
    "read_lines_fast",
    "read_range_batches",
    "read_typed_batches",
    "value_of",
]

BLOCK_BYTES = 1 << 17
"""Bytes read at a time (rounded to whole lines): memory per block, and the unit of fallback.
A block this small stays in a core's cache from its read to its decoded lines' use: reading a
1M-op history takes 1.0 s of CPU against 1.8 s in blocks of 1 MB, its whole verification 7.8
against 8.3 s (medians of 3, alternating, on a loaded machine)."""


class Line(msgspec.Struct, gc=False):
    """One history line. The attribute names are :class:`harness.history.Op`'s, so code that
    reads ops can read lines. ``index`` is ``None`` for a line given without one (a client op
    read by the reference decoder, which does not need it)."""

    index: int | None
    time: int
    process: Any
    type: Any
    f: Any
    key: Any = None
    value: Any = None
    error: Any = None


class _Typed(msgspec.Struct, gc=False):
    """What a block decoded in one call must hold, field by field: what the writer writes.
    Anything else goes to the reference decoder, line by line."""

    index: int
    time: int
    process: int | str
    type: str
    f: str
    key: str | None = None
    value: Any = None
    error: Any = None


_DECODER = msgspec.json.Decoder(_Typed)
_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


def _decoder(value_type: Any) -> msgspec.json.Decoder[Any]:
    """A block decoder whose client values are decoded as ``value_type`` (cached per type)."""
    if value_type is None:
        return _DECODER
    found = _DECODERS.get(value_type)
    if found is None:
        typed = msgspec.defstruct(
            "_TypedValue", [("value", value_type, None)], bases=(_Typed,), gc=False
        )
        found = _DECODERS[value_type] = msgspec.json.Decoder(typed)
    return found


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19
_NUMBER_LEAD = frozenset(b":,[")
_BLANK = frozenset(b" \t\r\n-")


def _from_json(data: Any) -> Line:
    """A line decoded by the reference decoder: the fields the verifiers' rows take."""
    return Line(
        None, int(data["time"]), data["process"], data["type"], data["f"],
        data.get("key"), data.get("value"), data.get("error"),
    )  # fmt: skip


def read_batches(
    path: Path, reading: HistoryReading | None = None, *, value_type: Any = None
) -> Iterator[list[Any]]:
    """The ops of ``path`` in order, a block at a time (lists of :class:`Line`-like objects:
    ``index``, ``time``, ``process``, ``type``, ``f``, ``key``, ``value``, ``error``). Damage is
    said in ``reading`` as :func:`harness.history.read_lines` says it.

    ``value_type`` (a msgspec type) is for readers that want little of the values: a client
    op's ``value`` is then decoded as that type (``msgspec.Raw``: left undecoded, see
    :func:`value_of`; a Struct: only its fields), or, in a block where one does not fit, in full
    as JSON. The ``nemesis`` and ``harness`` ops in ``reading.system_ops`` are always whole."""
    found = HistoryReading() if reading is None else reading
    decoder = _decoder(value_type)
    number = 0  # lines before the current block
    for block, last in _blocks(path):
        count = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        lines = _decode_block(decoder, block, count, number, found)
        if lines is None:
            lines = _decode_slowly(path, block, number, last, found, strict=reading is None)
        number += count
        if lines:
            yield lines
    found.lines = number


@dataclass(frozen=True, slots=True)
class TypedBatch:
    """One block of :func:`read_typed_batches`. ``typed``: every line is a
    :class:`~harness.history_values.TypedLine` (``block`` holds them, one line each, in order);
    otherwise the block did not fit and its lines are :class:`Line` with values whole."""

    lines: list[Any]
    typed: bool
    block: bytes

    def line_value(self, offset: int) -> Any:
        """The whole ``value`` of the line at ``offset`` of a typed batch, as the reference
        decoder reads it (for a line whose value a reader finds does not fit its types)."""
        return orjson.loads(self.block.split(b"\n")[offset]).get("value")


def read_typed_batches(
    path: Path, reading: HistoryReading | None = None, *, start: int = 0, stop: int | None = None
) -> Iterator[TypedBatch]:
    """:func:`read_batches` for the verifiers: a block of whole lines whose client values fit
    :class:`~harness.history_values.OpValue` comes as typed lines (no dict per value, fields
    left raw); any other block as the reference decoder reads it, line by line. Damage is said
    in ``reading`` by the same rules, and ``reading.system_ops`` hold the reference decoder's
    ops. Parts of a line the types do not name are skipped unread (what the verifiers never
    look at), so a block is typed only when it is valid UTF-8 throughout.

    ``start``, ``stop``: only the lines that begin in those bytes, as
    :func:`read_range_batches` reads them (line numbers from the range's first line)."""
    found = HistoryReading() if reading is None else reading
    number = 0
    ranged = start != 0 or stop is not None
    blocks = _range_blocks(path, start, stop, BLOCK_BYTES) if ranged else _blocks(path)
    at_end = stop is None or stop >= path.stat().st_size
    for block, last in blocks:
        count = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        lines = _decode_typed(block, count, number, found)
        typed = lines is not None
        if lines is None:
            torn = last and at_end  # only the file's last line can be its torn last line
            lines = _decode_slowly(path, block, number, torn, found, strict=reading is None)
        number += count
        if lines:
            yield TypedBatch(lines, typed, block)
    found.lines = number


def read_range_batches(
    path: Path,
    reading: HistoryReading,
    start: int = 0,
    stop: int | None = None,
    *,
    value_type: Any = None,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[list[Any]]:
    """:func:`read_batches` over the lines that begin in bytes ``[start, stop)`` of ``path``
    (``stop`` ``None``: to the end), for a reader that splits a history across processes.
    ``start`` and ``stop`` must be line starts (0, the file's size, or just after a newline).
    Line numbers in ``reading`` count from the range's first line; its last line is a torn last
    line only if the range reaches the end of the file. ``block_bytes``: see :data:`BLOCK_BYTES`
    (smaller blocks keep a block's decoded lines in the CPU's cache)."""
    decoder = _decoder(value_type)
    at_end = stop is None or stop >= path.stat().st_size
    number = 0
    for block, last in _range_blocks(path, start, stop, block_bytes):
        count = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        lines = _decode_block(decoder, block, count, number, reading)
        if lines is None:
            torn = last and at_end  # only the file's last line can be its torn last line
            lines = _decode_slowly(path, block, number, torn, reading, strict=False)
        number += count
        if lines:
            yield lines
    reading.lines = number


def read_lines_fast(path: Path, reading: HistoryReading | None = None) -> Iterator[Any]:
    """:func:`read_batches`, one line at a time."""
    for batch in read_batches(path, reading):
        yield from batch


def value_of(value: Any) -> Any:
    """An op's ``value``, decoded if :func:`read_batches` left it raw."""
    if value.__class__ is msgspec.Raw:
        return msgspec.json.decode(value)
    return value


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside (restored as it was on the way out). For building
    large acyclic structures from a history; other threads only lose collection for as long."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _blocks(path: Path) -> Iterator[tuple[bytes, bool]]:
    """(block, is the file's last) of whole lines; the last block may end without a newline.
    Read as a range from the start to the end: each block read at a line start is a block as
    read, not joined to the cut line before it (1.5 against 2.1-2.6 s for 10M lines). A last
    line without its newline is a block of its own: the whole lines before it stay typed."""
    for block, last in _range_blocks(path, 0, None, BLOCK_BYTES):
        if last and not block.endswith(b"\n"):
            cut = block.rfind(b"\n") + 1
            if cut:
                yield block[:cut], False
                block = block[cut:]
        yield block, last


def _range_blocks(
    path: Path, start: int, stop: int | None, block_bytes: int
) -> Iterator[tuple[bytes, bool]]:
    """:func:`_blocks` of the bytes ``[start, stop)`` (``None``: to the end); ``True``: the
    range's last block. Each read starts at a line start (the cut line is read again with the
    next block), so a block is copied once, not joined to the rest of the line before it."""
    end = sys.maxsize if stop is None else stop
    pending: bytes | None = None
    with path.open("rb", buffering=0) as source:
        at, want = start, block_bytes
        while at < end:
            source.seek(at)
            chunk = source.read(min(want, end - at))
            if not chunk:
                break
            whole = len(chunk) < want  # the end of the file or of the range: keep it all
            cut = len(chunk) if whole else chunk.rfind(b"\n") + 1
            if not cut:  # a line longer than a block: read more of it
                want *= 2
                continue
            if pending is not None:
                yield pending, False
            pending = chunk[:cut] if cut < len(chunk) else chunk
            at, want = at + cut, block_bytes
    if pending is not None:
        yield pending, True


def _decode_block(
    decoder: msgspec.json.Decoder[Any], block: bytes, count: int, before: int, found: HistoryReading
) -> list[Any] | None:
    """Every line of ``block`` in one call, or ``None`` when one of them is not as the writer
    writes it (then the block is read line by line)."""
    try:
        typed = decoder.decode_lines(block)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if len(typed) != count:
        return None  # a blank line: msgspec skips it, the reference calls it damaged
    if not typed:
        return typed
    if _long_number(block):
        return None  # the reference's JSON parser refuses integers beyond 64 bits
    system = found.system_ops
    for offset, op, line in _system_ops(typed, block):
        kind: Any = op.type  # any text, as the reference reader keeps it
        value = op.value
        if decoder is not _DECODER:  # the value as a client's was decoded: decode it whole
            value = msgspec.json.decode(line).get("value")
        whole = Op(op.index, op.time, op.process, kind, op.f, op.key, value, op.error)
        system.append((before + offset + 1, whole))
    found.last_time = typed[-1].time
    return typed


def _system_ops(typed: list[Any], block: bytes) -> Iterator[tuple[int, Any, bytes]]:
    """(offset, op, its line) of each op of ``typed`` (a block's lines decoded, one op per line)
    whose process is a text: a nemesis or harness op. They are rare, so the processes' types
    are looked at in C first, and the block split into lines only when it holds one."""
    if str not in set(map(type, map(_PROCESS, typed))):
        return
    lines = block.split(b"\n")
    for offset, op in enumerate(typed):
        if op.process.__class__ is str:
            yield offset, op, lines[offset]


_TYPED_DECODER = msgspec.json.Decoder(TypedLine)
_PROCESS = attrgetter("process")


def _decode_typed(
    block: bytes, count: int, before: int, found: HistoryReading
) -> list[TypedLine] | None:
    """Every line of ``block`` as a :class:`TypedLine`, or ``None`` when one does not fit (or
    the block is not valid UTF-8: the skipped parts of a line are not checked by the parser)."""
    if not block.isascii():
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        typed = _TYPED_DECODER.decode_lines(block)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if len(typed) != count:
        return None  # a blank line: msgspec skips it, the reference calls it damaged
    if not typed:
        return typed
    system: list[tuple[int, Op]] = []
    for offset, _op, line in _system_ops(typed, block):
        try:  # kept whole, as the reference decoder reads it
            whole = Op.from_json(orjson.loads(line))
        except (ValueError, KeyError, TypeError):
            return None
        system.append((before + offset + 1, whole))
    found.system_ops.extend(system)
    found.last_time = typed[-1].time
    return typed


def _decode_slowly(
    path: Path, block: bytes, before: int, last: bool, found: HistoryReading, *, strict: bool
) -> list[Any]:
    """``block`` line by line through the reference decoder."""
    lines = block.split(b"\n")
    if block.endswith(b"\n"):
        lines.pop()
    out: list[Any] = []
    for offset, line in enumerate(lines):
        number = before + offset + 1
        item = _decode(line, number, _from_json, found)
        if item is not _DAMAGED:
            out.append(item)
        elif last and offset == len(lines) - 1:
            found.torn_last_line = True
        else:
            found.damaged_lines.append(number)
            if strict:
                shown = (line + b"\n")[:80]  # as the reference shows it: with its newline
                raise ValueError(f"{path}:{number}: damaged history line: {shown!r}")
    return out


def _long_number(block: bytes) -> bool:
    """Whether ``block`` may hold a JSON number of 19 digits or more: a run of 19 digits that
    follows ``:``, ``,`` or ``[`` (blanks and a minus sign between). Runs of digits inside
    digests are common and skipped; one inside a text after a colon is a false alarm, which
    only sends the block to the reference parser."""
    digits = block.translate(_DIGITS_AS_ZERO)
    at = digits.find(_LONG_RUN)
    while at >= 0:
        start = at
        while start > 0 and digits[start - 1] == 48:  # back to the start of the run
            start -= 1
        before = start - 1
        while before >= 0 and block[before] in _BLANK:
            before -= 1
        if before >= 0 and block[before] in _NUMBER_LEAD:
            return True
        end = at + len(_LONG_RUN)
        while end < len(digits) and digits[end] == 48:  # past the end of the run
            end += 1
        at = digits.find(_LONG_RUN, end)
    return False
