"""``non_idempotent_retry``: a retried create makes a second record.

Incident class: the Idempotency-Key header is accepted but not enforced (the lookup was
removed, or a migration dropped the unique constraint), so a client that timed out and retried
creates the consultation twice: the same key is stored on two records.

Here: while the defect is in the active set the unique index on ``idempotency_key`` is replaced
by a plain one (it is not restored when the defect is switched off: duplicates may already exist),
and for a covered practitioner a create skips the lookup and inserts again.

Params: none.
"""

from __future__ import annotations

from ackguard.fakes.consultations.defects.hooks import DefectHooks, WriteCall
from ackguard.fakes.consultations.defects.params import NoParams, parser
from ackguard.fakes.consultations.defects.spec import DefectKind

__all__ = ["KIND", "NonIdempotentRetry"]


class NonIdempotentRetry(DefectHooks[NoParams]):
    def before_write(self, params: NoParams, call: WriteCall) -> None:
        call.check_key = False  # creates insert again instead of replaying the key's record


KIND: DefectKind[NoParams] = DefectKind(
    name="non_idempotent_retry",
    summary="a repeated Idempotency-Key creates a second record",
    params_doc={},
    parse=parser(NoParams),
    hooks=NonIdempotentRetry(),
)
