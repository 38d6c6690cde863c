"""What a verifier returns, and the verdict of a run as ``verdict.json`` stores it.

A verdict is ``True`` (nothing acknowledged was lost or damaged, with evidence), ``False`` (a
violation) or ``"unknown"`` (could not tell: no evidence, a fault that never acted, an interrupted
or failed run, no final read, a checker error). Verdicts combine with the priority
false > unknown > true. Whatever is unknown says why, in words: a :class:`Result` in ``reason``,
a :class:`Verdict` in ``reasons``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

__all__ = [
    "CLASSES",
    "Anomaly",
    "FieldDamage",
    "Result",
    "Valid",
    "Verdict",
    "combine",
    "load_verdict",
    "verifier_reasons",
    "write_verdict",
]

Valid: TypeAlias = bool | Literal["unknown"]

CLASSES: tuple[str, ...] = (
    "attempted",
    "acknowledged",
    "intact",
    "lost",
    "corrupt",
    "recovered",
    "phantom",
    "duplicate",
    "misattributed",
    "unexpected",
    "indeterminate",
    "failed",
)
"""The counts every verdict carries, in the order reports show them."""

VERDICT_FILE = "verdict.json"


def combine(valids: Iterable[Valid]) -> Valid:
    """false > unknown > true; no verifier at all is unknown."""
    seen = list(valids)
    if not seen:
        return "unknown"
    if any(v is False for v in seen):
        return False
    if any(v == "unknown" for v in seen):
        return "unknown"
    return True


@dataclass(frozen=True, slots=True)
class FieldDamage:
    """One damaged field: what was acknowledged (and when) against what the final read holds.
    ``acknowledged``/``final`` are FieldDigest JSON (``digest``, ``length``, ``prefix``) or
    ``None`` (absent)."""

    field: str
    acknowledged: Mapping[str, Any] | None
    final: Mapping[str, Any] | None
    ack_time: int | None

    def to_json(self) -> dict[str, object]:
        return {
            "field": self.field,
            "acknowledged": self.acknowledged,
            "final": self.final,
            "ack_time": self.ack_time,
        }


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One offending record. ``kind`` is lost, corrupt, phantom, duplicate, misattributed,
    unexpected (or, for the read-your-writes verifier, ``lost`` with a detection time). Times
    are ns since run start.

    For ``misattributed``, ``practitioner_id``/``patient_id`` are whom the record belongs to
    (its acknowledged create) and ``other_*`` whom the answer or the stored record was about
    instead; ``via`` says which answer: ``record`` (the stored record holds another
    practitioner, patient or start time), ``id`` (the acknowledged id now holds another
    record), ``create``/``update``/``read`` (an acknowledged answer carried another record),
    ``note`` (a note written to this record
    was found in another one, ``id`` and ``other_key`` name it)."""

    kind: str
    key: str | None
    id: str | None
    practitioner_id: str | None
    patient_id: str | None
    fields: tuple[FieldDamage, ...] = ()
    ack_time: int | None = None
    detection_time: int | None = None
    ids: tuple[str, ...] = ()  # for duplicates: every record made from the one key
    other_key: str | None = None
    other_practitioner_id: str | None = None
    other_patient_id: str | None = None
    via: str | None = None
    time_to_detect_s: float | None = None
    """Acknowledgement -> the first live read-back that caught it (None: none did)."""
    after_service_back_s: float | None = None
    """That read-back's completion minus the end of the fault window healed in between."""

    def to_json(self) -> dict[str, object]:
        misattributed: dict[str, object] = {}
        if self.via is not None or self.other_patient_id is not None:
            misattributed = {
                "other_key": self.other_key,
                "other_practitioner_id": self.other_practitioner_id,
                "other_patient_id": self.other_patient_id,
                "via": self.via,
            }
        return {
            "kind": self.kind,
            "key": self.key,
            "id": self.id,
            "practitioner_id": self.practitioner_id,
            "patient_id": self.patient_id,
            "fields": [f.to_json() for f in self.fields],
            "ack_time": self.ack_time,
            "detection_time": self.detection_time,
            "ids": list(self.ids),
            "time_to_detect_s": self.time_to_detect_s,
            "after_service_back_s": self.after_service_back_s,
        } | misattributed

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Anomaly:
        return cls(
            kind=str(data["kind"]),
            key=data.get("key"),
            id=data.get("id"),
            practitioner_id=data.get("practitioner_id"),
            patient_id=data.get("patient_id"),
            fields=tuple(
                FieldDamage(f["field"], f.get("acknowledged"), f.get("final"), f.get("ack_time"))
                for f in data.get("fields", [])
            ),
            ack_time=data.get("ack_time"),
            detection_time=data.get("detection_time"),
            ids=tuple(data.get("ids", [])),
            other_key=data.get("other_key"),
            other_practitioner_id=data.get("other_practitioner_id"),
            other_patient_id=data.get("other_patient_id"),
            via=data.get("via"),
            time_to_detect_s=data.get("time_to_detect_s"),
            after_service_back_s=data.get("after_service_back_s"),
        )


@dataclass(frozen=True, slots=True)
class Result:
    """One verifier's answer: ``valid``, counts, the offending records and free-form extras
    (for example latency quantiles). ``error`` is set when the verifier raised. ``reason`` says
    in words why an ``unknown`` answer could not tell; an unknown result always has one (the
    error, or a plain admission, when the verifier gave none)."""

    name: str
    valid: Valid
    counts: Mapping[str, int] = field(default_factory=dict)
    anomalies: tuple[Anomaly, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.valid == "unknown" and not self.reason:
            object.__setattr__(self, "reason", self.error or "it gave no reason")

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "valid": self.valid,
            "counts": dict(self.counts),
            "anomalies": [a.to_json() for a in self.anomalies],
            "extra": dict(self.extra),
            "error": self.error,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Result:
        return cls(
            name=str(data["name"]),
            valid=data["valid"],
            counts=dict(data.get("counts", {})),
            anomalies=tuple(Anomaly.from_json(a) for a in data.get("anomalies", [])),
            extra=dict(data.get("extra", {})),
            error=data.get("error"),
            reason=data.get("reason"),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """The run's verdict: the combination of every verifier's result and of the run's evidence
    (:mod:`harness.verifiers.evidence`), the counts per class (:data:`CLASSES`), what the
    scenario expected and whether it matched.

    ``reasons`` are sentences in plain words ("fault toxic-0 never started: this run has no
    proxy"): why the verdict is unknown, or what weakens a false one; an unknown verdict always
    has at least one. ``evidence`` is what the verdict rests on (fault windows, acknowledged
    writes and the threshold, run status, final read, history damage)."""

    valid: Valid
    counts: Mapping[str, int]
    results: tuple[Result, ...]
    expected: Valid | None = None
    reasons: tuple[str, ...] = ()
    evidence: Mapping[str, object] = field(default_factory=dict)
    live: Mapping[str, object] = field(default_factory=dict)
    """What the live read-backs caught (:mod:`harness.live.detect`); empty without any."""

    def __post_init__(self) -> None:
        if self.valid == "unknown" and not self.reasons:
            object.__setattr__(self, "reasons", verifier_reasons(self.results) or NO_VERIFIER)

    @property
    def matched(self) -> bool | None:
        return None if self.expected is None else self.valid == self.expected

    @property
    def anomalies(self) -> list[Anomaly]:
        return [a for r in self.results for a in r.anomalies]

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.valid,
            "counts": dict(self.counts),
            "expected": self.expected,
            "matched": self.matched,
            "reasons": list(self.reasons),
            "evidence": dict(self.evidence),
            "live": dict(self.live),
            "results": [r.to_json() for r in self.results],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        evidence = dict(data.get("evidence", {}))
        return cls(
            valid=data["verdict"],
            counts=dict(data.get("counts", {})),
            results=tuple(Result.from_json(r) for r in data.get("results", [])),
            expected=data.get("expected"),
            # early files kept the reasons in the evidence
            reasons=tuple(str(r) for r in data.get("reasons") or evidence.get("reasons") or ()),
            evidence=evidence,
            live=dict(data.get("live", {})),
        )


NO_VERIFIER = ("no verifier gave an answer",)


def verifier_reasons(results: Iterable[Result]) -> tuple[str, ...]:
    """Why each verifier that could not tell could not: ``"records: no final read"``."""
    return tuple(f"{r.name}: {r.reason}" for r in results if r.valid == "unknown")


def write_verdict(run_dir: Path, verdict: Verdict) -> Path:
    path = run_dir / VERDICT_FILE
    path.write_text(json.dumps(verdict.to_json(), indent=1, ensure_ascii=False) + "\n", "utf-8")
    return path


def load_verdict(run_dir: Path) -> Verdict | None:
    path = run_dir / VERDICT_FILE
    if not path.exists():
        return None
    return Verdict.from_json(json.loads(path.read_text(encoding="utf-8")))
