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

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from hashlib import blake2b as _blake2b
from pathlib import Path
from typing import Any, Literal, TypeAlias

import orjson

__all__ = [
    "NEMESIS",
    "OBSERVATION_FIELDS",
    "FieldDigest",
    "HistoryWriter",
    "JSONValue",
    "Op",
    "OpType",
    "digest_fields",
    "read_history",
]

OpType: TypeAlias = Literal["invoke", "ok", "fail", "info"]
JSONValue: TypeAlias = Any  # a value json.loads can return; narrowed where it is read

NEMESIS = "nemesis"
"""The process name of fault operations (``f`` is ``start`` or ``stop``)."""

OBSERVATION_FIELDS: tuple[str, ...] = ("visit_reason", "exam_report", "conclusion", "prescription")
"""The fields of a consultation that carry the practitioner's notes."""

PREFIX_CHARS = 24
_TYPES = {t: f'"{t}"'.encode() for t in ("invoke", "ok", "fail", "info")}


def _dumps(value: object) -> bytes:
    """Compact JSON with non-ASCII kept as UTF-8, the layout readers of the history expect."""
    return orjson.dumps(value)


@dataclass(frozen=True, slots=True)
class FieldDigest:
    """One field value as the history and the final read keep it: digest, length, prefix."""

    digest: str
    length: int
    prefix: str

    @classmethod
    def of(cls, text: str) -> FieldDigest:
        raw = text.encode("utf-8")
        return cls(hashlib.blake2b(raw, digest_size=10).hexdigest(), len(text), text[:PREFIX_CHARS])

    def to_json(self) -> dict[str, object]:
        return {"digest": self.digest, "length": self.length, "prefix": self.prefix}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldDigest:
        return cls(str(data["digest"]), int(data["length"]), str(data.get("prefix", "")))


def digest_fields(fields: Mapping[str, str | None]) -> dict[str, dict[str, object] | None]:
    """The JSON form of written fields: each value digested; ``None`` (cleared) stays ``None``.
    Same content as ``FieldDigest.of(text).to_json()``, without the object: it runs per request."""
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
        """Append one op; returns its index. The line is built directly (no Op, no dict): this
        runs for every request of the load, and its key order is the layout readers rely on."""
        tail = b'%s,"key":%s,"value":%s,"error":%s}\n' % (
            _dumps(f),
            _dumps(key),
            _dumps(value),
            _dumps(error),
        )
        head = _dumps(process)
        kind = _TYPES[type_]
        with self._lock:
            index = self._next_index
            self._next_index += 1
            line = b'{"index":%d,"time":%d,"process":%s,"type":%s,"f":%s' % (
                index,
                self.now(),
                head,
                kind,
                tail,
            )
            os.write(self._fd, line)
        return index

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def read_history(path: Path) -> Iterator[Op]:
    """Every op of ``history.jsonl`` in order. A torn or unparsable *last* line is skipped;
    a damaged line anywhere else is an error, since it means the file was tampered with."""
    with path.open("rb") as lines:
        pending: bytes | None = None
        for line in lines:
            if pending is not None:
                yield _parse(pending, path)
            pending = line
        if pending is not None:
            try:
                yield _parse(pending, path)
            except ValueError:
                return


def _parse(line: bytes, path: Path) -> Op:
    try:
        return Op.from_json(json.loads(line))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: damaged history line: {line[:80]!r}") from exc
