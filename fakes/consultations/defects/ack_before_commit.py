"""``ack_before_commit``: the write is acknowledged before it is durable.

Incident class: asynchronous commit / write-behind. A service (or its database settings, e.g.
PostgreSQL ``synchronous_commit = off``, an ORM "flush later" queue, a write-back cache) answers
201/200 as soon as the write is in memory and makes it durable later, in a background batch. A
crash in between loses every acknowledged write of the unflushed batch.

Here: for a covered request the writer executes the statements inside the open transaction,
answers at once, and commits the transaction ``flush_interval_ms`` after its first deferred
write. A SIGKILL before that loses the batch. A request outside the cohort still waits for its
commit, and that commit makes every deferred write before it durable too: only covered writes
can be lost. A clean stop (SIGTERM) commits the batch.

Params: ``flush_interval_ms`` (int, 1..600000, default 1000): how long acknowledged writes stay
uncommitted.
"""

from __future__ import annotations

from ackguard.fakes.consultations.defects.hooks import DefectHooks, WriteCall
from ackguard.fakes.consultations.defects.params import AckBeforeCommitParams, parser
from ackguard.fakes.consultations.defects.spec import DefectKind

__all__ = ["KIND", "AckBeforeCommit", "AckBeforeCommitParams"]


class AckBeforeCommit(DefectHooks[AckBeforeCommitParams]):
    def before_write(self, params: AckBeforeCommitParams, call: WriteCall) -> None:
        call.defer_s = params.flush_interval_ms / 1000


KIND = DefectKind(
    name="ack_before_commit",
    summary="answers 2xx, commits later in a background batch; a crash loses the batch",
    params_doc={"flush_interval_ms": "ms an acknowledged write stays uncommitted (default 1000)"},
    parse=parser(AckBeforeCommitParams),
    hooks=AckBeforeCommit(),
)
