"""The final read: every consultation present at the end of a run, as digests, in one module.

- the types: :class:`FinalRecord` (one consultation) and :class:`FinalRead` (where it came from,
  whether it completed, when it began);
- the conversion of full records, shared by the API export and the database read:
  :func:`final_record`, :func:`final_read_from_records`;
- the white-box read of the ``consultations`` table: :func:`read_database` (SQLAlchemy Core, id
  order, keyset pagination in bounded batches; SQLAlchemy is imported when a database is read,
  not when this module is imported), :func:`final_read_from_database`, and
  :func:`own_database_url` (the run's own SQLite file, for a run killed before its final read);
- the files: the orchestrator writes ``final_read.jsonl`` (one :class:`FinalRecord` per line)
  and ``final_read.json`` (source, completeness, error, start time) after the load stopped and
  every fault was healed (:func:`write_final_read`); the verifiers read them back
  (:func:`load_final_read`), so that ``ackguard verify`` can re-check a run offline. A run
  without them has no final read (verdict unknown).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal
from urllib.parse import urlsplit, urlunsplit

import msgspec
from msgspec import UNSET, UnsetType

from ackguard.harness.history import OBSERVATION_FIELDS, FieldDigest
from ackguard.harness.history_read import paused_gc
from ackguard.harness.history_values import FieldValues
from ackguard.harness.run_files import FinalReadMeta, RunFileError, read_file, write_file

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = [
    "BATCH_ROWS",
    "FinalFields",
    "FinalRead",
    "FinalRecord",
    "final_read_from_database",
    "final_read_from_records",
    "final_record",
    "load_final_read",
    "load_records",
    "own_database_url",
    "owners_interned",
    "read_database",
    "record_blocks",
    "record_ids",
    "write_final_read",
]

RECORDS_FILE = "final_read.jsonl"
META_FILE = "final_read.json"


class FinalFields(FieldValues, frozen=True, gc=False):  # type: ignore[misc]  # msgspec allows it
    """A final record's observation fields: each that has a value, as its digest; a field empty
    (null) in the store is absent (UNSET). It reads like the dict of the fields present (``get``,
    ``in``, ``[]``, ``items``, in the order of the observation fields; ``==`` a mapping) at a
    quarter of its size: a final read holds one per consultation of the run. Names other than
    the observation fields are not kept (the verifiers compare those only)."""

    visit_reason: FieldDigest | UnsetType = UNSET
    exam_report: FieldDigest | UnsetType = UNSET
    conclusion: FieldDigest | UnsetType = UNSET
    prescription: FieldDigest | UnsetType = UNSET

    @classmethod
    def of(cls, fields: Mapping[str, FieldDigest | None]) -> FinalFields:
        """The fields of a mapping of field names to digests (``None``: absent)."""
        return cls(**{n: v for n, v in fields.items() if n in _OBSERVED and v is not None})

    def items(self) -> list[tuple[str, FieldDigest]]:  # type: ignore[override]
        return super().items()  # type: ignore[return-value]  # never null: absent instead

    def __eq__(self, other: object) -> bool:
        if other.__class__ is FinalFields:
            return _astuple(self) == _astuple(other)
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # as the dict it stands for


_OBSERVED = frozenset(OBSERVATION_FIELDS)
_astuple = msgspec.structs.astuple
_NO_FIELDS = FinalFields()


class FinalRecord(msgspec.Struct, frozen=True, gc=False):
    """One consultation as found at the end. ``fields``: the digest of each observation field
    that has a value (:class:`FinalFields`); given as a mapping, it is made one.

    A msgspec struct: ``final_read.jsonl`` decodes straight into it, digests included, with no
    intermediate dicts (a final read holds one record per consultation of the run). Untracked by
    the garbage collector (``gc=False``: 16 bytes less per record): it holds no cycle."""

    id: str
    key: str | None
    practitioner_id: str
    patient_id: str
    version: int = 0
    fields: FinalFields = _NO_FIELDS
    started_at: str | None = None  # the consultation's start as stored (ISO 8601)

    def __post_init__(self) -> None:
        fields: object = self.fields
        if fields.__class__ is not FinalFields:  # a mapping given by hand
            _set(self, "fields", FinalFields.of(fields))  # type: ignore[arg-type]

    def to_json(self) -> dict[str, object]:
        started = {} if self.started_at is None else {"started_at": self.started_at}
        return started | {
            "id": self.id,
            "key": self.key,
            "practitioner_id": self.practitioner_id,
            "patient_id": self.patient_id,
            "version": self.version,
            "fields": {name: d.to_json() for name, d in self.fields.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FinalRecord:
        """The lenient reading (ids as numbers, absent keys), for files the typed one refuses."""
        return cls(
            id=str(data["id"]),
            key=data.get("key"),
            practitioner_id=str(data["practitioner_id"]),
            patient_id=str(data["patient_id"]),
            version=int(data.get("version", 0)),
            fields=FinalFields.of(
                {n: FieldDigest.from_json(d) for n, d in (data.get("fields") or {}).items()}
            ),
            started_at=None if data.get("started_at") is None else str(data["started_at"]),
        )


@dataclass(frozen=True, slots=True)
class FinalRead:
    """Where the final read came from (``api`` export or ``database``) and its records."""

    source: Literal["api", "database"]
    complete: bool
    records: list[FinalRecord]
    error: str | None = None
    time: int | None = None  # ns since run start when the read began
    # the records left in the file, ``records`` empty (a verification in parts: each part
    # loads its own): how many it holds
    stored: int | None = None

    @property
    def size(self) -> int:
        """How many records the read holds, loaded or left in the file."""
        return len(self.records) if self.stored is None else self.stored


_BLOCK_BYTES = 128 << 10  # read and decoded per call, in whole lines: freed blocks are reused
_DECODE = msgspec.json.Decoder(FinalRecord)
_set = msgspec.structs.force_setattr  # a frozen record's field, set before anyone reads it
_ENCODE = msgspec.json.Encoder()


def write_final_read(run_dir: Path, read: FinalRead) -> None:
    if read.stored is not None:  # its records are in a file it did not load: keep that one
        raise ValueError("a final read whose records were not loaded cannot be written")
    with (run_dir / RECORDS_FILE).open("wb") as out:
        for start in range(0, len(read.records), 10_000):
            out.write(_ENCODE.encode_lines(read.records[start : start + 10_000]))
    meta = FinalReadMeta(read.source, read.complete, len(read.records), read.error, read.time)
    write_file(run_dir / META_FILE, meta)


def load_final_read(run_dir: Path, *, records: bool = True) -> FinalRead | None:
    """The stored final read, or ``None`` when the run never got one. Raises
    :class:`RunFileError` naming the file and the line or field when it cannot be read.
    ``records=False``: its facts only, the records left in the file (:attr:`FinalRead.stored`:
    as many as its ``final_read.json`` says, until the parts that load them count them)."""
    meta_path = run_dir / META_FILE
    if not meta_path.exists():
        return None
    meta = read_file(meta_path, FinalReadMeta)
    records_path = run_dir / RECORDS_FILE
    if not records:
        stored = meta.records if records_path.exists() else 0
        return FinalRead(meta.source, meta.complete, [], meta.error, meta.time, stored)
    loaded = load_records(records_path) if records_path.exists() else []
    return FinalRead(meta.source, meta.complete, loaded, meta.error, meta.time)


def load_records(path: Path) -> list[FinalRecord]:
    """Every record of a ``final_read.jsonl``, a block of lines per decoder call. A block the
    typed decoder refuses (a file from an older writer) is read line by line, leniently."""
    records: list[FinalRecord] = []
    with paused_gc():  # acyclic records: no cycles to look for
        for block in record_blocks(path):
            records += block
    return records


def record_blocks(path: Path, *, interned: bool = True) -> Iterator[list[FinalRecord]]:
    """:func:`load_records` a block at a time, for a reader that keeps only some records
    (``interned=False``: to intern itself, with :func:`owners_interned`, those it keeps)."""
    lengths: dict[int, int] = {}
    for decoded, typed in _decoded_blocks(path, _DECODE):
        yield owners_interned(decoded, lengths) if interned and typed else decoded


class _Held(msgspec.Struct, gc=False):
    """A record's id alone: the rest of its line is skipped unread."""

    id: str


_IDS = msgspec.json.Decoder(_Held)


def record_ids(path: Path) -> Iterator[str]:
    """The id of each record of a ``final_read.jsonl``, in order, without decoding the rest
    (a block the id-only decoder refuses is read as :func:`record_blocks` reads it)."""
    for decoded, _typed in _decoded_blocks(path, _IDS):
        yield from (found.id for found in decoded)


def _decoded_blocks(
    path: Path, decoder: msgspec.json.Decoder[Any]
) -> Iterator[tuple[list[Any], bool]]:
    """Each block of ``path`` through ``decoder`` (``True``), or, when it refuses the block,
    its lines read leniently (``False``), naming the first line that is wrong."""
    line = 1  # of the block's first line
    with path.open("rb") as source:
        for block in _blocks(source):
            try:
                decoded, typed = decoder.decode_lines(block), True
            except msgspec.DecodeError:
                decoded, typed = list(_lenient(path, block, line)), False
            yield decoded, typed
            line += block.count(b"\n")


def owners_interned(records: list[FinalRecord], lengths: dict[int, int]) -> list[FinalRecord]:
    """``records`` with one object per distinct practitioner and patient id (the history
    index interns them too): ids repeat over thousands of records, each decoded anew; and one
    per distinct field length (``lengths``, shared by a file's blocks) above 256, each an
    object of its own (a field's length repeats less, but notes' lengths are few)."""
    intern = sys.intern
    for record in records:
        _set(record, "practitioner_id", intern(record.practitioner_id))
        _set(record, "patient_id", intern(record.patient_id))
        for value in _astuple(record.fields):
            if value is not UNSET and value.length > 256:
                _set(value, "length", lengths.setdefault(value.length, value.length))
    return records


def _blocks(source: BinaryIO) -> Iterator[bytes]:
    """The file in blocks of whole lines (the last may lack its newline)."""
    carry = b""
    while chunk := source.read(_BLOCK_BYTES):
        cut = chunk.rfind(b"\n") + 1
        if cut == 0:
            carry += chunk
            continue
        yield carry + chunk[:cut]
        carry = chunk[cut:]
    if carry:
        yield carry


def _lenient(path: Path, block: bytes, first_line: int) -> Iterator[FinalRecord]:
    for number, line in enumerate(block.split(b"\n"), first_line):
        if not line.strip():
            continue
        try:
            yield FinalRecord.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            problem = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
            raise RunFileError(path.name, f"line {number}: {problem}") from None


BATCH_ROWS = 2000
"""Rows fetched per query while streaming the table."""

_COLUMNS = (
    "id",
    "idempotency_key",
    "practitioner_id",
    "patient_id",
    "version",
    "started_at",
    *OBSERVATION_FIELDS,
)


def final_record(row: Mapping[str, object]) -> FinalRecord:
    """One full record (API JSON or database row) as the verifiers compare it: ids as strings,
    each non-null observation field digested, null fields absent."""
    key = row.get("idempotency_key")
    version = row.get("version")
    started = row.get("started_at")
    fields: dict[str, FieldDigest] = {}
    for name in OBSERVATION_FIELDS:
        text = row.get(name)
        if text is not None:
            fields[name] = FieldDigest.of(str(text))
    return FinalRecord(
        id=str(row["id"]),
        key=None if key is None else str(key),
        practitioner_id=str(row.get("practitioner_id")),
        patient_id=str(row.get("patient_id")),
        version=int(version) if isinstance(version, int | str) else 0,
        fields=FinalFields.of(fields),
        started_at=_iso(started),
    )


def _iso(moment: object) -> str | None:
    """A start time as text: a database may hand back a datetime, an API a string."""
    if moment is None:
        return None
    isoformat = getattr(moment, "isoformat", None)
    return str(isoformat()) if callable(isoformat) else str(moment)


def final_read_from_records(
    records: Iterable[Mapping[str, object]],
    source: Literal["api", "database"] = "api",
    time: int | None = None,
    *,
    complete: bool = True,
    error: str | None = None,
) -> FinalRead:
    """A :class:`FinalRead` from full records (``{id, idempotency_key, practitioner_id,
    patient_id, ..., visit_reason, exam_report, conclusion, prescription, version, ...}``).
    ``time`` is when the read began, in ns since the run started."""
    return FinalRead(source, complete, [final_record(r) for r in records], error, time)


def read_database(
    url: str, *, time_ns: int | None = None, batch_rows: int = BATCH_ROWS
) -> FinalRead:
    """Every row of ``consultations`` at ``url`` (any SQLAlchemy URL; ``postgresql://`` uses
    psycopg 3). A database that cannot be read gives an incomplete read naming the error,
    with the rows read so far, so the verdict is unknown rather than a crash."""
    import sqlalchemy

    records: list[FinalRecord] = []
    engine = sqlalchemy.create_engine(_with_driver(url))
    try:
        with engine.connect() as connection:
            for row in _stream(connection, batch_rows):
                records.append(final_record(row))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = exc.args[0] if exc.args else exc
        message = f"reading {_redacted(url)} failed: {type(exc).__name__}: {reason}"
        return FinalRead("database", False, records, message, time_ns)
    finally:
        engine.dispose()
    return FinalRead("database", True, records, None, time_ns)


def _stream(connection: Connection, batch_rows: int) -> Iterable[Mapping[str, object]]:
    import sqlalchemy

    table = sqlalchemy.table("consultations", *(sqlalchemy.column(c) for c in _COLUMNS))
    query = sqlalchemy.select(*table.columns).order_by(table.c.id).limit(batch_rows)
    last_id: object = None
    while True:
        page = query if last_id is None else query.where(table.c.id > last_id)
        rows = connection.execute(page).mappings().all()
        for row in rows:
            yield dict(row)
        if len(rows) < batch_rows:
            return
        last_id = rows[-1]["id"]


def _with_driver(url: str) -> str:
    scheme, rest = url.split("://", 1) if "://" in url else (url, "")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def final_read_from_database(url: str, *, time_ns: int | None) -> FinalRead:
    """The final read straight from the database at ``url`` (see :func:`read_database`)."""
    return read_database(url, time_ns=time_ns)


def own_database_url(run_dir: Path) -> str | None:
    """The URL of the run's own SQLite database, if the run kept one."""
    sqlite_file = run_dir / "consultations.db"
    return f"sqlite:///{sqlite_file.resolve()}" if sqlite_file.exists() else None
