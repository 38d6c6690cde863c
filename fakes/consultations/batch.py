"""Registration in bulk: ``POST /v1/practitioners/batch`` and ``POST /v1/patients/batch``.

The body is ``{"items": [item, ...]}``: 1 to :data:`MAX_BATCH_ITEMS` items, each exactly the body
of the single endpoint (``POST /v1/practitioners``, ``POST /v1/patients``), validated by the same
rules. The answer is 201 ``{"items": [record, ...]}``, the records in the order of the items,
each as the single endpoint answers it (with the id the database gave it).

All or nothing: a bad item refuses the whole batch before anything is written, with the error
of the single endpoint whose ``field`` names the item, e.g. 422
``{"error": "items.3.rpps: String should have at least 1 character", "field": "items.3.rpps"}``;
more than :data:`MAX_BATCH_ITEMS` items is 422 naming ``items``; a body over the service's size
cap (256 KiB by default) is 413. A valid batch is one job of the writer, so one transaction:
acknowledged after its commit, or not stored at all.

The rows go in as one statement per batch (:func:`.multirow.insert_rows`: SQLite and
PostgreSQL; MariaDB through SQLAlchemy's insertmanyvalues).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection

from ackguard.fakes.consultations.errors import Answer, json_answer
from ackguard.fakes.consultations.http import respond
from ackguard.fakes.consultations.jobs import WriteContext, WriteJob
from ackguard.fakes.consultations.models import PatientIn, PractitionerIn
from ackguard.fakes.consultations.multirow import insert_rows
from ackguard.fakes.consultations.records import PatientRecord, PractitionerRecord
from ackguard.fakes.consultations.schema import patients, practitioners
from ackguard.fakes.consultations.service import Service

__all__ = [
    "MAX_BATCH_ITEMS",
    "CreatePatients",
    "CreatePractitioners",
    "PatientBatchIn",
    "PractitionerBatchIn",
    "add_batch_routes",
]

MAX_BATCH_ITEMS = 1000
"""Items per batch request: bounds the writer's time on one job (a few ms) and the body."""

_STRICT = ConfigDict(extra="forbid", strict=True)


class PractitionerBatchIn(BaseModel):
    model_config = _STRICT
    items: Annotated[list[PractitionerIn], Field(min_length=1, max_length=MAX_BATCH_ITEMS)]


class PatientBatchIn(BaseModel):
    model_config = _STRICT
    items: Annotated[list[PatientIn], Field(min_length=1, max_length=MAX_BATCH_ITEMS)]


class BatchOut(BaseModel):
    items: list[dict[str, str]]


def _insert_all(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """The new ids, in the order of ``rows`` (see the module docstring), in the job's
    transaction."""
    together = insert_rows(connection, table, rows)
    if together is not None:
        return together
    dialect = connection.dialect
    if dialect.insert_executemany_returning_sort_by_parameter_order:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return [int(row[0]) for row in connection.execute(statement, rows)]
    ids: list[int] = []
    for row in rows:
        key = connection.execute(insert(table), row).inserted_primary_key
        if key is None or key[0] is None:
            raise RuntimeError("the database returned no id for the new row")
        ids.append(int(key[0]))
    return ids


class CreatePractitioners(WriteJob):
    def __init__(self, items: Sequence[PractitionerIn]) -> None:
        super().__init__()
        self.items = items
        self.new_ids: list[int] = []

    def execute(self, connection: Connection, context: WriteContext) -> Answer:
        rows = [item.model_dump() for item in self.items]
        self.new_ids = _insert_all(connection, practitioners, rows)
        self.wrote = True
        records = [
            PractitionerRecord(
                id=str(new_id), name=item.name, specialty=item.specialty, rpps=item.rpps
            )
            for new_id, item in zip(self.new_ids, self.items, strict=True)
        ]
        return json_answer(201, {"items": records})

    def committed(self, context: WriteContext) -> None:
        for new_id, item in zip(self.new_ids, self.items, strict=True):
            context.directory.add_practitioner(new_id, item.rpps)


class CreatePatients(WriteJob):
    def __init__(self, items: Sequence[PatientIn]) -> None:
        super().__init__()
        self.items = items
        self.new_ids: list[int] = []

    def execute(self, connection: Connection, context: WriteContext) -> Answer:
        rows = [item.model_dump() for item in self.items]
        self.new_ids = _insert_all(connection, patients, rows)
        self.wrote = True
        records = [
            PatientRecord(
                id=str(new_id),
                name=item.name,
                birth_date=item.birth_date,
                national_id=item.national_id,
            )
            for new_id, item in zip(self.new_ids, self.items, strict=True)
        ]
        return json_answer(201, {"items": records})

    def committed(self, context: WriteContext) -> None:
        for new_id in self.new_ids:
            context.directory.add_patient(new_id)


def add_batch_routes(app: FastAPI, service: Service) -> None:
    """Register the two batch endpoints on ``app`` (see the module docstring)."""

    @app.post("/v1/practitioners/batch", status_code=201, responses={201: {"model": BatchOut}})
    async def create_practitioners(body: PractitionerBatchIn) -> Response:
        """Up to 1,000 practitioners in one transaction; records in item order."""
        return respond(await service.write(CreatePractitioners(body.items)))

    @app.post("/v1/patients/batch", status_code=201, responses={201: {"model": BatchOut}})
    async def create_patients(body: PatientBatchIn) -> Response:
        """Up to 1,000 patients in one transaction; records in item order."""
        return respond(await service.write(CreatePatients(body.items)))
