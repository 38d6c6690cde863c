"""``lost_observations``: the reference incident.

Incident class: a new feature is switched on for some practitioners; for 18 hours the
observation fields (visit reason, exam report, conclusion, prescription) they write are
acknowledged and never stored, or overwritten by a stale copy, while the consultations themselves
survive. About 1.3% of practitioners were affected; nobody noticed for days.

Here: for a covered practitioner (cohort, window), writes of observation fields are answered as
if stored (2xx, the full text echoed, ``version`` bumped in the answer) but:

- ``mode: drop`` (default): a create stores the consultation with its four fields NULL; a PATCH
  changes nothing in the database.
- ``mode: stale``: the write is committed, then ``stale_after_ms`` later a background sync writes
  back the copy read before the write (the fields' previous values; NULL for a create), as a
  cache that was never invalidated would.

Writes of practitioners outside the cohort (or outside the window) are untouched.

Params: ``mode`` ("drop" | "stale", default "drop"); ``stale_after_ms`` (int, 0..600000, default
500): delay before the stale copy overwrites the fields (mode stale only).
"""

from __future__ import annotations

from ackguard.fakes.consultations.defects.hooks import DefectHooks, FollowUp, WriteCall, set_notes
from ackguard.fakes.consultations.defects.params import LostObservationsParams, parser
from ackguard.fakes.consultations.defects.spec import DefectKind

__all__ = ["KIND", "LostObservations", "LostObservationsParams"]


class LostObservations(DefectHooks[LostObservationsParams]):
    def before_write(self, params: LostObservationsParams, call: WriteCall) -> None:
        if params.mode != "drop":
            return
        if call.op == "create":
            call.stored = dict.fromkeys(call.stored)  # the row without its notes
        else:
            call.write = False  # answered as stored, nothing changes

    def after_write(self, params: LostObservationsParams, call: WriteCall) -> None:
        if params.mode != "stale" or call.record_id is None:
            return
        stale: dict[str, str | None]
        if call.op == "create":
            stale = {name: None for name, text in call.stored.items() if text is not None}
        else:
            stale = {name: call.before.get(name) for name in call.sent}
        if stale:
            call.followups.append(
                FollowUp(
                    call.clock + params.stale_after_ms / 1000,
                    f"lost_observations: stale copy of consultation {call.record_id}",
                    set_notes(call.record_id, stale, only_if_null=False),
                )
            )


KIND = DefectKind(
    name="lost_observations",
    summary="a cohort's observation fields are acknowledged and never stored (or go stale)",
    params_doc={
        "mode": '"drop" (never stored, default) or "stale" (overwritten by the old copy)',
        "stale_after_ms": "ms before the stale copy overwrites the fields (default 500)",
    },
    parse=parser(LostObservationsParams),
    hooks=LostObservations(),
)
