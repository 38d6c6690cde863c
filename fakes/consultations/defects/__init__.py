"""Switchable defects of the consultation service, one module each, in one explicit table
(:data:`DEFECTS` in :mod:`.registry`). Each module's docstring names the incident class it
reproduces and its parameters."""

from ackguard.fakes.consultations.defects.registry import DEFECTS, parse_cli_spec, parse_entries
from ackguard.fakes.consultations.defects.spec import (
    ActiveDefects,
    Cohort,
    DefectEntry,
    DefectKind,
    DefectParams,
    DefectSpecError,
    Window,
    in_fraction,
)

__all__ = [
    "DEFECTS",
    "ActiveDefects",
    "Cohort",
    "DefectEntry",
    "DefectKind",
    "DefectParams",
    "DefectSpecError",
    "Window",
    "in_fraction",
    "parse_cli_spec",
    "parse_entries",
]
