"""The fault protocol. A fault breaks one part of the system on the schedule's orders and heals it.

Every fault kind lives in its own module and is listed in the explicit table of
``harness.faults.registry``. A fault is built from its scenario entry by its kind's ``build``
function, which validates the parameters and raises :class:`FaultConfigError` naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["Fault", "FaultConfigError", "FaultContext", "FaultKind", "only_choice"]


class FaultConfigError(ValueError):
    """A fault's parameters are wrong. ``field`` names the parameter (for scenario errors)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@runtime_checkable
class Fault(Protocol):
    """Something that breaks the system and heals it. ``stop`` is idempotent and must be safe to
    call when ``start`` failed halfway or never ran: the orchestrator calls it for every fault
    before the final read and on Ctrl-C."""

    name: str
    description: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


class FaultContext(Protocol):
    """What a fault may act on: only the parts the run started itself."""

    def component(self, name: str) -> Any:
        """The running component called ``name`` (``service``, ``database``, ``proxy``).
        Raises ``KeyError`` when the run has no such component."""
        ...


@dataclass(frozen=True, slots=True)
class FaultKind:
    """One row of the registry: the kind's name as scenarios spell it, a one-line summary with
    units, the parameters it accepts (name -> description) and its builder."""

    name: str
    summary: str
    params: Mapping[str, str]
    build: Any  # Callable[[FaultContext, Mapping[str, Any]], Fault]; Any keeps the table simple


def only_choice(params: Mapping[str, Any], name: str, choices: Iterable[str], default: str) -> str:
    """The value of a kind's single parameter ``name`` (one of ``choices``), rejecting any other
    parameter: the validation of kinds that take one switch."""
    unknown = sorted(set(params) - {name})
    if unknown:
        raise FaultConfigError(unknown[0], f"unknown parameter (allowed: {name})")
    allowed = tuple(choices)
    value = params.get(name, default)
    if value not in allowed:
        raise FaultConfigError(name, f"must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)
