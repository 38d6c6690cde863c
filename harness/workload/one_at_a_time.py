"""A target registered one person per call: :func:`one_at_a_time` hides a target's bulk
registration (:class:`~harness.workload.target.SupportsBulkRegistration`), so the workload's
setup registers every practitioner and patient by a call of its own, as it does through an
adapter without batch methods.

What it is for: measuring or testing the one-at-a-time path against a target that could do
better (the built-in :class:`~harness.workload.http_target.HttpTarget` registers in bulk), and
observing single registrations (a subclass of the wrapped target that counts or interferes with
``register_practitioner`` keeps doing so). Every other call goes to the wrapped target unchanged,
and the wrapper lists a day exactly when the wrapped target can::

    target = one_at_a_time(HttpTarget(context))
    Workload(config, history, lambda context: one_at_a_time(HttpTarget(context)))
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from ackguard.harness.workload.directory import PatientEntry, PractitionerEntry
from ackguard.harness.workload.model import PatientProfile, PractitionerProfile
from ackguard.harness.workload.target import (
    ConsultationRecord,
    ObservationFields,
    SupportsDayListing,
    SupportsRegistration,
    Target,
    TargetAnswer,
)

__all__ = ["OneAtATime", "one_at_a_time"]


class OneAtATime:
    """``inner`` with registration one person per call, and without bulk registration."""

    def __init__(self, inner: Target) -> None:
        if not isinstance(inner, SupportsRegistration):
            raise TypeError(
                f"{type(inner).__name__} cannot register one at a time: it has no "
                "register_practitioner and register_patient"
            )
        self.inner = inner
        self._registration: SupportsRegistration = inner

    def register_practitioner(self, practitioner: PractitionerProfile) -> TargetAnswer:
        return self._registration.register_practitioner(practitioner)

    def register_patient(self, patient: PatientProfile) -> TargetAnswer:
        return self._registration.register_patient(patient)

    def create(
        self,
        practitioner: PractitionerEntry,
        patient: PatientEntry,
        key: str,
        started_at: datetime,
        fields: ObservationFields,
    ) -> TargetAnswer:
        return self.inner.create(practitioner, patient, key, started_at, fields)

    def update(self, record_ref: str, fields: ObservationFields) -> TargetAnswer:
        return self.inner.update(record_ref, fields)

    def read(self, record_ref: str) -> TargetAnswer:
        return self.inner.read(record_ref)

    def export(self) -> Iterator[ConsultationRecord]:
        return self.inner.export()


class _OneAtATimeListing(OneAtATime):
    def __init__(self, inner: Target) -> None:
        super().__init__(inner)
        assert isinstance(inner, SupportsDayListing)
        self._listing: SupportsDayListing = inner

    def list_day(self, practitioner: PractitionerEntry, day: date) -> TargetAnswer:
        return self._listing.list_day(practitioner, day)


def one_at_a_time(target: Target) -> OneAtATime:
    """``target`` registering one practitioner or patient per call (see the module docstring);
    raises :class:`TypeError` when it cannot register at all."""
    if isinstance(target, SupportsDayListing):
        return _OneAtATimeListing(target)
    return OneAtATime(target)
