"""What a defect entry is: a kind, its parsed parameters, a cohort and a window.

An entry comes from the command line (``--defect NAME`` or ``--defect '{json}'``) or from
``PUT /admin/defects``; both go through :func:`parse_entries`, which raises
:class:`DefectSpecError` naming the offending path (``defects[0].params.max_chars``) and never
returns a half-parsed set, so a rejected PUT leaves the active set unchanged.

Cohort membership by fraction is the harness's own formula (the brief):
``int.from_bytes(sha256(f"{salt}:{rpps}").digest()[:8], "big") / 2**64 < fraction``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

if TYPE_CHECKING:  # the hooks import SQLAlchemy; the harness imports this module without it
    from ackguard.fakes.consultations.defects.hooks import DefectHooks

__all__ = [
    "ActiveDefects",
    "Cohort",
    "DefectEntry",
    "DefectKind",
    "DefectParams",
    "DefectSpecError",
    "Window",
    "in_fraction",
    "reject_unknown_params",
]


class DefectSpecError(ValueError):
    """A defect entry that cannot be used; ``field`` is the path of the offending value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DefectParams(Protocol):
    """Parsed parameters of one defect; ``to_json`` gives them back as the API shows them."""

    def to_json(self) -> dict[str, object]: ...


P = TypeVar("P", bound=DefectParams, covariant=True)


@dataclass(frozen=True)
class DefectKind(Generic[P]):
    """One defect the service can switch on: its name, what it reproduces, its params and
    its behaviour (``hooks``, called on every write it covers: see :mod:`.hooks`)."""

    name: str
    summary: str
    params_doc: Mapping[str, str]
    parse: Callable[[Mapping[str, object], str], P]
    hooks: DefectHooks[Any] | None = None


def reject_unknown_params(raw: Mapping[str, object], where: str, known: tuple[str, ...]) -> None:
    for name in raw:
        if name not in known:
            allowed = ", ".join(known) or "none"
            raise DefectSpecError(f"{where}.{name}", f"unknown parameter (allowed: {allowed})")


def in_fraction(rpps: str, fraction: float, salt: str = "cohort") -> bool:
    digest = hashlib.sha256(f"{salt}:{rpps}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


@dataclass(frozen=True)
class Cohort:
    """Either a fraction of practitioners (by the hash of their RPPS) or a list of RPPS."""

    fraction: float | None = None
    salt: str = "cohort"
    rpps: frozenset[str] = frozenset()

    def contains(self, rpps: str) -> bool:
        if self.fraction is not None:
            return in_fraction(rpps, self.fraction, self.salt)
        return rpps in self.rpps

    def to_json(self) -> dict[str, object]:
        if self.fraction is not None:
            return {"fraction": self.fraction, "salt": self.salt}
        return {"rpps": sorted(self.rpps)}


WindowClock = Literal["wall", "practice"]


@dataclass(frozen=True)
class Window:
    """Interval [start, until); either end may be open. ``clock`` says which time it is read
    on: ``wall``, when the service handles the write, or ``practice``, the simulated moment of
    the consultation being written (its ``started_at``), so that a scenario's window of
    simulated practice time holds whatever pace the simulated clock keeps."""

    start: datetime | None
    until: datetime | None
    clock: WindowClock = "wall"

    def contains(self, now: datetime, practice: datetime | None = None) -> bool:
        moment = now if self.clock == "wall" else practice
        if moment is None:
            return False
        return (self.start is None or moment >= self.start) and (
            self.until is None or moment < self.until
        )

    def to_json(self) -> dict[str, object]:
        return {
            "from": None if self.start is None else self.start.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "clock": self.clock,
        }


@dataclass(frozen=True)
class DefectEntry(Generic[P]):
    kind: DefectKind[P]
    params: P
    cohort: Cohort | None
    window: Window | None

    def applies(self, rpps: str, now: datetime, practice: datetime | None = None) -> bool:
        if self.window is not None and not self.window.contains(now, practice):
            return False
        return self.cohort is None or self.cohort.contains(rpps)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.kind.name,
            "params": self.params.to_json(),
            "cohort": None if self.cohort is None else self.cohort.to_json(),
            "window": None if self.window is None else self.window.to_json(),
        }


@dataclass(frozen=True)
class ActiveDefects:
    """The active set: immutable, swapped whole by ``PUT /admin/defects``."""

    entries: tuple[DefectEntry[DefectParams], ...] = ()

    def find(
        self, kind: DefectKind[P], rpps: str, now: datetime, practice: datetime | None = None
    ) -> P | None:
        """The params of the first entry of ``kind`` covering this practitioner now (and this
        consultation's practice time, for windows on the practice clock), or None."""
        for entry in self.entries:
            if entry.kind is kind and entry.applies(rpps, now, practice):
                return entry.params  # type: ignore[return-value]  # same kind, same P
        return None

    def covering(
        self, rpps: str, now: datetime, practice: datetime | None = None
    ) -> tuple[DefectEntry[DefectParams], ...]:
        """The entries covering this practitioner now (and this practice time), in order."""
        return tuple(e for e in self.entries if e.applies(rpps, now, practice))

    def has(self, kind: DefectKind[P]) -> bool:
        return any(entry.kind is kind for entry in self.entries)

    def to_json(self) -> dict[str, object]:
        return {"defects": [entry.to_json() for entry in self.entries]}


def _instant(raw: object, where: str) -> datetime | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise DefectSpecError(where, "must be an ISO 8601 time with a time zone, or null")
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError:
        raise DefectSpecError(where, f"not an ISO 8601 time: {raw!r}") from None
    if instant.tzinfo is None:
        raise DefectSpecError(where, f"give a time zone (e.g. +00:00): {raw!r}")
    return instant


def parse_window(raw: object, where: str) -> Window | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise DefectSpecError(where, "must be null or {from, until}")
    reject_unknown_params(raw, where, ("from", "until", "clock"))
    clock = raw.get("clock", "wall")
    if clock not in ("wall", "practice"):
        raise DefectSpecError(f"{where}.clock", f"must be wall or practice, got {clock!r}")
    window = Window(
        _instant(raw.get("from"), f"{where}.from"),
        _instant(raw.get("until"), f"{where}.until"),
        clock,
    )
    if window.start and window.until and window.until <= window.start:
        raise DefectSpecError(f"{where}.until", "must be after from")
    return window
