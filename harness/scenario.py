"""Scenario files: what one run does, checked whole before anything starts.

A scenario names the workload (seed, duration, practitioners, time scale), the system (database,
service, target adapter, service defects with their cohort and window, which paths go through
the fault proxy), the faults with their schedule, the verifiers and the expected verdict.

Loading goes in three steps, each refusing with ``file:line: field: problem``:

1. the YAML, within budgets (:mod:`harness.scenario_yaml`);
2. the typed model of the file (:mod:`harness.scenario_model`, pydantic), each fault's and each
   defect's parameters by their own models;
3. the cross-checks (:mod:`harness.scenario_checks`), after the command-line overrides.

Durations are written ``500ms``, ``30s``, ``2m``, ``18h`` or as a number of seconds. A scenario
without a ``seed`` gets a random one, drawn here and kept in :attr:`Scenario.seed`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from ackguard.fakes.consultations.defects.params import CohortParams
from ackguard.harness.faults.base import FaultParams
from ackguard.harness.live.options import LiveSpec, StopWhen
from ackguard.harness.scenario_checks import check_scenario, real_proxy_reason
from ackguard.harness.scenario_fields import describe, parse_duration
from ackguard.harness.scenario_model import (
    VERIFIERS,
    DatabaseSpec,
    FaultModel,
    ReadySpec,
    ScenarioFile,
    ScheduleModel,
    ServiceSpec,
    TargetSpec,
)
from ackguard.harness.scenario_yaml import Located, ScenarioError, load_located, read_text

__all__ = [
    "CohortSpec",
    "DatabaseSpec",
    "DefectSpec",
    "FaultSpec",
    "ReadySpec",
    "Scenario",
    "ScenarioError",
    "ScheduleSpec",
    "ServiceSpec",
    "TargetSpec",
    "catalogue",
    "load_scenario",
    "parse_duration",
    "parse_scenario",
]

CohortSpec = CohortParams
"""Who a defect touches: ``fraction`` of practitioners (by the hash of their RPPS number and
``salt``) or an explicit tuple of ``rpps`` numbers. The same schema as the service's."""

RANDOM_SEEDS = 2**31
"""A seed drawn when the scenario gives none is below this (short enough to type back)."""


@dataclass(frozen=True, slots=True)
class DefectSpec:
    """A service defect, on from the start, optionally scoped to a cohort and to a window of
    *simulated* time (offsets in seconds from the simulated start)."""

    name: str
    params: Mapping[str, object] = field(default_factory=dict)
    cohort: CohortSpec | None = None
    window: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """When a fault starts and how long it lasts (real seconds since the load started).
    ``at``: once. ``every``: from ``start`` every ``interval``. ``random``: gaps drawn uniformly
    in [``low``, ``high``] from the scenario's seed. ``count`` caps the number of occurrences."""

    mode: Literal["at", "every", "random"]
    start: float
    duration: float
    interval: float = 0.0
    low: float = 0.0
    high: float = 0.0
    count: int | None = None


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One fault of the scenario. ``params`` are the parameters as written; ``parsed`` the same,
    validated by the kind's own model (what the kind's builder receives)."""

    kind: str
    name: str
    params: Mapping[str, Any]
    schedule: ScheduleSpec
    where: Located
    parsed: FaultParams | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    seed: int
    duration: float
    practitioners: int
    users: int
    patients_per_practitioner: int
    time_scale: float
    sim_start: datetime | None
    database: DatabaseSpec
    defects: tuple[DefectSpec, ...]
    proxy_paths: tuple[str, ...]
    faults: tuple[FaultSpec, ...]
    verifiers: tuple[str, ...]
    final_read: Literal["api", "database"]
    expect: bool | Literal["unknown"] | None
    source: str
    text: str
    min_acknowledged: int = 1
    """Fewer acknowledged writes than this make the verdict unknown."""
    seed_given: bool = True
    """False when the file gives no seed (and none was given on the command line): ``seed`` was
    drawn at random when the scenario was loaded."""
    service: ServiceSpec | None = None
    """The user's service command, or None for the built-in consultation service."""
    target: TargetSpec | None = None
    """The user's adapter, or None for the reference API."""
    source_dir: Path = Path(".")
    """The folder of the scenario file (relative adapter paths start there)."""
    live: LiveSpec | None = field(default_factory=LiveSpec)
    """The live verifier's budget; None when the scenario turns it off (``live: false``)."""
    stop_when: StopWhen | None = None
    """Conditions that end the load early, or None."""
    consultations_per_practitioner: int | None = None
    """Each practitioner's agenda ends after this many consultations (None: it never ends), so
    what is written does not depend on how fast the load ran."""
    consultation_steps: Literal["full", "create_only"] = "full"
    until_agendas_end: bool = False
    """The load stops once every practitioner's (bounded) agenda has ended: ``duration`` is then
    the longest it may run."""
    """What each consultation writes: ``full`` (the day's list, the create, the notes written
    during it, reads and amendments now and then) or ``create_only`` (the create with its visit
    reason, one operation)."""


def catalogue() -> dict[str, str]:
    """Name -> text of every scenario shipped in the ``scenarios`` package."""
    found: dict[str, str] = {}
    for entry in sorted(resources.files("ackguard.scenarios").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            found[entry.name.removesuffix(".yaml")] = entry.read_text(encoding="utf-8")
    return found


def load_scenario(
    name_or_path: str | None, *, duration: float | None = None, seed: int | None = None
) -> Scenario:
    """A scenario from a file path, or from the catalogue by name (``default`` when None), with
    the command-line overrides applied and checked against the proxy a run would use now."""
    name = name_or_path or "default"
    path = Path(name)
    options: dict[str, Any] = {
        "duration": duration,
        "seed": seed,
        "real_proxy": real_proxy_reason(),
    }
    if path.suffix in (".yaml", ".yml") or path.exists():
        return parse_scenario(read_text(path), str(path), source_dir=path.parent, **options)
    shipped = catalogue()
    if name not in shipped:
        known = ", ".join(shipped) or "none"
        raise ScenarioError(name, None, "", f"no such file or catalogue scenario (known: {known})")
    folder = Path(str(resources.files("ackguard.scenarios")))
    return parse_scenario(shipped[name], f"scenarios/{name}.yaml", source_dir=folder, **options)


def parse_scenario(
    text: str,
    source: str,
    *,
    duration: float | None = None,
    seed: int | None = None,
    real_proxy: str | None = None,
    source_dir: Path | None = None,
    cross_checks: bool = True,
) -> Scenario:
    """The scenario in ``text`` (``source`` names it in messages). ``duration`` and ``seed``
    override the file's; ``real_proxy`` says why a run would use a real Toxiproxy (None: the
    built-in proxy, which has every toxic). ``cross_checks=False`` reads a scenario a run
    already used (verification) without asking whether a run could start with it."""
    root = load_located(text, source)
    try:
        model = ScenarioFile.model_validate(root.plain())
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise root.error_at(first["loc"], describe(first)) from None
    effective = model.duration
    if duration is not None:
        if not 1.0 <= duration <= 7 * 86400.0 or duration != duration:
            raise ScenarioError(source, None, "--duration", "must be between 1s and 7d")
        effective = duration
    if seed is not None and not 0 <= seed < 2**63:
        raise ScenarioError(source, None, "--seed", f"must be between 0 and {2**63 - 1}")
    findings = check_scenario(
        model,
        duration=effective,
        duration_from="--duration" if duration is not None else "duration",
        real_proxy=real_proxy,
    )
    for loc, problem in findings if cross_checks else ():
        raise root.error_at(loc, problem)
    chosen = seed if seed is not None else model.seed
    return _scenario(model, root, text, source, effective, chosen, source_dir)


def _scenario(
    model: ScenarioFile,
    root: Located,
    text: str,
    source: str,
    duration: float,
    seed: int | None,
    source_dir: Path | None,
) -> Scenario:
    system = model.system
    faults_at = root.mapping().get("faults")
    return Scenario(
        name=model.name,
        description=model.description,
        seed=seed if seed is not None else secrets.randbelow(RANDOM_SEEDS),
        duration=duration,
        practitioners=model.practitioners,
        users=min(model.users or min(model.practitioners, 100), model.practitioners),
        patients_per_practitioner=model.patients_per_practitioner,
        time_scale=model.time_scale,
        sim_start=model.sim_start,
        database=system.database,
        defects=tuple(
            DefectSpec(
                name=defect.name,
                params=dict(defect.params),
                cohort=defect.cohort,
                window=(defect.window.start, defect.window.until) if defect.window else None,
            )
            for defect in system.defects
        ),
        proxy_paths=tuple(dict.fromkeys(system.proxy)),
        faults=tuple(
            _fault(fault, index, faults_at.sequence()[index] if faults_at else root)
            for index, fault in enumerate(model.faults)
        ),
        verifiers=tuple(dict.fromkeys(model.verifiers)) or VERIFIERS,
        final_read=model.final_read,
        expect=model.expect,
        source=source,
        text=text,
        min_acknowledged=model.min_acknowledged,
        seed_given=seed is not None,
        service=system.service,
        target=system.target,
        source_dir=(source_dir or Path(source).parent).resolve(),
        live=model.live,
        stop_when=model.stop_when,
        consultations_per_practitioner=model.consultations_per_practitioner,
        consultation_steps=model.consultation_steps,
        until_agendas_end=model.until_agendas_end,
    )


def _fault(fault: FaultModel, index: int, where: Located) -> FaultSpec:
    from ackguard.harness.faults.registry import parse_params

    return FaultSpec(
        kind=fault.kind,
        name=fault.name or f"{fault.kind}-{index}",
        params=dict(fault.params),
        schedule=_schedule(fault.schedule),
        where=where,
        parsed=parse_params(fault.kind, fault.params),
    )


def _schedule(model: ScheduleModel) -> ScheduleSpec:
    if model.at is not None:
        return ScheduleSpec("at", model.at, model.duration, count=1)
    if model.every is not None:
        return ScheduleSpec(
            "every", model.start, model.duration, interval=model.every, count=model.count
        )
    assert model.random is not None  # the model holds exactly one of at, every, random
    return ScheduleSpec(
        "random",
        model.start,
        model.duration,
        low=model.random.min,
        high=model.random.max,
        count=model.count,
    )
