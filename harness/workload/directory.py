"""Who is registered in the system under test: practitioners and patients with their server ids.

Written by the orchestrator to ``directory.json`` so reports can name the practitioners and
patients whose notes were damaged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ackguard.harness.workload.pacer import Pause, no_pause

__all__ = ["Directory", "PatientEntry", "PractitionerEntry"]


class PractitionerEntry(NamedTuple):
    id: str
    rpps: str
    name: str
    specialty: str


class PatientEntry(NamedTuple):
    id: str
    name: str
    birth_date: str  # YYYY-MM-DD
    national_id: str  # NIR: 13 digits + 2-digit key


@dataclass
class Directory:
    practitioners: list[PractitionerEntry] = field(default_factory=list)
    patients: list[PatientEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, list[dict[str, str]]]:
        return {
            "practitioners": [p._asdict() for p in self.practitioners],
            "patients": [p._asdict() for p in self.patients],
        }

    @classmethod
    def from_json(
        cls, data: Mapping[str, list[Mapping[str, str]]], *, pause: Pause = no_pause
    ) -> Directory:
        """``pause`` is called once per entry (:mod:`.pacer`): a Locust worker reads hundreds of
        thousands of them while it must go on answering heartbeats."""
        practitioners = []
        for p in data["practitioners"]:
            pause()
            practitioners.append(
                PractitionerEntry(**{k: str(p[k]) for k in PractitionerEntry._fields})
            )
        patients = []
        for p in data["patients"]:
            pause()
            patients.append(PatientEntry(**{k: str(p[k]) for k in PatientEntry._fields}))
        return cls(practitioners, patients)
