"""The fault protocol. A fault breaks one part of the system on the schedule's orders and heals it.

Every fault kind lives in its own module and is listed in the explicit table of
``harness.faults.registry``. A kind's parameters are a pydantic model subclassing
:class:`FaultParams` (unknown parameters refused, each value checked with its bounds in the
message); the scenario loader validates them before anything starts, and the kind's builder
receives the validated model::

    class PauseParams(FaultParams):
        seconds: Annotated[float, BeforeValidator(seconds(0.1, 3600))] = 1.0

    def build(context: FaultContext, params: PauseParams) -> Fault: ...

    KIND = FaultKind(name="my-pause", summary="...", params=PauseParams, build=build)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from pydantic import ValidationError

from ackguard.harness.scenario_fields import Strict, describe, dotted

__all__ = ["Fault", "FaultConfigError", "FaultContext", "FaultKind", "FaultParams"]


class FaultConfigError(ValueError):
    """A fault's parameters are wrong. ``field`` names the parameter (for scenario errors)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class FaultParams(Strict):
    """The parameters of one fault kind (a scenario's ``faults[i].params``)."""

    unknown_key: ClassVar[str] = "unknown parameter (allowed: {allowed})"


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


P = TypeVar("P", bound=FaultParams)


class FaultKind(Generic[P]):
    """One row of the registry: the kind's name as scenarios spell it, a one-line summary with
    units, its parameter model and its builder (which receives the validated model)."""

    def __init__(
        self,
        *,
        name: str,
        summary: str,
        params: type[P],
        build: Callable[[FaultContext, P], Fault],
    ) -> None:
        self.name = name
        self.summary = summary
        self.params = params
        self._build = build

    def parse(self, raw: Mapping[str, Any]) -> P:
        """The validated parameters, or :class:`FaultConfigError` naming the first bad one."""
        try:
            return self.params.model_validate(dict(raw))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            raise FaultConfigError(dotted(first["loc"]) or "params", describe(first)) from None

    def build(self, context: FaultContext, params: P | Mapping[str, Any]) -> Fault:
        """The fault, from validated parameters (or from raw ones, validated here first)."""
        model = params if isinstance(params, self.params) else self.parse(params)  # type: ignore[arg-type]
        return self._build(context, model)

    def __repr__(self) -> str:
        return f"FaultKind({self.name!r})"
