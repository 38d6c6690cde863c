"""The workload: synthetic practitioners of a French practice writing consultation notes.

Typical use by the orchestrator (Locust must be imported first: it monkey-patches the standard
library with gevent on import, and everything after must see the patched modules)::

    import locust  # first
    from locust.env import Environment
    workload = Workload(WorkloadConfig(seed=7, practitioners=12), history, users=12)
    directory = workload.setup(service_url)           # registers practitioners and patients
    env = Environment(user_classes=workload.user_classes(), host=service_url)
    runner = env.create_local_runner()
    runner.start(12, spawn_rate=12); gevent.sleep(60); runner.quit()
    records = workload.export(service_url)            # the final read through the API

Stopping: Locust kills a user that is waiting for the simulated clock at once; a user in the
middle of an operation is killed too unless ``env.stop_timeout`` is set (``request_timeout_s + 1``
lets every operation in flight complete). A killed operation is recorded ``info`` ("interrupted").

Practitioners per user: the practitioners are dealt round-robin into ``users`` groups (default:
one practitioner per user); each Locust user drives one group, so 3,000 practitioners can run on
100 users (30 each). Starting more users than groups adds idle users; fewer leaves groups idle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ackguard.harness.history import HistoryWriter
from ackguard.harness.history_read import paused_gc
from ackguard.harness.workload.adapters import AdapterError, AdapterFactory
from ackguard.harness.workload.clock import DEFAULT_MAX_IDLE_S, SimClock
from ackguard.harness.workload.directory import Directory, PatientEntry, PractitionerEntry
from ackguard.harness.workload.http_target import HttpTarget
from ackguard.harness.workload.model import PractitionerProfile, build_practice
from ackguard.harness.workload.pacer import Pause, no_pause
from ackguard.harness.workload.practitioner import (
    AgentSettings,
    ConsultationSteps,
    PractitionerAgent,
    PractitionerGroup,
)
from ackguard.harness.workload.recorder import OpRecorder
from ackguard.harness.workload.registration import SetupError, register_everyone
from ackguard.harness.workload.target import (
    SupportsBulkRegistration,
    SupportsRegistration,
    TargetContext,
    TargetFactory,
)

__all__ = ["DEFAULT_SIM_START", "SetupError", "Workload", "WorkloadConfig"]

DEFAULT_SIM_START = datetime(2026, 1, 5, 7, 30, tzinfo=ZoneInfo("Europe/Paris"))  # a Monday


@dataclass(frozen=True)
class WorkloadConfig:
    """``time_scale``: simulated seconds per real second. ``max_idle_s``: the longest real
    sleep between two actions of a user (nights and weekends pass in that time).
    ``request_timeout_s``: per request; past it the outcome is indeterminate.
    ``consultation_steps``: what each consultation writes (see ``ConsultationSteps``)."""

    seed: int
    practitioners: int
    patients_per_practitioner: int = 30
    time_scale: float = 3600.0
    sim_start: datetime = DEFAULT_SIM_START
    request_timeout_s: float = 5.0
    amend_probability: float = 0.1
    read_probability: float = 0.3
    max_idle_s: float = DEFAULT_MAX_IDLE_S
    consultations_per_practitioner: int | None = None
    consultation_steps: ConsultationSteps = "full"


@dataclass
class _Setup:
    base_url: str
    directory: Directory
    groups: list[PractitionerGroup] = field(default_factory=list)


class Workload:
    def __init__(
        self,
        config: WorkloadConfig,
        history: HistoryWriter | None,
        target_factory: TargetFactory = HttpTarget,
        *,
        users: int | None = None,
        first_free_process: int | None = None,
        pause: Pause = no_pause,
    ) -> None:
        """``first_free_process``: where the fresh process ids of this workload start (default:
        the number of practitioners); a Locust worker's start past the other workers'.
        ``pause``: called once per practitioner built, here and in :meth:`attach`, where a
        Locust worker lets its heartbeats through (:mod:`.pacer`)."""
        if config.practitioners < 1 or config.patients_per_practitioner < 1:
            raise ValueError("a workload needs at least one practitioner with one patient")
        SimClock(config.sim_start, config.time_scale, max_idle_s=config.max_idle_s)  # validates
        self.config = config
        self.history = history
        self.target_factory = target_factory
        self.users = max(1, min(users or config.practitioners, config.practitioners))
        self._pause = pause
        # The practice, the directory and the agents are millions of long-lived objects without
        # cycles: a collection while they are built finds nothing, yet scans them all (at 300,000
        # practitioners a third of building them is such collections).
        with paused_gc():
            self.practice: list[PractitionerProfile] = build_practice(
                config.seed,
                config.practitioners,
                config.patients_per_practitioner,
                config.sim_start.date(),
                pause=pause,
            )
        self.directory = Directory()
        self._setup: _Setup | None = None
        first_free = config.practitioners if first_free_process is None else first_free_process
        self._recorder = OpRecorder(history, first_free_process=first_free)

    @property
    def practitioners_per_user(self) -> int:
        return -(-self.config.practitioners // self.users)

    def setup(self, base_url: str, *, timeout_s: float = 60.0) -> Directory:
        """Register every practitioner and patient through the target, in bulk when it can
        (:mod:`.registration`). Each registration is retried with backoff while the service is
        unreachable or answers 5xx (so a restart mid-setup is survived) until ``timeout_s`` has
        passed without progress; a 4xx is a :class:`SetupError`. A target without the
        registration ability registers nobody: the system knows practitioners by their RPPS
        number and patients as ``<rpps>-<n>``."""
        target = self.target_factory(TargetContext(base_url, self.config.request_timeout_s))
        if isinstance(target, SupportsBulkRegistration | SupportsRegistration):
            practitioner_ids, patient_ids = register_everyone(target, self.practice, timeout_s)
        else:
            practitioner_ids = [p.rpps for p in self.practice]
            patient_ids = [
                f"{p.rpps}-{n}" for p in self.practice for n in range(1, len(p.patients) + 1)
            ]
        with paused_gc():
            self._attach_registered(base_url, practitioner_ids, patient_ids)
        return self.directory

    def _attach_registered(
        self, base_url: str, practitioner_ids: Sequence[str], patient_ids: Sequence[str]
    ) -> None:
        everyone = [patient for p in self.practice for patient in p.patients]
        practitioners = [
            PractitionerEntry(pid, p.rpps, p.name, p.specialty.name)
            for pid, p in zip(practitioner_ids, self.practice, strict=True)
        ]
        patients = [
            PatientEntry(pid, patient.name, patient.birth_date.isoformat(), patient.national_id)
            for pid, patient in zip(patient_ids, everyone, strict=True)
        ]
        self.directory = Directory(practitioners, patients)
        self._setup = _Setup(base_url, self.directory, self._groups(practitioners, patients))

    def attach(self, base_url: str, directory: Directory, part: tuple[int, int]) -> None:
        """Drive practitioners another process registered (``directory``, in practice order):
        part ``(k, n)`` is those whose index mod ``n`` is ``k`` (a Locust worker's share)."""
        k, n = part
        if not 0 <= k < n or len(directory.practitioners) != self.config.practitioners:
            raise ValueError(f"part {k} of {n} of {len(directory.practitioners)} practitioners")
        self.directory = directory
        with paused_gc():
            groups = self._groups(directory.practitioners, directory.patients, part)
        self._setup = _Setup(base_url, directory, groups)

    def user_classes(self) -> list[type[Any]]:
        """One Locust user class whose instances each drive a group of practitioners; start
        ``self.users`` of them. Imports Locust: call it after Locust was imported first."""
        if self._setup is None:
            raise RuntimeError("call Workload.setup(base_url) before user_classes()")
        from ackguard.harness.workload.users import UserPool, build_user_class

        pool = UserPool(self._setup.groups, self.target_factory, self.config.request_timeout_s)
        return [build_user_class(pool, self._setup.base_url)]

    def export(self, base_url: str, *, time_ns: int | None = None) -> list[dict[str, object]]:
        """Every consultation through the target's export (the black-box final read). Raises
        :class:`~harness.workload.http_target.ExportError` when it cannot complete. ``time_ns``
        (when the read began, ns since the run started) is the caller's to store with the read."""
        del time_ns
        target = self.target_factory(TargetContext(base_url, self.config.request_timeout_s))
        return [dict(record) for record in target.export()]

    @property
    def target_error(self) -> AdapterError | None:
        """The first answer of a user's adapter that broke the Target contract (the run ends
        with it); ``None`` for the built-in target or a well-behaved adapter."""
        factory = self.target_factory
        return factory.violation if isinstance(factory, AdapterFactory) else None

    def agendas_ended(self) -> bool:
        """Every practitioner this workload drives has come to the end of its agenda (bounded by
        ``consultations_per_practitioner``; never, without it)."""
        return self._setup is not None and all(g.agendas_ended for g in self._setup.groups)

    def simulated_now(self) -> datetime:
        """The furthest simulated moment the practitioners' agendas have reached."""
        if self._setup is None or not self._setup.groups:
            return self.config.sim_start
        return max(group.clock.now for group in self._setup.groups)

    def _groups(
        self,
        practitioners: Sequence[PractitionerEntry],
        patients: Sequence[PatientEntry],
        part: tuple[int, int] = (0, 1),
    ) -> list[PractitionerGroup]:
        config = self.config
        settings = AgentSettings(
            config.seed,
            config.sim_start,
            config.amend_probability,
            config.read_probability,
            config.consultation_steps,
        )
        each = config.patients_per_practitioner
        groups: list[list[PractitionerAgent]] = [[] for _ in range(self.users)]
        k, n = part
        for index, (profile, entry) in enumerate(zip(self.practice, practitioners, strict=True)):
            if index % n != k:
                continue
            self._pause()
            own_patients = list(patients[index * each : (index + 1) * each])
            agent = PractitionerAgent(
                profile,
                entry,
                own_patients,
                settings,
                self._recorder,
                process=index,
                consultations=config.consultations_per_practitioner,
            )
            groups[(index // n) % self.users].append(agent)
        return [
            PractitionerGroup(
                agents, SimClock(config.sim_start, config.time_scale, max_idle_s=config.max_idle_s)
            )
            for agents in groups
            if agents
        ]
