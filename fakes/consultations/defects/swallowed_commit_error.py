"""``swallowed_commit_error``: a failed write/commit is logged and answered 2xx anyway.

Incident class: ``try: session.commit() except Exception: log.exception(...)`` followed by
``return 201``. The database refused the transaction (a dropped connection, a serialization
failure, ``database is locked``) and rolled it back, but the caller is told it succeeded.

Here: once a covered request has been validated (its reads succeeded), a database error raised by
its writes or by the COMMIT is logged and the prepared answer is sent with 2xx. A create whose
INSERT never ran answers with the id the service predicted for it (as an ORM with client-side id
allocation would), so the acknowledged record is absent afterwards. Errors before that point
(the database unreachable on the first read) still answer 503.

How to provoke it for real: on SQLite, hold the write lock from another connection
(``BEGIN IMMEDIATE``) longer than the service's busy timeout; on PostgreSQL, block the service's
INSERT/UPDATE (``LOCK TABLE consultations IN SHARE ROW EXCLUSIVE MODE``) and terminate its
backends (``pg_terminate_backend``, application_name ``ackguard-consultations``), or stop the
cluster while writes are in flight.

Params: none.
"""

from __future__ import annotations

from ackguard.fakes.consultations.defects.hooks import DefectHooks, WriteCall
from ackguard.fakes.consultations.defects.params import NoParams, parser
from ackguard.fakes.consultations.defects.spec import DefectKind

__all__ = ["KIND", "SwallowedCommitError"]


class SwallowedCommitError(DefectHooks[NoParams]):
    def before_write(self, params: NoParams, call: WriteCall) -> None:
        call.answer_on_error = True


KIND: DefectKind[NoParams] = DefectKind(
    name="swallowed_commit_error",
    summary="a database error during the write or COMMIT is logged and answered 2xx",
    params_doc={},
    parse=parser(NoParams),
    hooks=SwallowedCommitError(),
)
