"""``split_transaction``: the consultation and its notes are committed separately.

Incident class: a create that spans two transactions (or two services: the record in one call,
the notes in a follow-up job or event). The first commit is acknowledged; a crash or a database
error before the second leaves an acknowledged consultation without its observation fields.

Here: a covered create commits the consultation row with its four observation fields NULL and
answers 201 echoing the full record; a follow-up step writes the fields ``gap_ms`` later in a
transaction of its own (``COALESCE``, so a PATCH made in the gap is not overwritten). The 201
really precedes the notes' durability: a SIGKILL within the gap, or a database error in the
follow-up (logged), loses exactly the notes. PATCHes are not split. A clean stop (SIGTERM) runs
the pending follow-ups first.

Params: ``gap_ms`` (int, 0..600000, default 200): delay between the answer and the notes' write.
"""

from __future__ import annotations

from ackguard.fakes.consultations.defects.hooks import DefectHooks, FollowUp, WriteCall, set_notes
from ackguard.fakes.consultations.defects.params import SplitTransactionParams, parser
from ackguard.fakes.consultations.defects.spec import DefectKind

__all__ = ["KIND", "SplitTransaction", "SplitTransactionParams"]


class SplitTransaction(DefectHooks[SplitTransactionParams]):
    def before_write(self, params: SplitTransactionParams, call: WriteCall) -> None:
        if call.op == "create":
            call.row_notes = dict.fromkeys(call.stored)

    def after_write(self, params: SplitTransactionParams, call: WriteCall) -> None:
        if call.op != "create" or call.record_id is None:
            return
        if any(text is not None for text in call.stored.values()):
            call.followups.append(
                FollowUp(
                    call.clock + params.gap_ms / 1000,
                    f"split_transaction: notes of consultation {call.record_id}",
                    set_notes(call.record_id, dict(call.stored), only_if_null=True),
                )
            )


KIND = DefectKind(
    name="split_transaction",
    summary="the consultation row and its notes are committed in two transactions",
    params_doc={"gap_ms": "ms between the answer and the notes' own transaction (default 200)"},
    parse=parser(SplitTransactionParams),
    hooks=SplitTransaction(),
)
