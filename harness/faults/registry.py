"""The explicit table of fault kinds. A new kind is a module with a ``KIND`` and a line here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.faults.base import Fault, FaultConfigError, FaultContext, FaultKind
from harness.faults.database_crash import KIND as DATABASE_CRASH
from harness.faults.database_pause import KIND as DATABASE_PAUSE
from harness.faults.database_terminate import KIND as DATABASE_TERMINATE
from harness.faults.defect import KIND as DEFECT
from harness.faults.partition import KIND as PARTITION
from harness.faults.service_kill import KIND as SERVICE_KILL
from harness.faults.service_pause import KIND as SERVICE_PAUSE
from harness.faults.toxic import KIND as TOXIC
from harness.scenario_yaml import Located

__all__ = ["KINDS", "build_fault", "validate_fault"]

KINDS: Mapping[str, FaultKind] = {
    kind.name: kind
    for kind in (
        SERVICE_KILL,
        SERVICE_PAUSE,
        DEFECT,
        DATABASE_CRASH,
        DATABASE_PAUSE,
        DATABASE_TERMINATE,
        TOXIC,
        PARTITION,
    )
}


class _NothingStarted:
    """The context faults are validated with, before anything runs: it has no components, so a
    kind whose ``build`` reaches for one is caught by the tests of the registry."""

    def component(self, name: str) -> Any:
        raise KeyError(f"{name} (nothing is started while a scenario is validated)")


def validate_fault(
    kind: str, params: Mapping[str, Any], kind_at: Located, params_at: Located
) -> None:
    """Raise a ScenarioError naming the file, line and field if the fault cannot be built."""
    if kind not in KINDS:
        raise kind_at.error(f"unknown fault kind {kind!r} (known: {', '.join(sorted(KINDS))})")
    try:
        KINDS[kind].build(_NothingStarted(), params)
    except FaultConfigError as exc:
        where = (
            params_at.value.get(exc.field.split(".")[0])
            if isinstance(params_at.value, dict)
            else None
        )
        at = where if where is not None else params_at
        raise at.error(exc.message, field=f"{params_at.path}.{exc.field}") from exc


def build_fault(kind: str, context: FaultContext, params: Mapping[str, Any]) -> Fault:
    fault: Fault = KINDS[kind].build(context, params)
    return fault
