"""Request bodies, validated strictly: unknown fields, wrong types and over-long text are errors
(turned into ``{"error", "field"}`` answers by :mod:`.app`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from ackguard.fakes.consultations.schema import OBSERVATION_FIELDS

__all__ = [
    "MAX_ID",
    "MAX_NOTE_CHARS",
    "ConsultationIn",
    "ConsultationPatch",
    "EntityId",
    "PatientIn",
    "PractitionerIn",
]

MAX_NOTE_CHARS = 20_000

MAX_ID = 2**31 - 1
"""The largest id the ``INTEGER`` id columns hold (PostgreSQL, MariaDB): larger ones are
refused with 422 (a row id) or 404 (a path), never sent to the database."""


def _in_id_range(value: str) -> str:
    if int(value) > MAX_ID:
        raise ValueError(f"must be an id from 1 to {MAX_ID}, got {value}")
    return value


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    return value


EntityId = Annotated[
    str,
    Field(pattern=r"^[1-9][0-9]{0,17}$", description="an id, as a string"),
    AfterValidator(_in_id_range),
]
Text = Annotated[str, AfterValidator(_no_nul)]
Note = Annotated[Text, Field(max_length=MAX_NOTE_CHARS)] | None

_STRICT = ConfigDict(extra="forbid", strict=True)


class PractitionerIn(BaseModel):
    model_config = _STRICT
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    specialty: Annotated[Text, Field(min_length=1, max_length=100)]
    rpps: Annotated[Text, Field(min_length=1, max_length=32)]


class PatientIn(BaseModel):
    model_config = _STRICT
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    birth_date: Annotated[Text, Field(description="YYYY-MM-DD")]
    national_id: Annotated[Text, Field(min_length=1, max_length=32)]

    @field_validator("birth_date")
    @classmethod
    def _real_date(cls, value: str) -> str:
        try:
            if len(value) != 10:
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"must be a date YYYY-MM-DD, got {value!r}") from None
        return value


class ConsultationIn(BaseModel):
    model_config = _STRICT
    practitioner_id: EntityId
    patient_id: EntityId
    started_at: Annotated[Text, Field(max_length=64, description="ISO 8601 date-time")]
    visit_reason: Note = None
    exam_report: Note = None
    conclusion: Note = None
    prescription: Note = None

    @field_validator("started_at")
    @classmethod
    def _iso_time(cls, value: str) -> str:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"must be an ISO 8601 date-time, got {value!r}") from None
        return value

    def notes(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in OBSERVATION_FIELDS}


class ConsultationPatch(BaseModel):
    """Any non-empty subset of the four observation fields (a string, or null to clear it)."""

    model_config = _STRICT
    visit_reason: Note = None
    exam_report: Note = None
    conclusion: Note = None
    prescription: Note = None

    @model_validator(mode="after")
    def _not_empty(self) -> ConsultationPatch:
        if not self.model_fields_set:
            raise ValueError(f"give at least one of {', '.join(OBSERVATION_FIELDS)}")
        return self

    def changes(self) -> dict[str, str | None]:
        return {
            name: getattr(self, name)
            for name in OBSERVATION_FIELDS
            if name in self.model_fields_set
        }
