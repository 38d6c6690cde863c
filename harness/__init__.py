"""ackguard's engine: scenarios, the operation history, faults, verifiers and the run.

The names below are the public API; everything else is internal. Importing ``ackguard.harness``
starts nothing, patches nothing and loads nothing heavy: each public name is imported when first
used (the pytest plugin, loaded into every pytest run of a user, lives in this package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ackguard.harness.lazy_names import lazy_names as _lazy_names

if TYPE_CHECKING:
    from ackguard.harness.faults.base import Fault, FaultConfigError, FaultContext, FaultKind
    from ackguard.harness.final_read import FinalRead, FinalRecord
    from ackguard.harness.history import FieldDigest, HistoryWriter, Op, read_history
    from ackguard.harness.scenario import Scenario, ScenarioError, load_scenario
    from ackguard.harness.verifiers.result import Anomaly, Result, Verdict

_HOMES = {
    "Fault": "faults.base",
    "FaultConfigError": "faults.base",
    "FaultContext": "faults.base",
    "FaultKind": "faults.base",
    "FinalRead": "final_read",
    "FinalRecord": "final_read",
    "FieldDigest": "history",
    "HistoryWriter": "history",
    "Op": "history",
    "read_history": "history",
    "Scenario": "scenario",
    "ScenarioError": "scenario",
    "load_scenario": "scenario",
    "Anomaly": "verifiers.result",
    "Result": "verifiers.result",
    "Verdict": "verifiers.result",
}


__getattr__, __dir__ = _lazy_names(__name__, _HOMES)


__all__ = [
    "Anomaly",
    "Fault",
    "FaultConfigError",
    "FaultContext",
    "FaultKind",
    "FieldDigest",
    "FinalRead",
    "FinalRecord",
    "HistoryWriter",
    "Op",
    "Result",
    "Scenario",
    "ScenarioError",
    "Verdict",
    "load_scenario",
    "read_history",
]
