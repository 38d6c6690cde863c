"""Synthetic practitioners: Locust users that write consultation notes through a Target.

Importing this package does not import Locust; :meth:`Workload.user_classes` does, so the caller
imports ``locust`` first (gevent's monkey patching must precede the other imports).
"""

from ackguard.harness.workload.adapters import AdapterError, AdapterFactory, load_adapter
from ackguard.harness.workload.clock import SimClock
from ackguard.harness.workload.directory import Directory, PatientEntry, PractitionerEntry
from ackguard.harness.workload.http_target import ExportError, HttpTarget
from ackguard.harness.workload.identity import in_cohort, valid_nir, valid_rpps
from ackguard.harness.workload.model import PatientProfile, PractitionerProfile
from ackguard.harness.workload.one_at_a_time import OneAtATime, one_at_a_time
from ackguard.harness.workload.target import (
    ConsultationRecord,
    Outcome,
    SupportsBulkRegistration,
    SupportsDayListing,
    SupportsRegistration,
    Target,
    TargetAnswer,
    TargetContext,
    TargetFactory,
    classify_error,
    classify_status,
)
from ackguard.harness.workload.transport import Reply, Transport, classify_reply, transport_for
from ackguard.harness.workload.workload import (
    DEFAULT_SIM_START,
    SetupError,
    Workload,
    WorkloadConfig,
)

__all__ = [
    "DEFAULT_SIM_START",
    "AdapterError",
    "AdapterFactory",
    "ConsultationRecord",
    "Directory",
    "ExportError",
    "HttpTarget",
    "OneAtATime",
    "Outcome",
    "PatientEntry",
    "PatientProfile",
    "PractitionerEntry",
    "PractitionerProfile",
    "Reply",
    "SetupError",
    "SimClock",
    "SupportsBulkRegistration",
    "SupportsDayListing",
    "SupportsRegistration",
    "Target",
    "TargetAnswer",
    "TargetContext",
    "TargetFactory",
    "Transport",
    "Workload",
    "WorkloadConfig",
    "classify_error",
    "classify_reply",
    "classify_status",
    "in_cohort",
    "load_adapter",
    "one_at_a_time",
    "transport_for",
    "valid_nir",
    "valid_rpps",
]
