"""ackguard's engine: scenarios, the operation history, faults, verifiers and the run.

The names below are the public API; everything else is internal. Importing ``harness`` starts
nothing and patches nothing (the modules that drive Locust load are imported on demand).
"""

from ackguard.harness.faults.base import Fault, FaultConfigError, FaultContext, FaultKind
from ackguard.harness.final_read import FinalRead, FinalRecord
from ackguard.harness.history import FieldDigest, HistoryWriter, Op, read_history
from ackguard.harness.scenario import Scenario, ScenarioError, load_scenario
from ackguard.harness.verifiers.result import Anomaly, Result, Verdict

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
