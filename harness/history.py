"""The operation history: what every practitioner and every fault did, in order.

An *operation* is recorded twice: an ``invoke`` when it starts and one completion when it ends:
``ok`` (acknowledged: the service answered 2xx), ``fail`` (it certainly did not take effect) or
``info`` (indeterminate: nobody knows). Faults are operations of the process ``nemesis``.

The file ``history.jsonl`` holds one JSON object per line with Jepsen's keys (``index``, ``time``
in ns since the run started, ``process``, ``type``, ``f``, ``key``, ``value``, ``error``). Each line
is handed to the kernel as soon as it is recorded, so a SIGKILL of the harness loses nothing that
was recorded; a torn last line is skipped on read.

Field values are never stored in clear: a :class:`FieldDigest` keeps a digest, the length and a
short prefix for humans. The verifiers compare digests, so they compare exact content.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from hashlib import blake2b as _blake2b
from pathlib import Path
from typing import Any, Literal, TypeAlias, TypeVar

import msgspec
import orjson

from ackguard.harness.history_values import PREFIX_CHARS, ClientValue, Digest

__all__ = [
    "END",
    "HARNESS",
    "NEMESIS",
    "OBSERVATION_FIELDS",
    "FieldDigest",
    "HistoryReading",
    "HistoryWriter",
    "JSONValue",
    "Op",
    "OpType",
    "digest_fields",
    "read_history",
    "read_lines",
]

OpType: TypeAlias = Literal["invoke", "ok", "fail", "info"]
JSONValue: TypeAlias = Any  # a value json.loads can return; narrowed where it is read

NEMESIS = "nemesis"
"""The process name of fault operations (``f`` is ``start`` or ``stop``)."""

HARNESS = "harness"
"""The process name of the harness's own ops: the closing :data:`END` op."""

END = "end"
"""``f`` of the last op a run records (process :data:`HARNESS`, type ``ok``, after the final
read): a history without it was cut short. Its ``index`` is the number of lines before it."""

OBSERVATION_FIELDS: tuple[str, ...] = ("visit_reason", "exam_report", "conclusion", "prescription")
"""The fields of a consultation that carry the practitioner's notes."""

_TYPES = {t: f'"{t}"'.encode() for t in ("invoke", "ok", "fail", "info")}


def _dumps(value: object) -> bytes:
    """Compact JSON with non-ASCII kept as UTF-8, the layout readers of the history expect."""
    return orjson.dumps(value)


_encode_typed = msgspec.json.Encoder().encode


FieldDigest = Digest
"""One field value as the history and the final read keep it: digest, length, prefix
(:class:`~harness.history_values.Digest`, whose name this is: one type for both, a written
value and the final read's equal one can be one object). ``FieldDigest.of(text)`` digests a
text; ``to_json``/``from_json`` give and read its JSON."""


def digest_fields(fields: Mapping[str, str | None]) -> dict[str, dict[str, object] | None]:
    """The JSON form of written fields: each value digested; ``None`` (cleared) stays ``None``.
    Same content as ``FieldDigest.of(text).to_json()``, without the object: it runs per request.
    The typed form, which the practitioners record: :func:`.history_values.digest_values`."""
    return {
        name: (
            None
            if text is None
            else {
                "digest": _blake2b(text.encode("utf-8"), digest_size=10).hexdigest(),
                "length": len(text),
                "prefix": text[:PREFIX_CHARS],
            }
        )
        for name, text in fields.items()
    }


@dataclass(frozen=True, slots=True)
class Op:
    """One line of the history.

    ``process`` is an integer for a practitioner's client process and ``"nemesis"`` for faults.
    ``key`` is the idempotency key of the consultation the op concerns (for creates, updates and
    reads of one record), so the verifiers can group a record's history in one pass.
    ``value`` depends on ``f``; for writes it holds ``practitioner_id``, ``patient_id`` and
    ``fields`` (name -> FieldDigest JSON or null), and on ``ok`` also the server ``id``/``version``.
    """

    index: int
    time: int
    process: int | str
    type: OpType
    f: str
    key: str | None = None
    value: JSONValue = None
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "time": self.time,
            "process": self.process,
            "type": self.type,
            "f": self.f,
            "key": self.key,
            "value": self.value,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Op:
        return cls(
            index=int(data["index"]),
            time=int(data["time"]),
            process=data["process"],
            type=data["type"],
            f=str(data["f"]),
            key=data.get("key"),
            value=data.get("value"),
            error=data.get("error"),
        )


class HistoryWriter:
    """Append-only, crash-tolerant writer of ``history.jsonl``.

    Thread- and greenlet-safe: the index is assigned under a lock, and each line goes to the
    kernel with one ``os.write`` so that lines never interleave and survive a SIGKILL of the
    harness. Times are nanoseconds since ``started_ns`` (a ``time.monotonic_ns`` reading).
    """

    def __init__(self, path: Path, *, started_ns: int | None = None) -> None:
        self.path = path
        self.started_ns = time.monotonic_ns() if started_ns is None else started_ns
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._lock = threading.Lock()
        self._next_index = 0
        self._listeners: list[Callable[[Op], None]] = []

    def listen(self, listener: Callable[[Op], None]) -> None:
        """Call ``listener`` with every op recorded from now on, after it is written (the live
        verifier and the web UI's counters follow the run this way). A listener must be quick
        and must not raise: it runs on the recording thread or greenlet."""
        self._listeners.append(listener)

    def now(self) -> int:
        """Nanoseconds since the run started."""
        return time.monotonic_ns() - self.started_ns

    def record(
        self,
        process: int | str,
        type_: OpType,
        f: str,
        *,
        key: str | None = None,
        value: JSONValue = None,
        error: str | None = None,
    ) -> int:
        """Append one op whose ``value`` is plain JSON; returns its index."""
        return self._append(process, type_, f, key, _dumps(value), value, error)

    def record_typed(
        self,
        process: int,
        type_: OpType,
        f: str,
        key: str | None,
        value: ClientValue,
        error: str | None = None,
    ) -> int:
        """Append a practitioner's op, its value typed by its kind (:mod:`.history_values`);
        returns its index. Listeners get the value as plain JSON, as a reader reads it."""
        return self._append(process, type_, f, key, _encode_typed(value), value, error)

    def _append(
        self,
        process: int | str,
        type_: OpType,
        f: str,
        key: str | None,
        encoded: bytes,
        value: object,
        error: str | None,
    ) -> int:
        """Write one line around ``encoded`` (the value's JSON). The line is built directly (no
        Op, no dict): this runs for every request of the load, and its key order is the layout
        readers rely on."""
        tail = b'%s,"key":%s,"value":%s,"error":%s}\n' % (
            _dumps(f),
            _dumps(key),
            encoded,
            _dumps(error),
        )
        head = _dumps(process)
        kind = _TYPES[type_]
        with self._lock:
            index = self._next_index
            self._next_index += 1
            at = self.now()
            line = b'{"index":%d,"time":%d,"process":%s,"type":%s,"f":%s' % (
                index,
                at,
                head,
                kind,
                tail,
            )
            os.write(self._fd, line)
        if self._listeners:
            plain = msgspec.to_builtins(value) if isinstance(value, msgspec.Struct) else value
            op = Op(index, at, process, type_, f, key, plain, error)
            for listener in self._listeners:
                listener(op)
        return index

    def finish(self, **value: object) -> None:
        """Record the closing :data:`END` op (``value`` says how the run ended) and close: the
        history is whole up to here. A history that cannot take it is left without it, and
        reads as cut short, which is the truth."""
        try:
            if self._fd >= 0:
                self.record(HARNESS, "ok", END, value=value)
        except OSError:
            pass
        finally:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@dataclass(slots=True)
class HistoryReading:
    """What reading a history found besides its client ops: the lines it could not read, where
    it ends, and the ops of the ``nemesis`` and the ``harness`` (few; kept whole, with their line
    numbers). Pass one to a reader to tolerate damage and learn about it."""

    lines: int = 0
    """Lines in the file, a torn last line included."""
    damaged_lines: list[int] = field(default_factory=list)
    """1-based numbers of the lines, other than the last, that are not an operation."""
    torn_last_line: bool = False
    """The last line was not an operation (cut off by a kill, or garbage): it was ignored."""
    last_time: int | None = None
    """``time`` of the last line read as an operation."""
    system_ops: list[tuple[int, Op]] = field(default_factory=list)
    """(line number, op) of every op whose process is not a client (faults, the end marker)."""

    @property
    def end_marker(self) -> tuple[int, Op] | None:
        """(line number, op) of the harness's closing ``end`` op, if the history has it."""
        for number, op in reversed(self.system_ops):
            if op.process == HARNESS and op.f == END:
                return number, op
        return None


_T = TypeVar("_T")
_DAMAGED: Any = object()


def read_lines(
    path: Path, parse: Callable[[Any], _T], reading: HistoryReading | None = None
) -> Iterator[_T]:
    """Every line of ``path`` decoded as JSON and handed to ``parse``: the one history reader.

    A last line that is not an operation (torn by a kill, or garbage) is skipped and said in
    ``reading.torn_last_line``. A damaged line anywhere else is skipped and its number kept in
    ``reading.damaged_lines``; without a ``reading`` to say it in, it is a ``ValueError`` naming
    the line, since a caller that cannot report damage must not hide it."""
    found = HistoryReading() if reading is None else reading
    number = 0
    pending: bytes | None = None
    with path.open("rb", buffering=1 << 20) as lines:
        for line in lines:
            if pending is not None:
                item = _decode(pending, number, parse, found)
                if item is not _DAMAGED:
                    yield item
                else:
                    found.damaged_lines.append(number)
                    if reading is None:
                        raise ValueError(f"{path}:{number}: damaged history line: {pending[:80]!r}")
            pending = line
            number += 1
    found.lines = number
    if pending is not None:
        item = _decode(pending, number, parse, found)
        if item is _DAMAGED:
            found.torn_last_line = True
        else:
            yield item


def _decode(line: bytes, number: int, parse: Callable[[Any], _T], reading: HistoryReading) -> Any:
    try:
        data = orjson.loads(line)
        time_ns = int(data["time"])
        item = parse(data)
        if data["process"].__class__ is str:
            reading.system_ops.append((number, Op.from_json(data)))
    except (ValueError, KeyError, TypeError, AttributeError):
        return _DAMAGED
    reading.last_time = time_ns
    return item


def read_history(path: Path, reading: HistoryReading | None = None) -> Iterator[Op]:
    """Every op of ``history.jsonl`` in order, by the rules of :func:`read_lines`."""
    return read_lines(path, Op.from_json, reading)
