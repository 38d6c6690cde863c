"""Verifiers: one file per checker, a one-method protocol, and :func:`compose` for the verdict.

Importing this package loads no database driver and starts nothing.
"""

from ackguard.harness.final_read import final_read_from_records
from ackguard.harness.verifiers.base import IndexedVerifier, Verifier
from ackguard.harness.verifiers.compose import VERIFIERS, compose, compose_file, verifiers_named
from ackguard.harness.verifiers.history_rows import history_rows
from ackguard.harness.verifiers.index import HistoryIndex, build_index
from ackguard.harness.verifiers.read_your_writes import ReadYourWritesVerifier
from ackguard.harness.verifiers.records import RecordsVerifier
from ackguard.harness.verifiers.result import (
    CLASSES,
    Anomaly,
    FieldDamage,
    Result,
    Valid,
    Verdict,
    combine,
    load_verdict,
    write_verdict,
)

__all__ = [
    "CLASSES",
    "VERIFIERS",
    "Anomaly",
    "FieldDamage",
    "HistoryIndex",
    "IndexedVerifier",
    "ReadYourWritesVerifier",
    "RecordsVerifier",
    "Result",
    "Valid",
    "Verdict",
    "Verifier",
    "build_index",
    "combine",
    "compose",
    "compose_file",
    "final_read_from_records",
    "history_rows",
    "load_verdict",
    "verifiers_named",
    "write_verdict",
]
