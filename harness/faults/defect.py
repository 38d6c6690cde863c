"""Fault kind ``defect``: switches a defect of the consultation service on for the fault's window
(``PUT /admin/defects``) and off again when it heals. This is how a scenario reproduces "a feature
shipped, and for a while some practitioners' notes were acknowledged and dropped"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

# The one deliberate exception to "the harness never imports fakes": the defect parameter schema
# is a pure module of pydantic models, shared so that a scenario's defect and the service's
# /admin/defects accept exactly the same parameters.
from ackguard.fakes.consultations.defects.params import DEFECT_PARAMS, CohortParams, DefectName
from ackguard.harness.faults.base import FaultContext, FaultKind, FaultParams

__all__ = ["KIND", "DefectFault", "DefectFaultParams"]


class DefectFault:
    """Turns one service defect on (``start``) and off (``stop``)."""

    def __init__(self, context: FaultContext, entry: Mapping[str, object]) -> None:
        self._context = context
        self._entry = dict(entry)
        self._on = False
        self.name = f"defect:{entry['name']}"
        cohort = entry.get("cohort")
        scope = f" for cohort {cohort}" if cohort else " for every practitioner"
        self.description = f"service defect {entry['name']} switched on{scope}"

    def start(self) -> None:
        self._context.component("service").enable_defect(self.name, self._entry)
        self._on = True

    def stop(self) -> None:
        if self._on:
            self._context.component("service").disable_defect(self.name)
            self._on = False


class DefectFaultParams(FaultParams):
    defect: DefectName = Field(description="the defect's name, e.g. lost_observations")
    params: dict[str, Any] = Field(
        default_factory=dict, description="the defect's own parameters, e.g. {max_chars: 1000}"
    )
    cohort: CohortParams | None = Field(
        None, description="optional: {fraction: 0.013} or {rpps: [...]}; everyone when absent"
    )

    @field_validator("params", mode="before")
    @classmethod
    def _defect_params(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.data.get("defect")
        if name is None or not isinstance(value, Mapping):
            return value  # a bad name, or not a mapping, is said by the field's own check
        DEFECT_PARAMS[name].model_validate(dict(value))
        return value


def build(context: FaultContext, params: DefectFaultParams) -> DefectFault:
    entry = {
        "name": params.defect,
        "params": dict(params.params),
        "cohort": params.cohort.to_json() if params.cohort is not None else None,
        "window": None,
    }
    return DefectFault(context, entry)


KIND = FaultKind(
    name="defect",
    summary="switch a service defect on for the window (params: defect, params, cohort)",
    params=DefectFaultParams,
    build=build,
)
