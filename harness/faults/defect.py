"""Fault kind ``defect``: switches a defect of the consultation service on for the fault's window
(``PUT /admin/defects``) and off again when it heals. This is how a scenario reproduces "a feature
shipped, and for a while some practitioners' notes were acknowledged and dropped"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.faults.base import FaultConfigError, FaultContext, FaultKind

__all__ = ["KIND", "DefectFault"]

_DEFECTS = (
    "ack_before_commit",
    "swallowed_commit_error",
    "split_transaction",
    "lost_observations",
    "silent_truncation",
    "non_idempotent_retry",
)


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


def build(context: FaultContext, params: Mapping[str, Any]) -> DefectFault:
    unknown = set(params) - {"defect", "params", "cohort"}
    if unknown:
        raise FaultConfigError(
            sorted(unknown)[0], "unknown parameter (allowed: defect, params, cohort)"
        )
    name = params.get("defect")
    if name not in _DEFECTS:
        raise FaultConfigError("defect", f"must be one of {', '.join(_DEFECTS)}, got {name!r}")
    defect_params = params.get("params", {})
    if not isinstance(defect_params, Mapping):
        raise FaultConfigError("params", "must be a mapping of the defect's parameters")
    cohort = params.get("cohort")
    if cohort is not None:
        if not isinstance(cohort, Mapping) or ("fraction" in cohort) == ("rpps" in cohort):
            raise FaultConfigError("cohort", "give a mapping with exactly one of fraction or rpps")
        fraction = cohort.get("fraction")
        if "fraction" in cohort and (
            isinstance(fraction, bool)
            or not isinstance(fraction, int | float)
            or not 0 <= fraction <= 1
        ):
            raise FaultConfigError("cohort.fraction", "must be a number between 0 and 1")
    entry = {"name": name, "params": dict(defect_params), "cohort": cohort, "window": None}
    return DefectFault(context, entry)


KIND = FaultKind(
    name="defect",
    summary="switch a service defect on for the window (params: defect, params, cohort)",
    params={
        "defect": "the defect's name, e.g. lost_observations",
        "params": "the defect's own parameters, e.g. {max_chars: 1000}",
        "cohort": "optional: {fraction: 0.013} or {rpps: [...]}; everyone when absent",
    },
    build=build,
)
