"""The JSON files of a run directory, each defined once, as typed msgspec structs.

The writer encodes these structs and every reader (the verdict, ``ackguard verify``, the
reports, retention) decodes them, so a field is named, typed and defaulted in one place:

- ``run.json``: :class:`RunFile` (written by :class:`harness.run_dir.RunMeta` when the run starts,
  when its load starts and when it ends), its cohorts :class:`CohortEntry` with :class:`Span`;
- ``final_read.json``: :class:`FinalReadMeta` (the records are in ``final_read.jsonl``, see
  :mod:`harness.final_read`);
- ``directory.json``: :class:`DirectoryFile` (practitioners and patients as registered, written
  by :mod:`harness.run` once the workload registered them);

A file that cannot be decoded raises :class:`RunFileError`, whose message names the file and
the field (``run.json: Expected `int`, got `str` - at `$.seed```). Fields added over time have
defaults, so the files of older runs still read.

msgspec rather than pydantic, by measurement: the 98,668 records of a final read (44 MB) decode
in ~0.4-0.55 s of CPU into msgspec structs against ~1.5-1.9 s through equivalent pydantic models
(``validate_json``), side by side on a loaded 2-core machine; the run files are small either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeAlias, TypeVar

import msgspec

__all__ = [
    "STATUSES",
    "CohortEntry",
    "DirectoryFile",
    "FinalReadMeta",
    "PatientRow",
    "PractitionerRow",
    "RunFile",
    "RunFileError",
    "RunStatus",
    "Span",
    "read_file",
    "write_file",
]

T = TypeVar("T")
RunStatus: TypeAlias = Literal["running", "completed", "interrupted", "error"]
STATUSES: tuple[RunStatus, ...] = ("running", "completed", "interrupted", "error")


class RunFileError(ValueError):
    """A run directory's file that exists but cannot be read as its contract says: ``file``
    (its name) and ``detail`` (the field or line, and what is wrong)."""

    def __init__(self, file: str, detail: str) -> None:
        super().__init__(f"{file}: {detail}")
        self.file = file
        self.detail = detail


class FinalReadMeta(msgspec.Struct, frozen=True):
    """``final_read.json``: where the final read came from, whether it completed, how many
    records ``final_read.jsonl`` holds, why it failed, and when it began."""

    source: Literal["api", "database"]
    complete: bool
    records: int = 0
    error: str | None = None
    time: int | None = None  # ns since the run started when the read began

    @property
    def time_s(self) -> float | None:
        """When the read began, in seconds since the run started."""
        return None if self.time is None else self.time / 1e9


class Span(msgspec.Struct, frozen=True, omit_defaults=True):
    """A window ``{"from", "until"}`` as ISO 8601 texts; ``clock`` says which clock
    (``practice``: the simulated one) when it is not the wall clock."""

    start: str = msgspec.field(name="from")
    until: str = ""
    clock: str | None = None


class CohortEntry(msgspec.Struct, frozen=True):
    """A scoped defect's cohort (:mod:`harness.cohorts`): its practice window (simulated) and,
    once the load ran, ``window``: when its consultations were created, on the wall clock."""

    name: str = ""
    defect: str = ""
    practice_window: Span | None = None
    window: Span | None = None
    practitioner_ids: list[str] = []


class RunFile(msgspec.Struct, frozen=True, kw_only=True):
    """``run.json``. Every field has a default: a run killed early wrote only its first version,
    and fields were added over time (an older run simply lacks them).

    ``status`` is one of :data:`STATUSES`; ``harness_pid`` the process that ran the harness (a
    run still ``running`` whose harness is gone died); ``stopped_by`` the stop condition that
    ended the load early; ``expected`` the scenario's expected verdict."""

    scenario: str | None = None
    description: str | None = None
    seed: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None
    status: RunStatus | None = None
    error: str | None = None
    harness_pid: int | None = None
    load_duration_s: float | None = None
    load_started_at: datetime | None = None
    interrupted_at: datetime | None = None
    stopped_by: dict[str, Any] | None = None
    service_url: str | None = None
    command: str | None = None
    versions: dict[str, str] = {}
    time_scale: float | None = None
    sim_start: str | None = None
    expected: bool | Literal["unknown"] | None = None
    practitioners: int | None = None
    cohorts: list[CohortEntry] = []
    workers: int = 0
    workers_lost: list[str] = []


class PractitionerRow(msgspec.Struct, frozen=True):
    id: str
    rpps: str = ""
    name: str = ""
    specialty: str = ""


class PatientRow(msgspec.Struct, frozen=True):
    id: str
    name: str = ""
    birth_date: str = ""
    national_id: str = ""


class DirectoryFile(msgspec.Struct, frozen=True):
    """``directory.json``: who was registered in the system under test, with server ids (the
    layout of :meth:`harness.workload.directory.Directory.to_json`)."""

    practitioners: list[PractitionerRow] = []
    patients: list[PatientRow] = []

    @classmethod
    def of(
        cls,
        practitioners: Iterable[tuple[str, str, str, str]],
        patients: Iterable[tuple[str, str, str, str]],
    ) -> DirectoryFile:
        """The file of a workload's directory: its entries
        (:class:`~harness.workload.directory.PractitionerEntry`, ``PatientEntry``) hold these
        rows' fields in the same order."""
        return cls(
            [PractitionerRow(*entry) for entry in practitioners],
            [PatientRow(*entry) for entry in patients],
        )


def read_file(path: Path, kind: type[T]) -> T:
    """``path`` decoded as ``kind``; :class:`RunFileError` names the file and the bad field.
    ``OSError`` (absent, unreadable) is left to the caller, who knows what absence means."""
    raw = path.read_bytes()
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.DecodeError as exc:
        raise RunFileError(path.name, str(exc)) from None


def write_file(path: Path, value: object, *, indent: bool = True) -> None:
    """``value`` as JSON (indented, or on one line for a file too large to read by eye),
    replacing ``path`` at once (a reader never sees half)."""
    tmp = path.with_name(path.name + ".tmp")
    encoded = msgspec.json.encode(value)
    tmp.write_bytes((msgspec.json.format(encoded, indent=2) if indent else encoded) + b"\n")
    tmp.replace(path)
