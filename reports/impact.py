"""Who and what was damaged, as an incident responder needs it to notify people.

The verifiers name each offending record by ids; here each one is joined with the directory
(practitioner name and RPPS, patient name and national id), placed in time (acknowledged when,
with which faults active, detected when) and summed up per field, cohort and fault.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ackguard.harness.verifiers.result import Anomaly, FieldDamage, Verdict
from ackguard.reports.rundata import Directory, RunData
from ackguard.reports.timeline import FaultWindow, faults_active

__all__ = ["DATA_LOSS_KINDS", "DamagedRecord", "Impact", "Share", "assess", "damaged_records"]

DATA_LOSS_KINDS = ("lost", "corrupt")
"""Kinds where an acknowledged practitioner's note is gone or damaged: what people are told."""
DAMAGE_KINDS = ("lost", "corrupt", "duplicate", "phantom", "misattributed", "unexpected")
WHOLE_RECORD = "(whole record)"


@dataclass(frozen=True, slots=True)
class DamagedRecord:
    """One damaged record, merged across verifiers that reported it."""

    kind: str
    verifiers: tuple[str, ...]
    key: str | None
    consultation_id: str | None
    ids: tuple[str, ...]
    practitioner_id: str | None
    practitioner_name: str
    rpps: str
    patient_id: str | None
    patient_name: str
    national_id: str
    fields: tuple[FieldDamage, ...]
    ack_s: float | None
    ack_wall: datetime | None
    detection_s: float | None
    detection_wall: datetime | None
    detected_by: str  # the verifier's own detection time, or "final read"
    faults: tuple[str, ...]
    practice_time: datetime | None = None  # the consultation's simulated start (its create)
    # misattributed: the other practitioner and patient the answer or the record was about
    other_practitioner_id: str | None = None
    other_practitioner_name: str = ""
    other_patient_id: str | None = None
    other_patient_name: str = ""
    other_national_id: str = ""
    other_key: str | None = None
    via: str | None = None
    time_to_detect_s: float | None = None  # acknowledgement -> the live read-back that caught it
    after_service_back_s: float | None = None  # that read-back after the fault window healed

    @property
    def all_ids(self) -> tuple[str, ...]:
        """Every consultation id the record has: a duplicate's copies, the named one first."""
        first = (self.consultation_id,) if self.consultation_id else ()
        return tuple(dict.fromkeys((*first, *self.ids)))

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.field for f in self.fields) or (
            (WHOLE_RECORD,) if self.kind == "lost" else ()
        )


@dataclass(frozen=True, slots=True)
class Share:
    """``count`` of ``out_of`` (``None`` when the denominator is unknown)."""

    count: int
    out_of: int | None

    @property
    def percent(self) -> float | None:
        return None if not self.out_of else 100.0 * self.count / self.out_of


@dataclass(frozen=True, slots=True)
class CohortImpact:
    name: str
    defect: str
    members: int
    active_members: int | None
    affected: int
    records: int


@dataclass(frozen=True, slots=True)
class Impact:
    records: int
    practitioners: Share  # of the practitioners who had at least one acknowledged write
    patients: Share
    practitioners_in_directory: int | None
    first_ack_s: float | None
    last_ack_s: float | None
    first_ack_wall: datetime | None
    last_ack_wall: datetime | None
    fields: Mapping[str, int]
    cohorts: tuple[CohortImpact, ...]
    outside_cohorts: int | None  # affected practitioners in no cohort (None: no cohorts)
    per_fault: Mapping[str, tuple[int, int]]  # fault -> (records, practitioners)
    first_detection_delay_s: float | None  # the first loss (by ack) until it was detected
    detection_delays_s: tuple[float, float, float] | None  # min, median, max
    kinds: Mapping[str, int] = field(default_factory=dict)
    practice_window: tuple[datetime, datetime] | None = None  # simulated, of the lost/corrupt
    live: Mapping[str, object] = field(default_factory=dict)  # verdict.json's live summary


def damaged_keys(verdict: Verdict) -> set[str]:
    """The idempotency keys of the damaged records (those :func:`damaged_records` lists)."""
    return {
        anomaly.key
        for result in verdict.results
        for anomaly in result.anomalies
        if anomaly.kind in DAMAGE_KINDS and anomaly.key is not None
    }


def damaged_records(
    run: RunData, verdict: Verdict, faults: tuple[FaultWindow, ...]
) -> list[DamagedRecord]:
    """Every damaged record once, in order of acknowledgement (unknown times last)."""
    merged: dict[tuple[str, str | None, str | None, str | None], list[tuple[str, Anomaly]]] = {}
    for result in verdict.results:
        for anomaly in result.anomalies:
            if anomaly.kind in DAMAGE_KINDS:
                slot = (
                    anomaly.kind,
                    anomaly.key,
                    anomaly.id if anomaly.key is None else None,
                    anomaly.other_key or anomaly.other_patient_id,  # each wrong owner once
                )
                merged.setdefault(slot, []).append((result.name, anomaly))
    directory = run.directory or Directory()
    final_read_s = run.final_read.time_s if run.final_read else None
    records = [
        _record(reports, directory, run, faults, final_read_s) for reports in merged.values()
    ]
    return sorted(records, key=lambda r: (r.ack_s is None, r.ack_s or 0.0, r.key or ""))


def _record(
    reports: list[tuple[str, Anomaly]],
    directory: Directory,
    run: RunData,
    faults: tuple[FaultWindow, ...],
    final_read_s: float | None,
) -> DamagedRecord:
    anomalies = [a for _, a in reports]
    first = anomalies[0]
    fields: dict[str, FieldDamage] = {}
    for anomaly in anomalies:
        for damage in anomaly.fields:
            fields.setdefault(damage.field, damage)
    ack_ns = _earliest(a.ack_time for a in anomalies)
    if ack_ns is None:
        ack_ns = _earliest(d.ack_time for d in fields.values())
    detected_ns = _earliest(a.detection_time for a in anomalies)
    detection_s = detected_ns / 1e9 if detected_ns is not None else final_read_s
    ack_s = ack_ns / 1e9 if ack_ns is not None else None
    practitioner_id = next((a.practitioner_id for a in anomalies if a.practitioner_id), None)
    patient_id = next((a.patient_id for a in anomalies if a.patient_id), None)
    practitioner = directory.practitioners.get(practitioner_id or "")
    patient = directory.patients.get(patient_id or "")
    other_practitioner = directory.practitioners.get(first.other_practitioner_id or "")
    other_patient = directory.patients.get(first.other_patient_id or "")
    info = run.info
    return DamagedRecord(
        kind=first.kind,
        verifiers=tuple(dict.fromkeys(name for name, _ in reports)),
        key=first.key,
        consultation_id=next((a.id for a in anomalies if a.id), None),
        ids=tuple(dict.fromkeys(i for a in anomalies for i in a.ids)),
        practitioner_id=practitioner_id,
        practitioner_name=practitioner.name if practitioner else "",
        rpps=practitioner.rpps if practitioner else "",
        patient_id=patient_id,
        patient_name=patient.name if patient else "",
        national_id=patient.national_id if patient else "",
        fields=tuple(fields.values()),
        ack_s=ack_s,
        ack_wall=info.wall(ack_s) if info else None,
        detection_s=detection_s,
        detection_wall=info.wall(detection_s) if info else None,
        detected_by="read"
        if detected_ns is not None
        else ("final read" if final_read_s is not None else ""),
        faults=faults_active(faults, ack_s),
        other_practitioner_id=first.other_practitioner_id,
        other_practitioner_name=other_practitioner.name if other_practitioner else "",
        other_patient_id=first.other_patient_id,
        other_patient_name=other_patient.name if other_patient else "",
        other_national_id=other_patient.national_id if other_patient else "",
        other_key=first.other_key,
        via=first.via,
        time_to_detect_s=_least(a.time_to_detect_s for a in anomalies),
        after_service_back_s=_least(a.after_service_back_s for a in anomalies),
    )


def _least(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _earliest(times: Iterable[int | None]) -> int | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def assess(
    run: RunData,
    records: list[DamagedRecord],
    writers: frozenset[str] | None,
    patients_written: frozenset[str] | None,
) -> Impact:
    """The impact of the data-loss records (lost and corrupt). ``writers``/``patients_written``
    are who had at least one acknowledged write (``None`` without a history)."""
    losses = [r for r in records if r.kind in DATA_LOSS_KINDS]
    practitioners = {r.practitioner_id for r in losses if r.practitioner_id}
    patients = {r.patient_id for r in losses if r.patient_id}
    acked = [r for r in losses if r.ack_s is not None]
    first = min(acked, key=lambda r: r.ack_s or 0.0) if acked else None
    last = max(acked, key=lambda r: r.ack_s or 0.0) if acked else None
    delays = [
        r.detection_s - r.ack_s for r in acked if r.detection_s is not None and r.ack_s is not None
    ]
    per_fault: dict[str, tuple[set[str], set[str | None]]] = {}
    for record in losses:
        for fault in record.faults or ("(no fault active)",):
            keys, who = per_fault.setdefault(fault, (set(), set()))
            keys.add(record.key or record.consultation_id or "")
            who.add(record.practitioner_id)
    practiced = [r.practice_time for r in losses if r.practice_time is not None]
    cohorts = run.info.cohorts if run.info else ()
    in_any_cohort = set().union(*(c.practitioner_ids for c in cohorts)) if cohorts else set()
    first_delay = (
        first.detection_s - first.ack_s
        if first and first.detection_s is not None and first.ack_s is not None
        else None
    )
    return Impact(
        records=len(losses),
        practitioners=Share(len(practitioners), len(writers) if writers is not None else None),
        patients=Share(
            len(patients), len(patients_written) if patients_written is not None else None
        ),
        practitioners_in_directory=len(run.directory.practitioners) if run.directory else None,
        first_ack_s=first.ack_s if first else None,
        last_ack_s=last.ack_s if last else None,
        first_ack_wall=first.ack_wall if first else None,
        last_ack_wall=last.ack_wall if last else None,
        fields=dict(Counter(name for r in losses for name in r.field_names).most_common()),
        cohorts=tuple(
            CohortImpact(
                name=c.name,
                defect=c.defect,
                members=len(c.practitioner_ids),
                active_members=len(c.practitioner_ids & writers) if writers is not None else None,
                affected=len(practitioners & c.practitioner_ids),
                records=sum(1 for r in losses if r.practitioner_id in c.practitioner_ids),
            )
            for c in cohorts
        ),
        outside_cohorts=len(practitioners - in_any_cohort) if cohorts else None,
        per_fault={
            name: (len(keys), len(who - {None}))
            for name, (keys, who) in sorted(per_fault.items(), key=lambda kv: -len(kv[1][0]))
        },
        first_detection_delay_s=first_delay,
        detection_delays_s=(min(delays), statistics.median(delays), max(delays))
        if delays
        else None,
        kinds=dict(Counter(r.kind for r in records)),
        practice_window=(min(practiced), max(practiced)) if practiced else None,
        live=dict(run.verdict.live) if run.verdict is not None else {},
    )
