"""The few lines ``ackguard run`` and ``ackguard verify`` print at the end, and the exit code.

Each line counts one unit: *writes* are operations (creates and updates, each attempt once),
*reads* are operations (reads and lists), *records* are consultations (one idempotency key). On
each operations line, attempted = acknowledged + failed + indeterminate + unanswered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from ackguard.harness.verifiers.result import CLASSES, Result, Verdict

__all__ = ["exit_code", "operation_lines", "summary", "verdict_reasons", "verdict_words"]

WRITES = ("create", "update")
READS = ("read", "list")
_STATUS_WORDS = {
    "interrupted": "interrupted: stopped before its planned end, the verdict covers what ran",
    "error": "error: ackguard itself failed during the run",
    "running": "still running, or its harness died",
}


def exit_code(verdict: Verdict) -> int:
    """0 verdict true, 1 verdict false, 2 unknown."""
    if verdict.valid is True:
        return 0
    if verdict.valid is False:
        return 1
    return 2


def verdict_reasons(verdict: Verdict) -> tuple[str, ...]:
    """The verdict's reasons in words; for a verdict file without them, each verifier's."""
    given: tuple[str, ...] = tuple(getattr(verdict, "reasons", ()) or ())
    if given:
        return given
    return tuple(f"{r.name}: {_why(r)}" for r in verdict.results if r.valid not in (True, False))


def verdict_words(verdict: Verdict) -> str:
    counts = verdict.counts
    if verdict.valid is True:
        return "PASS: no acknowledged record was lost or damaged"
    if verdict.valid is False:
        damage = [
            f"{counts.get(kind, 0)} {label}"
            for kind, label in (
                ("lost", "lost"),
                ("corrupt", "corrupt"),
                ("duplicate", "duplicated"),
                ("phantom", "phantom"),
                ("misattributed", "misattributed"),
                ("unexpected", "unexpected"),
            )
            if counts.get(kind, 0)
        ]
        return "FAIL: acknowledged records damaged: " + (", ".join(damage) or "see the report")
    reasons = verdict_reasons(verdict)
    return "UNKNOWN: " + ("; ".join(reasons) or "nothing could be verified")


def operation_lines(verdict: Verdict) -> list[str]:
    """``writes: ...`` and ``reads: ...``, each in one unit (operations) on both sides."""
    per_kind = _operations(verdict.results)
    if not per_kind:
        return ["operations: not counted in this verdict"]
    lines = []
    for label, kinds, done in (
        ("writes (creates and updates)", WRITES, "acknowledged"),
        ("reads (reads and lists)", READS, "answered"),
    ):
        total = {o: sum(per_kind.get(f, {}).get(o, 0) for f in kinds) for o in _OUTCOMES}
        lines.append(
            f"{label}: {total['invoked']:,} attempted = {total['ok']:,} {done}"
            f" + {total['fail']:,} failed + {total['info']:,} indeterminate"
            f" + {total['pending']:,} unanswered at the end"
        )
    return lines


_OUTCOMES = ("invoked", "ok", "fail", "info", "pending")


def summary(run_dir: Path, verdict: Verdict, status: str, report: Path | None) -> str:
    counts = verdict.counts
    lines = [
        f"run: {run_dir} ({_STATUS_WORDS.get(status, status)})",
        *operation_lines(verdict),
        "records (consultations): "
        + ", ".join(
            f"{counts.get(kind, 0):,} {kind}"
            for kind in CLASSES
            if kind not in ("indeterminate", "failed")  # operations, on the lines above
        ),
        *_verdict_lines(verdict),
        *_live_lines(verdict.live),
    ]
    if verdict.expected is not None:
        matched = "as expected" if verdict.matched else "NOT as expected"
        wanted = verdict.expected
        expected = "UNKNOWN" if not isinstance(wanted, bool) else "PASS" if wanted else "FAIL"
        lines.append(f"expected verdict: {expected} ({matched})")
    if report is not None:
        lines.append(f"report: {report}")
    return "\n".join(lines)


def _live_lines(live: Mapping[str, object]) -> list[str]:
    """What the live read-backs caught while the load ran, and how fast."""
    if not live or not live.get("reads"):
        return []
    line = (
        f"live: {live.get('reads', 0):,} read-backs caught {live.get('detected', 0):,} of "
        f"{live.get('damaged', 0):,} damaged records while the load ran"
    )
    if live.get("median_time_to_detect_s") is not None:
        line += (
            f"; time to detect median {live['median_time_to_detect_s']} s, "
            f"max {live['max_time_to_detect_s']} s"
        )
    if live.get("median_after_service_back_s") is not None:
        line += f" ({live['median_after_service_back_s']} s after the service was back)"
    lines = [line]
    if live.get("unconfirmed"):
        lines.append(f"  live alarms the final read did not confirm: {live['unconfirmed']}")
    return lines


def _verdict_lines(verdict: Verdict) -> list[str]:
    """One line, or the verdict and then each reason on its own line when there are several
    (an unknown verdict) or when they qualify a failure (an interrupted run)."""
    reasons = verdict_reasons(verdict)
    if verdict.valid == "unknown" and len(reasons) > 1:
        return [f"verdict: UNKNOWN, for {len(reasons)} reasons:", *(f"  - {r}" for r in reasons)]
    lines = [f"verdict: {verdict_words(verdict)}"]
    if verdict.valid is False:
        lines += [f"  - {r}" for r in reasons]
    elif verdict.valid is True:
        lines += [f"  note: {r}" for r in reasons]
    return lines


def _operations(results: Iterable[Result]) -> Mapping[str, Mapping[str, int]]:
    for result in results:
        found = result.extra.get("operations")
        if isinstance(found, Mapping) and found:
            return found
    return {}


def _why(result: Result) -> str:
    why = result.extra.get("reason") or getattr(result, "reason", None) or result.error
    return str(why) if why else "could not tell"
