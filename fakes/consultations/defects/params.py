"""The schema of every defect's parameters and of a cohort, defined once.

The service validates ``PUT /admin/defects`` and ``--defect`` with these models, and the
harness validates a scenario's defects with the very same ones before anything starts. This
module only declares pydantic models: importing it starts nothing and reads nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from ackguard.fakes.consultations.defects.spec import Cohort, DefectSpecError

__all__ = [
    "DEFECT_PARAMS",
    "AckBeforeCommitParams",
    "CohortParams",
    "DefectName",
    "DefectParamsModel",
    "LostObservationsParams",
    "NoParams",
    "SilentTruncationParams",
    "SplitTransactionParams",
    "parse_cohort",
    "parser",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    unknown_key: ClassVar[str] = "unknown parameter (allowed: {allowed})"

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValueError("must be an object")
        allowed = list(cls.model_fields)
        for key in data:
            if key not in allowed:
                # An error located at the key itself, so that the message names its path.
                message = cls.unknown_key.format(allowed=", ".join(allowed) or "none")
                error = PydanticCustomError("unknown_key", message)
                raise ValidationError.from_exception_data(
                    cls.__name__, [InitErrorDetails(type=error, loc=(str(key),), input=data[key])]
                )
        return data


def _whole(low: int, high: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be an integer, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return value

    return check


class DefectParamsModel(_Strict):
    """Parsed parameters of one defect; ``to_json`` gives them back as the API shows them."""

    def to_json(self) -> dict[str, object]:
        return self.model_dump()


class NoParams(DefectParamsModel):
    """A defect that takes no parameters."""


class AckBeforeCommitParams(DefectParamsModel):
    flush_interval_ms: int = Field(1000, description="ms an acknowledged write stays uncommitted")

    _check = field_validator("flush_interval_ms", mode="before")(_whole(1, 600_000))


class LostObservationsParams(DefectParamsModel):
    mode: Literal["drop", "stale"] = Field(
        "drop", description='"drop" (never stored) or "stale" (overwritten by the old copy)'
    )
    stale_after_ms: int = Field(500, description="ms before the stale copy overwrites the fields")

    _check = field_validator("stale_after_ms", mode="before")(_whole(0, 600_000))


class SilentTruncationParams(DefectParamsModel):
    max_chars: int = Field(1000, description="characters kept per field")

    _check = field_validator("max_chars", mode="before")(_whole(0, 20_000))


class SplitTransactionParams(DefectParamsModel):
    gap_ms: int = Field(200, description="ms between the answer and the notes' own transaction")

    _check = field_validator("gap_ms", mode="before")(_whole(0, 600_000))


DefectName = Literal[
    "ack_before_commit",
    "swallowed_commit_error",
    "split_transaction",
    "lost_observations",
    "silent_truncation",
    "non_idempotent_retry",
    "misfile",
]

DEFECT_PARAMS: Mapping[DefectName, type[DefectParamsModel]] = {
    "ack_before_commit": AckBeforeCommitParams,
    "swallowed_commit_error": NoParams,
    "split_transaction": SplitTransactionParams,
    "lost_observations": LostObservationsParams,
    "silent_truncation": SilentTruncationParams,
    "non_idempotent_retry": NoParams,
    "misfile": NoParams,
}
"""Every defect the service can switch on, by name, with its parameter model."""


class CohortParams(_Strict):
    """Who a defect touches: a fraction of practitioners (by the hash of their RPPS number and
    ``salt``) or an explicit list of RPPS numbers."""

    fraction: float | None = None
    rpps: tuple[str, ...] = ()
    salt: str = "cohort"

    @field_validator("fraction", mode="before")
    @classmethod
    def _fraction(cls, value: object) -> object:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, got {value!r}")
        if not math.isfinite(value) or not 0 <= value <= 1:
            raise ValueError(f"must be between 0 and 1, got {value}")
        return float(value)

    @field_validator("rpps", mode="before")
    @classmethod
    def _rpps(cls, value: object) -> object:
        if not isinstance(value, list | tuple) or not all(isinstance(r, str) for r in value):
            raise ValueError(f"must be a list of RPPS numbers as text, got {value!r}")
        if not value:
            raise ValueError("must list at least one RPPS number")
        return tuple(value)

    @field_validator("salt", mode="before")
    @classmethod
    def _salt(cls, value: object) -> object:
        if not isinstance(value, str) or not value or len(value) > 200:
            raise ValueError("must be a text of 1 to 200 characters")
        return value

    @model_validator(mode="before")
    @classmethod
    def _one_way(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            if ("fraction" in data) == ("rpps" in data):
                raise ValueError("give exactly one of fraction or rpps")
            if "rpps" in data and "salt" in data:
                raise ValueError("salt goes with fraction only")
        return data

    def to_json(self) -> dict[str, object]:
        if self.fraction is not None:
            return {"fraction": self.fraction, "salt": self.salt}
        return {"rpps": list(self.rpps)}

    def cohort(self) -> Cohort:
        """The service's own cohort object."""
        if self.fraction is not None:
            return Cohort(fraction=self.fraction, salt=self.salt)
        return Cohort(rpps=frozenset(self.rpps))


def _path(where: str, loc: tuple[int | str, ...]) -> str:
    path = where
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _words(error: ErrorDetails) -> str:
    context = error.get("ctx") or {}
    if error["type"] == "value_error":
        return str(context.get("error", error["msg"]))
    if error["type"] == "literal_error":
        return f"must be {context.get('expected')}, got {error.get('input')!r}"
    return error["msg"]


def _spec_error(exc: ValidationError, where: str) -> DefectSpecError:
    first = exc.errors(include_url=False)[0]
    return DefectSpecError(_path(where, first["loc"]), _words(first))


M = TypeVar("M", bound=DefectParamsModel)


def parser(model: type[M]) -> Callable[[Mapping[str, object], str], M]:
    """The ``parse`` of a defect kind: ``model`` validated, errors as :class:`DefectSpecError`
    naming the parameter's path under ``where``."""

    def parse(raw: Mapping[str, object], where: str) -> M:
        try:
            return model.model_validate(dict(raw))
        except ValidationError as exc:
            raise _spec_error(exc, where) from None

    return parse


def parse_cohort(raw: object, where: str) -> Cohort | None:
    """A cohort entry (null, ``{fraction, salt?}`` or ``{rpps: [...]}``) as the service uses it."""
    if raw is None:
        return None
    try:
        return CohortParams.model_validate(raw).cohort()
    except ValidationError as exc:
        raise _spec_error(exc, where) from None
