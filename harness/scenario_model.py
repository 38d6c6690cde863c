"""The typed model of a scenario file, key for key (pydantic v2).

Each mapping of the file is a :class:`~harness.scenario_fields.Strict` model; each value type
states its bounds in its message. A fault's ``params`` are validated by its kind's own model
(``harness.faults``), a defect's ``params`` and ``cohort`` by the schema the consultation service
uses too (``fakes.consultations.defects.params``). Checks that need the whole scenario, the
command-line overrides or the proxy in use live in :mod:`harness.scenario_checks`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

# The one deliberate exception to "the harness never imports fakes": the defect parameter schema
# is a pure module of pydantic models, shared with the consultation service's /admin/defects.
from ackguard.fakes.consultations.defects.params import DEFECT_PARAMS, CohortParams, DefectName
from ackguard.harness.live.options import LiveSpec, StopWhen, live_option
from ackguard.harness.scenario_fields import (
    PLACEHOLDERS,
    Command,
    Seconds,
    Strict,
    mapping_of,
    maybe,
    number,
    placeholders_in,
    problem,
    seconds,
    text,
    whole,
)

__all__ = [
    "DatabaseSpec",
    "DefectModel",
    "FaultModel",
    "RandomGaps",
    "ReadySpec",
    "ScenarioFile",
    "ScheduleModel",
    "ServiceSpec",
    "SystemSpec",
    "TargetSpec",
    "WindowModel",
]

MAX_FAULTS = 100
MAX_DEFECTS = 20
# The population bounds keep a typo from asking for a run that cannot end: the harness holds
# the whole directory (every practitioner and patient, a few hundred bytes each) in memory in
# every process that drives practitioners, and registers it before the load (in bulk, some
# 30,000 a second). 1,000,000 practitioners and 3,000,000 patients still fit both: the reference
# incident's 300,000 practitioners (examples/full-scale/) with room to spare.
MAX_PRACTITIONERS = 1_000_000
MAX_PATIENTS = 3_000_000
_WEEK = 7 * 86400.0
_CENTURY = 36_500 * 86400.0
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
_ADAPTER = re.compile(
    r"(?P<module>[A-Za-z_]\w*(\.[A-Za-z_]\w*)*|(?P<file>[^:]+\.py)):(?P<cls>[A-Za-z_]\w*)"
)
VerifierName = Literal["records", "read_your_writes"]
VERIFIERS: tuple[VerifierName, ...] = ("records", "read_your_writes")


def _setting(value: object) -> str:
    if isinstance(value, dict | list) or value is None:
        raise ValueError("must be a single value")
    if isinstance(value, bool):
        return "on" if value else "off"
    shown = str(value)
    if len(shown) > 1000:
        raise ValueError(f"must be at most 1,000 characters, got {len(shown):,}")
    return shown


def _env_value(value: object) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        raise ValueError(f"must be a text (quote it), got {value!r}")
    shown = str(value)
    unknown = placeholders_in(shown) - set(PLACEHOLDERS)
    if unknown:
        known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
        raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}} (known: {known})")
    return shown


def _sim_start(value: object) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"must be an ISO 8601 date and time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError("must carry a time zone offset, e.g. 2026-03-02T07:30:00+01:00")
    if not 1970 <= parsed.year <= 2200:
        raise ValueError(f"must be between the years 1970 and 2200, got {parsed.year}")
    return parsed


def _expect(value: object) -> object:
    if value is True or value is False or value == "unknown" or value is None:
        return value
    raise ValueError(f"must be true, false or unknown, got {value!r}")


MANAGED_DATABASES = ("postgres", "mariadb")
"""Database kinds the harness creates, starts and breaks itself."""


class DatabaseSpec(Strict):
    """The database: ``sqlite`` (a file in the run directory), ``postgres`` or ``mariadb`` (a
    throwaway server the harness manages, with server ``settings``) or ``url`` (a server
    somebody else runs; ``start``/``stop`` commands let ``database-crash`` act on it)."""

    kind: Literal["sqlite", "postgres", "mariadb", "url"] = "sqlite"
    url: Annotated[str | None, BeforeValidator(maybe(text(2000)))] = None
    settings: Annotated[Mapping[str, str], BeforeValidator(mapping_of(_setting, 100))] = Field(
        default_factory=dict
    )
    start: Command = ()
    stop: Command = ()

    @model_validator(mode="after")
    def _fits_kind(self) -> DatabaseSpec:
        given = self.model_fields_set
        if self.kind == "url" and self.url is None:
            raise problem(("url",), "kind url needs a url")
        if self.kind != "url" and "url" in given:
            raise problem(("url",), "a url goes with kind url only")
        if self.kind not in MANAGED_DATABASES and "settings" in given:
            raise problem(("settings",), "server settings apply to kind postgres or mariadb only")
        if self.kind == "mariadb":
            for name in self.settings:
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
                    raise problem(("settings", name), "not a MariaDB server option name")
        for name in ("start", "stop"):
            if self.kind != "url" and name in given:
                raise problem((name,), "start and stop commands apply to kind url only")
        if bool(self.start) != bool(self.stop):
            missing = "stop" if self.start else "start"
            raise problem((missing,), "give both start and stop commands, or neither")
        return self


class ReadySpec(Strict):
    """When the user's service is ready: exactly one of ``http`` (a path answering 2xx to GET),
    ``tcp: true`` (its port accepts a connection) or ``log`` (a regex its output matches)."""

    http: Annotated[
        str | None,
        BeforeValidator(maybe(text(2000, pattern=r"/\S*", hint="must be a path such as /health"))),
    ] = None
    tcp: bool = False
    log: Annotated[str | None, BeforeValidator(maybe(text(1000)))] = None
    timeout: Annotated[float, BeforeValidator(seconds(0.1, 3600.0))] = 30.0

    @field_validator("tcp", mode="before")
    @classmethod
    def _tcp(cls, value: object) -> object:
        if value is not True:
            raise ValueError(f"write tcp: true (or give http or log instead), got {value!r}")
        return value

    @field_validator("log")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ReadySpec:
        if sum((self.http is not None, self.tcp, self.log is not None)) != 1:
            raise ValueError("give exactly one of http, tcp or log")
        return self


class ServiceSpec(Strict):
    """The user's own service: a command (no shell) the harness starts in its own process group,
    with ``{port}``, ``{database_url}`` and ``{run_dir}`` filled in."""

    command: Command
    cwd: Annotated[str | None, BeforeValidator(maybe(text(4000)))] = None
    env: Annotated[Mapping[str, str], BeforeValidator(mapping_of(_env_value, 200))] = Field(
        default_factory=dict
    )
    ready: ReadySpec

    @field_validator("env")
    @classmethod
    def _names(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise problem((name,), "not an environment variable name")
        return value

    @model_validator(mode="after")
    def _uses_its_port(self) -> ServiceSpec:
        written = [*self.command, *self.env.values()]
        if not any("port" in placeholders_in(part) for part in written):
            raise problem(
                ("command",),
                "the harness gives the service a free port as {port}: use it in command or env",
            )
        return self


class TargetSpec(Strict):
    """The adapter that speaks the user's API: ``package.module:Class`` or ``path/to/file.py:Class``
    (relative to the scenario file's folder), with ``options`` passed to it."""

    adapter: Annotated[str, BeforeValidator(text(1000))]
    options: Mapping[str, Any] = Field(default_factory=dict)

    @field_validator("adapter")
    @classmethod
    def _shape(cls, value: str) -> str:
        if not _ADAPTER.fullmatch(value):
            raise ValueError(
                f"must be package.module:Class or path/to/file.py:Class, got {value!r}"
            )
        return value


class WindowModel(Strict):
    """A defect's window, in simulated practice time since the simulated start."""

    start: Annotated[float, BeforeValidator(seconds(0.0, _CENTURY))] = Field(alias="from")
    until: Annotated[float, BeforeValidator(seconds(0.0, _CENTURY))]

    @model_validator(mode="after")
    def _ordered(self) -> WindowModel:
        if self.until <= self.start:
            raise problem(("until",), "must be after from", self.until)
        return self


def _defect_params(value: Any, info: ValidationInfo, key: str) -> Any:
    name = info.data.get(key)
    if name is not None and isinstance(value, Mapping):
        DEFECT_PARAMS[name].model_validate(dict(value))  # errors land under .params
    return value


class DefectModel(Strict):
    """A defect of the built-in service, on from the start, for a cohort and a window."""

    name: DefectName
    params: dict[str, Any] = Field(default_factory=dict)
    cohort: CohortParams | None = None
    window: WindowModel | None = None

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, value: Any, info: ValidationInfo) -> Any:
        return _defect_params(value, info, "name")


class RandomGaps(Strict):
    min: Annotated[float, BeforeValidator(seconds(0.1, _WEEK))]
    max: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> RandomGaps:
        if self.max < self.min:
            raise problem(("max",), "must not be below min", self.max)
        return self


class ScheduleModel(Strict):
    """When a fault starts and how long each window lasts (real seconds since the load)."""

    at: Annotated[float | None, BeforeValidator(maybe(seconds(0.0, _WEEK)))] = None
    every: Annotated[float | None, BeforeValidator(maybe(seconds(0.1, _WEEK)))] = None
    random: RandomGaps | None = None
    start: Seconds = 0.0
    duration: Seconds
    count: Annotated[int | None, BeforeValidator(maybe(whole(1, 100_000)))] = None

    @model_validator(mode="after")
    def _one_mode(self) -> ScheduleModel:
        modes = [m for m in ("at", "every", "random") if getattr(self, m) is not None]
        if len(modes) != 1:
            raise ValueError("give exactly one of at, every or random")
        if self.every is not None and self.every <= self.duration:
            raise problem(
                ("every",), "must be longer than duration (a fault heals before it recurs)"
            )
        return self


class FaultModel(Strict):
    """One fault: its kind, parameters (the kind's own model) and schedule."""

    kind: str
    name: Annotated[str | None, BeforeValidator(maybe(text(100)))] = None
    params: dict[str, Any] = Field(default_factory=dict, validate_default=True)
    schedule: ScheduleModel

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, value: object) -> object:
        from ackguard.harness.faults.registry import (
            KINDS,  # the registry imports every fault module
        )

        if not isinstance(value, str) or value not in KINDS:
            raise ValueError(f"unknown fault kind {value!r} (known: {', '.join(sorted(KINDS))})")
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, value: Any, info: ValidationInfo) -> Any:
        from ackguard.harness.faults.registry import parse_params

        kind = info.data.get("kind")
        if kind is not None and isinstance(value, Mapping):
            parse_params(kind, value)  # errors land under .params
        return value


class SystemSpec(Strict):
    database: DatabaseSpec = Field(default_factory=DatabaseSpec)
    defects: tuple[DefectModel, ...] = ()
    proxy: tuple[Literal["service", "database"], ...] = ()
    service: ServiceSpec | None = None
    target: TargetSpec | None = None

    @field_validator("defects", mode="before")
    @classmethod
    def _few_defects(cls, value: object) -> object:
        if isinstance(value, list) and len(value) > MAX_DEFECTS:
            raise ValueError(f"at most {MAX_DEFECTS} defects, got {len(value)}")
        return value


class ScenarioFile(Strict):
    """A whole scenario file."""

    name: Annotated[
        str,
        BeforeValidator(
            text(
                64,
                pattern=_NAME,
                hint="use letters, digits, '-', '_' or '.' (it names the run folder)",
            )
        ),
    ]
    description: Annotated[str, BeforeValidator(text(10_000))] = ""
    seed: Annotated[int | None, BeforeValidator(maybe(whole(0, 2**63 - 1)))] = None
    duration: Annotated[float, BeforeValidator(seconds(1.0, _WEEK))]
    practitioners: Annotated[int, BeforeValidator(whole(1, MAX_PRACTITIONERS))]
    users: Annotated[int | None, BeforeValidator(maybe(whole(1, 10_000)))] = None
    patients_per_practitioner: Annotated[int, BeforeValidator(whole(1, 10_000))] = 30
    time_scale: Annotated[float, BeforeValidator(number(1e-6, 86_400.0))] = 3600.0
    consultations_per_practitioner: Annotated[
        int | None, BeforeValidator(maybe(whole(1, 1_000_000)))
    ] = None
    consultation_steps: Literal["full", "create_only"] = "full"
    until_agendas_end: bool = False
    sim_start: Annotated[datetime | None, BeforeValidator(maybe(_sim_start))] = None
    min_acknowledged: Annotated[int, BeforeValidator(whole(1, 1_000_000_000))] = 1
    system: SystemSpec = Field(default_factory=SystemSpec)
    faults: tuple[FaultModel, ...] = ()
    verifiers: tuple[VerifierName, ...] = VERIFIERS
    final_read: Literal["api", "database"] = "api"
    expect: Annotated[bool | Literal["unknown"] | None, BeforeValidator(_expect)] = None
    live: Annotated[LiveSpec | None, BeforeValidator(live_option)] = Field(default_factory=LiveSpec)
    stop_when: StopWhen | None = None

    @field_validator("faults", mode="before")
    @classmethod
    def _few_faults(cls, value: object) -> object:
        if isinstance(value, list) and len(value) > MAX_FAULTS:
            raise ValueError(f"at most {MAX_FAULTS} faults, got {len(value)}")
        return value

    @field_validator("verifiers", mode="before")
    @classmethod
    def _some_verifier(cls, value: object) -> object:
        if isinstance(value, list) and not value:
            raise ValueError("must name at least one verifier")
        return value

    @model_validator(mode="after")
    def _live_for_damage(self) -> ScenarioFile:
        """Damage stop conditions count live detections: they need the live verifier."""
        if self.live is None and self.stop_when is not None and self.stop_when.damage:
            kind = next(iter(self.stop_when.damage))
            raise problem(
                ("stop_when", kind),
                f"counts the live verifier's detections, and this scenario turns it off "
                f"(live: false): remove stop_when.{kind} or live: false",
            )
        return self

    @model_validator(mode="after")
    def _agendas_that_end(self) -> ScenarioFile:
        """Only bounded agendas end."""
        if self.until_agendas_end and self.consultations_per_practitioner is None:
            raise problem(
                ("until_agendas_end",),
                "stops the load when every practitioner's agenda has ended, and agendas end only "
                "with consultations_per_practitioner: set it, or remove until_agendas_end",
            )
        return self

    @model_validator(mode="after")
    def _bounded_population(self) -> ScenarioFile:
        patients = self.practitioners * self.patients_per_practitioner
        if patients > MAX_PATIENTS:
            at = "patients_per_practitioner"
            if at not in self.model_fields_set:
                at = "practitioners"
            raise problem(
                (at,),
                f"practitioners x patients_per_practitioner = {patients:,} patients; at most "
                f"{MAX_PATIENTS:,}",
            )
        return self
