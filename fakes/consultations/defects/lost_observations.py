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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from fakes.consultations.defects.spec import (
    DefectKind,
    DefectSpecError,
    int_param,
    reject_unknown_params,
)

__all__ = ["KIND", "LostObservationsParams"]


@dataclass(frozen=True)
class LostObservationsParams:
    mode: Literal["drop", "stale"] = "drop"
    stale_after_ms: int = 500

    def to_json(self) -> dict[str, object]:
        return {"mode": self.mode, "stale_after_ms": self.stale_after_ms}


def _parse(raw: Mapping[str, object], where: str) -> LostObservationsParams:
    reject_unknown_params(raw, where, ("mode", "stale_after_ms"))
    mode = raw.get("mode", "drop")
    if mode != "drop" and mode != "stale":
        raise DefectSpecError(f"{where}.mode", f'must be "drop" or "stale", got {mode!r}')
    delay = int_param(raw, where, "stale_after_ms", 500, 0, 600_000)
    return LostObservationsParams(mode, delay)


KIND = DefectKind(
    name="lost_observations",
    summary="a cohort's observation fields are acknowledged and never stored (or go stale)",
    params_doc={
        "mode": '"drop" (never stored, default) or "stale" (overwritten by the old copy)',
        "stale_after_ms": "ms before the stale copy overwrites the fields (default 500)",
    },
    parse=_parse,
)
