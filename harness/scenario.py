"""Scenario files: what one run does, validated before anything starts.

A scenario names the workload (seed, duration, practitioners, time scale), the system (database,
service defects with their cohort and window, which paths go through the fault proxy), the
faults with their schedule, the verifiers and the expected verdict. Every mistake is reported as
``file:line: field: problem``. Durations are written ``500ms``, ``30s``, ``2m``, ``18h`` or as a
number of seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from harness.scenario_yaml import Located, ScenarioError, load_located, read_text

__all__ = [
    "CohortSpec",
    "DatabaseSpec",
    "DefectSpec",
    "FaultSpec",
    "Scenario",
    "ScenarioError",
    "ScheduleSpec",
    "catalogue",
    "load_scenario",
    "parse_duration",
]

DEFECTS = (
    "ack_before_commit",
    "swallowed_commit_error",
    "split_transaction",
    "lost_observations",
    "silent_truncation",
    "non_idempotent_retry",
)
VERIFIERS = ("records", "read_your_writes")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration(value: object) -> float:
    """Seconds from ``"500ms"``, ``"30s"``, ``"2m"``, ``"18h"``, ``"1d"`` or a number."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"not a duration: {value!r} (write e.g. 500ms, 30s, 2m, 18h)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError(f"must not be negative: {value!r}")
    return seconds


@dataclass(frozen=True, slots=True)
class CohortSpec:
    """Who a defect touches: a fraction of practitioners (by the hash of their RPPS number and
    ``salt``) or an explicit list of RPPS numbers."""

    fraction: float | None = None
    rpps: tuple[str, ...] = ()
    salt: str = "cohort"

    def to_json(self) -> dict[str, object]:
        if self.fraction is not None:
            return {"fraction": self.fraction, "salt": self.salt}
        return {"rpps": list(self.rpps)}


@dataclass(frozen=True, slots=True)
class DefectSpec:
    """A service defect, on from the start, optionally scoped to a cohort and to a window of
    *simulated* time (offsets in seconds from the simulated start)."""

    name: str
    params: Mapping[str, object] = field(default_factory=dict)
    cohort: CohortSpec | None = None
    window: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class DatabaseSpec:
    kind: Literal["sqlite", "postgres", "url"] = "sqlite"
    url: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)


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
    kind: str
    name: str
    params: Mapping[str, Any]
    schedule: ScheduleSpec
    where: Located


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


def catalogue() -> dict[str, str]:
    """Name -> text of every scenario shipped in the ``scenarios`` package."""
    found: dict[str, str] = {}
    for entry in sorted(resources.files("scenarios").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            found[entry.name.removesuffix(".yaml")] = entry.read_text(encoding="utf-8")
    return found


def load_scenario(name_or_path: str | None) -> Scenario:
    """A scenario from a file path, or from the catalogue by name (``default`` when None)."""
    name = name_or_path or "default"
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return parse_scenario(read_text(path), str(path))
    shipped = catalogue()
    if name not in shipped:
        known = ", ".join(shipped) or "none"
        raise ScenarioError(name, None, "", f"no such file or catalogue scenario (known: {known})")
    return parse_scenario(shipped[name], f"scenarios/{name}.yaml")


def parse_scenario(text: str, source: str) -> Scenario:
    from harness.faults.registry import validate_fault  # the registry imports fault modules

    root = load_located(text, source)
    top = root.mapping()
    _reject_unknown(root, top, _TOP_KEYS)
    name = _string(_require(root, top, "name"))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise top["name"].error("use letters, digits, '-', '_' or '.' (it names the run folder)")
    practitioners = _integer(_require(root, top, "practitioners"), low=1, high=100_000)
    users = (
        _integer(top["users"], low=1, high=10_000) if "users" in top else min(practitioners, 100)
    )
    system = top["system"].mapping() if "system" in top else {}
    if "system" in top:
        _reject_unknown(top["system"], system, ("database", "defects", "proxy"))
    faults = tuple(
        _fault(entry, validate_fault)
        for entry in (top["faults"].sequence() if "faults" in top else [])
    )
    return Scenario(
        name=name,
        description=_string(top["description"]) if "description" in top else "",
        seed=_integer(top["seed"], low=0, high=2**63) if "seed" in top else 0,
        duration=_duration(_require(root, top, "duration"), minimum=1.0),
        practitioners=practitioners,
        users=min(users, practitioners),
        patients_per_practitioner=(
            _integer(top["patients_per_practitioner"], low=1, high=10_000)
            if "patients_per_practitioner" in top
            else 30
        ),
        time_scale=_number(top["time_scale"], low=1e-6) if "time_scale" in top else 3600.0,
        sim_start=_datetime(top["sim_start"]) if "sim_start" in top else None,
        database=_database(system["database"]) if "database" in system else DatabaseSpec(),
        defects=tuple(_defect(d) for d in system["defects"].sequence())
        if "defects" in system
        else (),
        proxy_paths=_proxy_paths(system["proxy"]) if "proxy" in system else (),
        faults=faults,
        verifiers=_verifiers(top["verifiers"]) if "verifiers" in top else VERIFIERS,
        final_read=_choice(top["final_read"], ("api", "database"))
        if "final_read" in top
        else "api",  # type: ignore[arg-type]
        expect=_expect(top["expect"]) if "expect" in top else None,
        source=source,
        text=text,
    )


_TOP_KEYS = (
    "name", "description", "seed", "duration", "practitioners", "users",
    "patients_per_practitioner", "time_scale", "sim_start", "system", "faults", "verifiers",
    "final_read", "expect",
)  # fmt: skip


def _reject_unknown(where: Located, items: Mapping[str, Located], allowed: tuple[str, ...]) -> None:
    for key, value in items.items():
        if key not in allowed:
            raise value.error(f"unknown field (allowed here: {', '.join(allowed)})")


def _require(where: Located, items: Mapping[str, Located], key: str) -> Located:
    if key not in items:
        path = f"{where.path}.{key}" if where.path else key
        raise where.error("is required", field=path)
    return items[key]


def _string(item: Located) -> str:
    if not isinstance(item.value, str) or not item.value.strip():
        raise item.error("must be a non-empty text")
    return item.value


def _integer(item: Located, *, low: int, high: int) -> int:
    if isinstance(item.value, bool) or not isinstance(item.value, int):
        raise item.error(f"must be a whole number, got {item.value!r}")
    if not low <= item.value <= high:
        raise item.error(f"must be between {low} and {high}, got {item.value}")
    return item.value


def _number(item: Located, *, low: float, high: float = float("inf")) -> float:
    if isinstance(item.value, bool) or not isinstance(item.value, int | float):
        raise item.error(f"must be a number, got {item.value!r}")
    if not low <= float(item.value) <= high:
        raise item.error(f"must be between {low:g} and {high:g}, got {item.value}")
    return float(item.value)


def _duration(item: Located, *, minimum: float = 0.0) -> float:
    try:
        seconds = parse_duration(item.value)
    except ValueError as exc:
        raise item.error(str(exc)) from exc
    if seconds < minimum:
        raise item.error(f"must be at least {minimum:g}s, got {item.value!r}")
    return seconds


def _choice(item: Located, choices: tuple[str, ...]) -> str:
    if item.value not in choices:
        raise item.error(f"must be one of {', '.join(choices)}, got {item.value!r}")
    return str(item.value)


def _datetime(item: Located) -> datetime:
    value = item.value
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise item.error(f"must be an ISO 8601 date and time, got {value!r}") from exc
    if parsed.tzinfo is None:
        raise item.error("must carry a time zone offset, e.g. 2026-03-02T07:30:00+01:00")
    return parsed


def _expect(item: Located) -> bool | Literal["unknown"]:
    if item.value is True or item.value is False or item.value == "unknown":
        return item.value  # type: ignore[no-any-return]
    raise item.error(f"must be true, false or unknown, got {item.value!r}")


def _database(item: Located) -> DatabaseSpec:
    spec = item.mapping()
    _reject_unknown(item, spec, ("kind", "url", "settings"))
    kind = _choice(spec["kind"], ("sqlite", "postgres", "url")) if "kind" in spec else "sqlite"
    url = _string(spec["url"]) if "url" in spec else None
    if kind == "url" and url is None:
        raise item.error("kind url needs a url", field=f"{item.path}.url")
    settings: dict[str, str] = {}
    if "settings" in spec:
        if kind != "postgres":
            raise spec["settings"].error("server settings apply to kind postgres only")
        for key, value in spec["settings"].mapping().items():
            if isinstance(value.value, dict | list) or value.value is None:
                raise value.error("must be a single value")
            settings[key] = _setting_text(value.value)
    return DatabaseSpec(kind, url, settings)  # type: ignore[arg-type]


def _setting_text(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _defect(item: Located) -> DefectSpec:
    spec = item.mapping()
    _reject_unknown(item, spec, ("name", "params", "cohort", "window"))
    name = _choice(_require(item, spec, "name"), DEFECTS)
    params = spec["params"].mapping() if "params" in spec else {}
    return DefectSpec(
        name=name,
        params={k: v.plain() for k, v in params.items()},
        cohort=cohort_spec(spec["cohort"]) if "cohort" in spec else None,
        window=_window(spec["window"]) if "window" in spec else None,
    )


def cohort_spec(item: Located) -> CohortSpec:
    spec = item.mapping()
    _reject_unknown(item, spec, ("fraction", "rpps", "salt"))
    salt = _string(spec["salt"]) if "salt" in spec else "cohort"
    if ("fraction" in spec) == ("rpps" in spec):
        raise item.error("give exactly one of fraction or rpps")
    if "fraction" in spec:
        return CohortSpec(fraction=_number(spec["fraction"], low=0.0, high=1.0), salt=salt)
    numbers = tuple(str(n.value) for n in spec["rpps"].sequence())
    if not numbers:
        raise spec["rpps"].error("must list at least one RPPS number")
    return CohortSpec(rpps=numbers, salt=salt)


def _window(item: Located) -> tuple[float, float]:
    spec = item.mapping()
    _reject_unknown(item, spec, ("from", "until"))
    start = _duration(_require(item, spec, "from"))
    end = _duration(_require(item, spec, "until"))
    if end <= start:
        raise spec["until"].error("must be after from")
    return (start, end)


def _proxy_paths(item: Located) -> tuple[str, ...]:
    paths = tuple(_choice(p, ("service", "database")) for p in item.sequence())
    return tuple(dict.fromkeys(paths))


def _verifiers(item: Located) -> tuple[str, ...]:
    names = tuple(_choice(v, VERIFIERS) for v in item.sequence())
    if not names:
        raise item.error("must name at least one verifier")
    return names


def _fault(item: Located, validate: Any) -> FaultSpec:
    spec = item.mapping()
    _reject_unknown(item, spec, ("kind", "name", "params", "schedule"))
    kind = _string(_require(item, spec, "kind"))
    params_item = spec.get("params")
    params = {k: v.plain() for k, v in params_item.mapping().items()} if params_item else {}
    validate(kind, params, spec["kind"], params_item or item)
    name = _string(spec["name"]) if "name" in spec else f"{kind}-{item.path.split('[')[-1][:-1]}"
    return FaultSpec(kind, name, params, _schedule(_require(item, spec, "schedule")), item)


def _schedule(item: Located) -> ScheduleSpec:
    spec = item.mapping()
    _reject_unknown(item, spec, ("at", "every", "random", "start", "duration", "count"))
    modes = [m for m in ("at", "every", "random") if m in spec]
    if len(modes) != 1:
        raise item.error("give exactly one of at, every or random")
    duration = _duration(_require(item, spec, "duration"), minimum=0.0)
    count = _integer(spec["count"], low=1, high=100_000) if "count" in spec else None
    start = _duration(spec["start"]) if "start" in spec else 0.0
    if modes[0] == "at":
        return ScheduleSpec("at", _duration(spec["at"]), duration, count=1)
    if modes[0] == "every":
        interval = _duration(spec["every"], minimum=0.1)
        if interval <= duration:
            raise spec["every"].error(
                "must be longer than duration (a fault heals before it recurs)"
            )
        return ScheduleSpec("every", start, duration, interval=interval, count=count)
    bounds = spec["random"].mapping()
    _reject_unknown(spec["random"], bounds, ("min", "max"))
    low = _duration(_require(spec["random"], bounds, "min"), minimum=0.1)
    high = _duration(_require(spec["random"], bounds, "max"))
    if high < low:
        raise bounds["max"].error("must not be below min")
    return ScheduleSpec("random", start, duration, low=low, high=high, count=count)
