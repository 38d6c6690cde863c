"""The scenario keys of the live parts: ``live`` (the live verifier's read-back budget) and
``stop_when`` (conditions that end the load early), as pydantic models of the scenario file.

``live: false`` turns the live verifier off; ``live: {reads_per_second: 50}`` sets its budget
(absent: on, with :data:`DEFAULT_READS_PER_SECOND`). ``stop_when`` names any subset of
``lost``, ``corrupt``, ``misattributed`` (counts of live detections, at least 1),
``error_rate`` (in (0, 1]) and ``p99_latency`` (a duration), the last two over the practitioners'
operations of the last :data:`~harness.live.stop.WINDOW_S` seconds.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, model_validator

from ackguard.harness.scenario_fields import Strict, maybe, number, seconds, whole

__all__ = [
    "DAMAGE_KINDS",
    "DEFAULT_CONFIRM_S",
    "DEFAULT_READS_PER_SECOND",
    "LiveSpec",
    "StopWhen",
    "live_option",
]

DEFAULT_READS_PER_SECOND = 50.0
"""A modest budget: a few percent of what the built-in service serves on one core."""
DEFAULT_CONFIRM_S = 1.0
DEFAULT_SWEEP_READS_PER_SECOND = 200.0
DAMAGE_KINDS = ("lost", "corrupt", "misattributed")


def _rate(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number in (0, 1], got {value!r}")
    if not math.isfinite(value) or not 0 < value <= 1:
        raise ValueError(
            f"must be more than 0 and at most 1 (a share of operations), got {value!r}"
        )
    return float(value)


Count = Annotated[int | None, BeforeValidator(maybe(whole(1, 1_000_000_000)))]


class LiveSpec(Strict):
    """The live verifier: how many read-backs per second it may send."""

    reads_per_second: Annotated[float, BeforeValidator(number(0.1, 10_000.0))] = (
        DEFAULT_READS_PER_SECOND
    )
    sweep_reads_per_second: Annotated[float, BeforeValidator(number(0.1, 10_000.0))] = (
        DEFAULT_SWEEP_READS_PER_SECOND
    )
    """The budget while every acknowledged record is read back after a fault heals: what a
    crash lost must be found within a second or two of the service coming back."""
    confirm_after: Annotated[float, BeforeValidator(seconds(0.0, 3600.0))] = DEFAULT_CONFIRM_S
    """A record read back missing is called lost only when a second read-back, begun this long
    after the first completed, misses it too: a service that makes an acknowledged write
    visible a moment later (write-behind) is not lost yet."""


class StopWhen(Strict):
    """Stop conditions: the first one reached ends the load."""

    lost: Count = None
    corrupt: Count = None
    misattributed: Count = None
    error_rate: Annotated[float | None, BeforeValidator(maybe(_rate))] = None
    p99_latency: Annotated[float | None, BeforeValidator(maybe(seconds(0.001, 3600.0)))] = None

    @model_validator(mode="after")
    def _some_condition(self) -> StopWhen:
        if not self.model_fields_set:
            raise ValueError(
                "must name at least one condition: lost, corrupt, misattributed, error_rate "
                "or p99_latency"
            )
        return self

    @property
    def damage(self) -> dict[str, int]:
        """The damage conditions given: kind -> count of live detections that stops."""
        found = {kind: getattr(self, kind) for kind in DAMAGE_KINDS}
        return {kind: count for kind, count in found.items() if count is not None}


def live_option(value: Any) -> Any:
    """``live``: false (off) becomes None, true or absent the default budget."""
    if value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, dict):
        return value
    raise ValueError(f"must be false or a mapping such as {{reads_per_second: 50}}, got {value!r}")
