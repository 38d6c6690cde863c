"""``misfile``: an update is written to another consultation of the same practitioner.

Incident class: a note filed under the wrong patient. An id handed out twice (MariaDB's
auto-increment counter rewound by a crash with ``innodb_flush_log_at_trx_commit=0``), a
client-side cache keyed by the wrong id, or an ORM session that reuses an object: the
practitioner's update is acknowledged for their consultation and lands in another one, that of
another patient.

Here: a covered PATCH is written to the practitioner's most recent other consultation (the one
with the highest id but its own); the answer is the one the right consultation would have had.
A practitioner with no other consultation is written correctly. Creates are untouched.

Params: none.
"""

from __future__ import annotations

from ackguard.fakes.consultations.defects.hooks import DefectHooks, WriteCall
from ackguard.fakes.consultations.defects.params import NoParams, parser
from ackguard.fakes.consultations.defects.spec import DefectKind

__all__ = ["KIND", "Misfile"]


class Misfile(DefectHooks[NoParams]):
    def before_write(self, params: NoParams, call: WriteCall) -> None:
        if call.op != "update" or call.record_id is None:
            return
        from sqlalchemy import select

        from ackguard.fakes.consultations.schema import consultations

        column = consultations.c
        other = call.connection.execute(
            select(column.id)
            .where(column.practitioner_id == call.practitioner_id, column.id != call.record_id)
            .order_by(column.id.desc())
            .limit(1)
        ).scalar()
        if other is not None:
            call.record_id = int(other)


KIND: DefectKind[NoParams] = DefectKind(
    name="misfile",
    summary="an update is written to another consultation of the same practitioner",
    params_doc={},
    parse=parser(NoParams),
    hooks=Misfile(),
)
