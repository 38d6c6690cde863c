"""``silent_truncation``: long text is cut on store, and the answer echoes the full text.

Incident class: a column narrower than the API allows (``VARCHAR(1000)`` under a permissive
driver or MySQL without strict mode, an ORM ``max_length`` applied on save), so a long exam report
is stored cut short while the client is shown what it sent.

Here: a covered create or PATCH stores each observation field cut to its first ``max_chars``
characters; the answer carries the full text.

Params: ``max_chars`` (int, 0..20000, default 1000): characters kept per field.
"""

from __future__ import annotations

from collections.abc import Mapping

from ackguard.fakes.consultations.defects.hooks import DefectHooks, WriteCall
from ackguard.fakes.consultations.defects.params import SilentTruncationParams, parser
from ackguard.fakes.consultations.defects.spec import DefectKind

__all__ = ["KIND", "SilentTruncation", "SilentTruncationParams", "truncate"]


def truncate(
    fields: Mapping[str, str | None], params: SilentTruncationParams
) -> dict[str, str | None]:
    return {
        name: None if text is None else text[: params.max_chars] for name, text in fields.items()
    }


class SilentTruncation(DefectHooks[SilentTruncationParams]):
    def before_write(self, params: SilentTruncationParams, call: WriteCall) -> None:
        call.stored = truncate(call.stored, params)


KIND = DefectKind(
    name="silent_truncation",
    summary="observation fields are stored cut to max_chars; the answer echoes the full text",
    params_doc={"max_chars": "characters kept per field (default 1000)"},
    parse=parser(SilentTruncationParams),
    hooks=SilentTruncation(),
)
