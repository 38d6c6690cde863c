"""The final read: every consultation present at the end of a run, as digests.

Written by the orchestrator to ``final_read.jsonl`` (one :class:`FinalRecord` per line) after
the load stopped and every fault was healed, and read back by the verifiers, so that
``ackguard verify`` can re-check a run offline. ``final_read.json`` beside it says where the
read came from and whether it completed; a run without it has no final read (verdict unknown).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.history import FieldDigest

__all__ = ["FinalRead", "FinalRecord", "load_final_read", "write_final_read"]

RECORDS_FILE = "final_read.jsonl"
META_FILE = "final_read.json"


@dataclass(frozen=True, slots=True)
class FinalRecord:
    """One consultation as found at the end. ``fields`` maps each observation field that has a
    value to its digest; a field that is empty (null) in the store is absent."""

    id: str
    key: str | None
    practitioner_id: str
    patient_id: str
    version: int
    fields: Mapping[str, FieldDigest] = field(default_factory=dict)
    started_at: str | None = None  # the consultation's start as stored (ISO 8601)

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
        return cls(
            id=str(data["id"]),
            key=data.get("key"),
            practitioner_id=str(data["practitioner_id"]),
            patient_id=str(data["patient_id"]),
            version=int(data.get("version", 0)),
            fields={n: FieldDigest.from_json(d) for n, d in (data.get("fields") or {}).items()},
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


def write_final_read(run_dir: Path, read: FinalRead) -> None:
    with (run_dir / RECORDS_FILE).open("w", encoding="utf-8") as out:
        for record in read.records:
            out.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    meta = {
        "source": read.source,
        "complete": read.complete,
        "records": len(read.records),
        "error": read.error,
        "time": read.time,
    }
    (run_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def load_final_read(run_dir: Path) -> FinalRead | None:
    """The stored final read, or ``None`` when the run never got one."""
    meta_path = run_dir / META_FILE
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    records_path = run_dir / RECORDS_FILE
    records = list(_records(records_path)) if records_path.exists() else []
    return FinalRead(
        meta["source"], bool(meta["complete"]), records, meta.get("error"), meta.get("time")
    )


def _records(path: Path) -> Iterable[FinalRecord]:
    with path.open(encoding="utf-8") as lines:
        yield from _parse_lines(lines)


def _parse_lines(lines: Iterable[str]) -> Iterator[FinalRecord]:
    for line in lines:
        if line.strip():
            yield FinalRecord.from_json(json.loads(line))
