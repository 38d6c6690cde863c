"""The Target: the adapter between practitioners and the system under test.

The built-in :class:`~harness.workload.http_target.HttpTarget` speaks the reference consultation
API. A team whose API differs writes its own class (see ``examples/cabinet/adapter.py``) and names
it in the scenario (``system.target.adapter``). Every target can :class:`Target` (create, update,
read, export); registering practitioners and patients (:class:`SupportsRegistration`, or many
per call: :class:`SupportsBulkRegistration`) and listing a practitioner's day
(:class:`SupportsDayListing`) are optional abilities the workload uses when a target has them.
Without registration, practitioners and patients are known to the system by their own
identifiers (the RPPS number, ``<rpps>-<n>`` for a patient); without listing, practitioners
never list.

Every method answers a :class:`TargetAnswer` whose ``outcome`` follows ackguard's words:

* ``ok``: acknowledged, the system answered 2xx;
* ``fail``: certainly not applied: a 4xx rejection, or the connection was refused before
  anything was sent;
* ``info``: indeterminate: a timeout, a connection reset or closed after the request was sent,
  a 5xx, an unreadable answer. A timeout is never ``fail``.

:func:`classify_status` and :func:`classify_error` apply these rules for adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

from ackguard.harness.workload.directory import PatientEntry, PractitionerEntry
from ackguard.harness.workload.model import PatientProfile, PractitionerProfile

__all__ = [
    "ConsultationRecord",
    "Outcome",
    "SupportsBulkRegistration",
    "SupportsDayListing",
    "SupportsRegistration",
    "Target",
    "TargetAnswer",
    "TargetContext",
    "TargetFactory",
    "classify_error",
    "classify_status",
    "parse_record",
]

Outcome = Literal["ok", "fail", "info"]
ObservationFields = Mapping[str, str | None]


class ConsultationRecord(TypedDict, total=False):
    """A consultation as the reference API returns it (ids as strings)."""

    id: str
    idempotency_key: str
    practitioner_id: str
    patient_id: str
    started_at: str
    visit_reason: str | None
    exam_report: str | None
    conclusion: str | None
    prescription: str | None
    version: int
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class TargetAnswer:
    """What one call to the system came to.

    ``record``: the consultation after a create, update or read that was ``ok`` (``found`` is
    False when a read found nothing); ``records``: what a list showed (``complete`` False when
    the list was cut short); ``entity_id``: the id a registration returned; ``entity_ids``: the
    ids a bulk registration returned, in the order of what was registered."""

    outcome: Outcome
    status: int | None = None
    error: str | None = None
    record: ConsultationRecord | None = None
    records: tuple[ConsultationRecord, ...] = ()
    entity_id: str | None = None
    found: bool = True
    complete: bool = True
    entity_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TargetContext:
    """What a target is built from. ``client`` is the Locust user's HTTP client when the
    target serves a Locust user (its calls then show in Locust's statistics), ``None`` for
    setup and export."""

    base_url: str
    timeout_s: float
    client: Any = None


@runtime_checkable
class Target(Protocol):
    """What every target can do. ``record_ref`` is the record's id as ``create`` returned it."""

    def create(
        self,
        practitioner: PractitionerEntry,
        patient: PatientEntry,
        key: str,
        started_at: datetime,
        fields: ObservationFields,
    ) -> TargetAnswer:
        """A new consultation under the idempotency ``key`` (the same key and body again must
        not make a second record); ``ok`` answers carry the created ``record`` with its id."""
        ...

    def update(self, record_ref: str, fields: ObservationFields) -> TargetAnswer:
        """Set the given observation fields (``None`` empties a field)."""
        ...

    def read(self, record_ref: str) -> TargetAnswer:
        """The consultation: ``ok`` with ``record``, or ``ok`` with ``found=False``."""
        ...

    def export(self) -> Iterator[ConsultationRecord]:
        """Every consultation in the system, page by page; raises when it cannot finish. This
        is the final read: each item needs ``id``, ``idempotency_key``, ``practitioner_id``,
        ``patient_id`` and the observation fields (absent means empty)."""
        ...


@runtime_checkable
class SupportsRegistration(Protocol):
    """A target whose system registers practitioners and patients and gives them its own ids
    (``entity_id`` of an ``ok`` answer)."""

    def register_practitioner(self, practitioner: PractitionerProfile) -> TargetAnswer: ...

    def register_patient(self, patient: PatientProfile) -> TargetAnswer: ...


@runtime_checkable
class SupportsBulkRegistration(Protocol):
    """A target that registers many practitioners or patients per call (the workload's setup
    prefers it to :class:`SupportsRegistration`: 300,000 practitioners in about a minute). An
    ``ok`` answer carries one id per item in ``entity_ids``, in the items' order; anything else
    means none is known to be registered (the workload sends the same items again). The
    workload calls it from several threads at once, with at most 500 items per call."""

    def register_practitioners(
        self, practitioners: Sequence[PractitionerProfile]
    ) -> TargetAnswer: ...

    def register_patients(self, patients: Sequence[PatientProfile]) -> TargetAnswer: ...


@runtime_checkable
class SupportsDayListing(Protocol):
    """A target that can list a practitioner's consultations (practitioners list their day
    when it starts)."""

    def list_day(self, practitioner: PractitionerEntry, day: date) -> TargetAnswer:
        """The practitioner's consultations as the system lists them (at least those of
        ``day``). Set ``complete=False`` unless ``records`` holds every consultation of the
        practitioner: the verifiers treat a record missing from a complete list as absent."""
        ...


TargetFactory = Callable[[TargetContext], Target]


def classify_status(status: int) -> Outcome:
    """2xx acknowledged, 4xx rejected, anything else (5xx, unexpected codes) indeterminate."""
    if 200 <= status < 300:
        return "ok"
    if 400 <= status < 500:
        return "fail"
    return "info"


def classify_error(error: BaseException) -> Outcome:
    """A transport error: ``fail`` only when the connection was refused (nothing was sent);
    timeouts, resets and everything else are ``info``. Wrapped causes are followed."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "fail"
        for attribute in ("original", "reason", "__cause__", "__context__"):
            nested = getattr(current, attribute, None)
            if isinstance(nested, BaseException):
                pending.append(nested)
    return "info"


def parse_record(data: object) -> ConsultationRecord | None:
    """A consultation from decoded JSON, ids made strings; ``None`` if it has no id."""
    if not isinstance(data, dict) or data.get("id") is None:
        return None
    record: dict[str, object] = dict(data)
    for name in ("id", "practitioner_id", "patient_id"):
        if record.get(name) is not None:
            record[name] = str(record[name])
    return record  # type: ignore[return-value]
