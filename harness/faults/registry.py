"""The explicit table of fault kinds. A new kind is a module with a ``KIND`` (its parameter model,
a :class:`~harness.faults.base.FaultParams`, and its builder) and one line here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ackguard.harness.faults.base import Fault, FaultContext, FaultKind, FaultParams
from ackguard.harness.faults.command import KIND as COMMAND
from ackguard.harness.faults.database_crash import KIND as DATABASE_CRASH
from ackguard.harness.faults.database_pause import KIND as DATABASE_PAUSE
from ackguard.harness.faults.database_terminate import KIND as DATABASE_TERMINATE
from ackguard.harness.faults.defect import KIND as DEFECT
from ackguard.harness.faults.partition import KIND as PARTITION
from ackguard.harness.faults.service_kill import KIND as SERVICE_KILL
from ackguard.harness.faults.service_pause import KIND as SERVICE_PAUSE
from ackguard.harness.faults.toxic import KIND as TOXIC

__all__ = ["KINDS", "build_fault", "parse_params"]

KINDS: Mapping[str, FaultKind[Any]] = {
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
        COMMAND,
    )
}


def parse_params(kind: str, raw: Mapping[str, Any]) -> FaultParams:
    """``raw`` validated by the kind's parameter model (a pydantic ``ValidationError`` located
    below the parameters when they are wrong). ``kind`` must be in :data:`KINDS`."""
    params: FaultParams = KINDS[kind].params.model_validate(dict(raw))
    return params


def build_fault(
    kind: str,
    context: FaultContext,
    params: FaultParams | Mapping[str, Any],
    *,
    name: str | None = None,
) -> Fault:
    """The fault of ``kind`` acting on ``context``, from validated (or raw) parameters, known by
    ``name`` (the scenario's name of the fault) when given."""
    fault = KINDS[kind].build(context, params)
    if name is not None:
        fault.name = name
    return fault
