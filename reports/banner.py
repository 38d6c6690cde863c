"""The first thing a reader sees: the verdict and the run's status in words, with every reason.

Green means one thing only: verdict true in a run that completed. A run that was interrupted,
whose harness failed or that is still going (``run.json`` status) gets a banner of its own, and
an unknown verdict shows each reason ``verdict.json`` gives (older verdict files carry none: the
verifiers' own errors stand in for them).
"""

from __future__ import annotations

from dataclasses import dataclass

from ackguard.harness.verifiers.result import Result, Verdict
from ackguard.reports.rundata import RunData, RunInfo
from ackguard.reports.words import plural

__all__ = ["Banner", "banner", "fail_words", "result_reason", "result_reasons"]

_STATUS_WORDS = {
    "interrupted": ("INTERRUPTED", "the run was stopped before its planned end"),
    "error": ("HARNESS ERROR", "ackguard itself failed during the run: this is no verdict"),
    "running": ("NOT FINISHED", "run.json still says the run is going (or its harness died)"),
}
"""Statuses of ``run.json`` that are not a completed run: the banner's word and its meaning."""
_NOTHING_PROVEN = "the verifiers found nothing wrong in what ran; a run cut short proves nothing"


@dataclass(frozen=True, slots=True)
class Banner:
    """``kind`` is the CSS class: pass, fail, unknown, interrupted, error, running or none.
    ``word`` is the headline's first word (PASS, FAIL, UNKNOWN, INTERRUPTED...)."""

    kind: str
    word: str
    headline: str
    reasons: tuple[str, ...]

    @property
    def green(self) -> bool:
        return self.kind == "pass"

    @property
    def listed(self) -> tuple[str, ...]:
        """The reasons the page lists under the headline (a lone unknown reason is in it)."""
        return () if self.kind == "unknown" and len(self.reasons) == 1 else self.reasons


def banner(run: RunData) -> Banner:
    verdict = run.verdict
    info = run.info
    status = info.status if info is not None else None
    abnormal = _STATUS_WORDS.get(status or "")
    given = run.reasons or (result_reasons(verdict.results) if verdict is not None else ())
    stopped = _stopped(verdict)
    if verdict is not None and verdict.valid is False:
        note = (
            (f"{abnormal[1]}: the damage shown is real, more may be missing",) if abnormal else ()
        )
        reasons = note + stopped + _status_error(info) + given
        return Banner("fail", "FAIL", fail_words(verdict), reasons)
    if verdict is not None and verdict.valid is True and abnormal is None:
        headline = "PASS: no acknowledged record was lost or damaged"
        return Banner("pass", "PASS", headline, stopped + given)
    if abnormal is not None:
        assert status is not None
        word, meaning = abnormal
        reasons = _status_error(info) + given
        if verdict is None:
            reasons += ("no verdict: the run was cut short before it was verified",)
        elif verdict.valid is True:
            reasons += (_NOTHING_PROVEN,)
        # The verdict comes first: a run cut short is UNKNOWN, whatever its verifiers said.
        return Banner(status, word, f"UNKNOWN, {word}: {meaning}", _unique(reasons))
    if verdict is None:
        why = "the run was cut short before it was verified" if run.missing else "no verdict.json"
        return Banner("none", "UNKNOWN", f"UNKNOWN: no verdict ({why})", ())
    reasons = given or ("nothing could be verified (no reason recorded)",)
    more = f" (and {plural(len(reasons) - 1, 'more reason')} below)" if len(reasons) > 1 else ""
    return Banner("unknown", "UNKNOWN", f"UNKNOWN: {reasons[0]}{more}", reasons + stopped)


def fail_words(verdict: Verdict) -> str:
    counts = verdict.counts
    lost, corrupt = counts.get("lost", 0), counts.get("corrupt", 0)
    parts = []
    if lost or corrupt:
        lead = plural(lost or corrupt, "acknowledged record")
        parts.append(f"{lead} {'lost' if lost else 'corrupt'}")
        if lost and corrupt:
            parts.append(f"{corrupt:,} corrupt")
    parts += [
        f"{counts.get(kind, 0):,} {word}"
        for kind, word in (
            ("duplicate", "duplicated"),
            ("phantom", "phantom"),
            ("misattributed", "misattributed"),
            ("unexpected", "unexpected"),
        )
        if counts.get(kind, 0)
    ]
    failing = [r.name for r in verdict.results if r.valid is False]
    return "FAIL: " + (", ".join(parts) or "violation found by " + ", ".join(failing))


def result_reasons(results: tuple[Result, ...]) -> tuple[str, ...]:
    """Why each verifier that did not pass could not tell, for verdicts without ``reasons``."""
    reasons = []
    for result in results:
        if result.valid == "unknown":
            why = result_reason(result)
            reasons.append(f"{result.name}: {why}" if why else f"{result.name} could not tell")
    return tuple(reasons)


def result_reason(result: Result) -> str | None:
    """Why a verifier could not tell, in whichever place its version of the harness put it."""
    why = result.extra.get("reason") or getattr(result, "reason", None) or result.error
    return str(why) if why else None


def _status_error(info: RunInfo | None) -> tuple[str, ...]:
    return (f"the harness failed: {info.error}",) if info is not None and info.error else ()


def _stopped(verdict: Verdict | None) -> tuple[str, ...]:
    """Why a stop condition ended the load early (``stop_when``), as the evidence keeps it."""
    reason = verdict.evidence.get("stopped_by") if verdict is not None else None
    return (f"stopped early by design: {reason}",) if reason else ()


def _unique(reasons: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(reasons))
