"""The explicit table of defects the service can switch on, and the parsing of entries.

An entry is ``NAME`` or ``{"name": NAME, "params": {...}, "cohort": null | {"fraction": f,
"salt": s} | {"rpps": [...]}, "window": null | {"from": iso, "until": iso}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from ackguard.fakes.consultations.defects import (
    ack_before_commit,
    lost_observations,
    misfile,
    non_idempotent_retry,
    silent_truncation,
    split_transaction,
    swallowed_commit_error,
)
from ackguard.fakes.consultations.defects.params import parse_cohort
from ackguard.fakes.consultations.defects.spec import (
    ActiveDefects,
    DefectEntry,
    DefectKind,
    DefectParams,
    DefectSpecError,
    parse_window,
)

__all__ = ["DEFECTS", "parse_cli_spec", "parse_entries"]

DEFECTS: Mapping[str, DefectKind[DefectParams]] = {
    kind.name: kind
    for kind in (
        ack_before_commit.KIND,
        swallowed_commit_error.KIND,
        split_transaction.KIND,
        lost_observations.KIND,
        silent_truncation.KIND,
        non_idempotent_retry.KIND,
        misfile.KIND,
    )
}


def _entry(raw: object, where: str) -> DefectEntry[DefectParams]:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, Mapping):
        raise DefectSpecError(
            where, "must be a defect name or an object {name, params, cohort, window}"
        )
    for key in raw:
        if key not in ("name", "params", "cohort", "window"):
            raise DefectSpecError(
                f"{where}.{key}", "unknown key (allowed: name, params, cohort, window)"
            )
    name = raw.get("name")
    kind = DEFECTS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise DefectSpecError(
            f"{where}.name", f"unknown defect {name!r} (known: {', '.join(DEFECTS)})"
        )
    params = raw.get("params") or {}
    if not isinstance(params, Mapping):
        raise DefectSpecError(f"{where}.params", "must be an object")
    return DefectEntry(
        kind=kind,
        params=kind.parse(params, f"{where}.params"),
        cohort=parse_cohort(raw.get("cohort"), f"{where}.cohort"),
        window=parse_window(raw.get("window"), f"{where}.window"),
    )


def parse_entries(raw: Sequence[object], where: str = "defects") -> ActiveDefects:
    """A whole set, or :class:`DefectSpecError` for the first bad entry (nothing half-parsed)."""
    return ActiveDefects(tuple(_entry(item, f"{where}[{i}]") for i, item in enumerate(raw)))


def parse_cli_spec(text: str) -> object:
    """``--defect`` takes a bare name or a JSON object."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return stripped
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise DefectSpecError("--defect", f"not valid JSON ({exc.msg} at {exc.pos})") from None
