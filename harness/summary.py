"""The few lines ``ackguard run`` and ``ackguard verify`` print at the end, and the exit code."""

from __future__ import annotations

from pathlib import Path

from harness.verifiers.result import Verdict

__all__ = ["exit_code", "summary", "verdict_words"]


def exit_code(verdict: Verdict) -> int:
    """0 verdict true, 1 verdict false, 2 unknown."""
    if verdict.valid is True:
        return 0
    if verdict.valid is False:
        return 1
    return 2


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
            )
            if counts.get(kind, 0)
        ]
        return "FAIL: acknowledged records damaged: " + (", ".join(damage) or "see the report")
    reasons = [
        r.error or f"{r.name} could not tell" for r in verdict.results if r.valid == "unknown"
    ]
    return "UNKNOWN: " + ("; ".join(reasons) or "nothing could be verified")


def summary(run_dir: Path, verdict: Verdict, status: str, report: Path | None) -> str:
    counts = verdict.counts
    lines = [
        f"run: {run_dir} ({status})",
        "operations: "
        + ", ".join(
            f"{counts.get(kind, 0)} {kind}"
            for kind in ("attempted", "acknowledged", "failed", "indeterminate")
        ),
        "records: "
        + ", ".join(
            f"{counts.get(kind, 0)} {kind}"
            for kind in ("intact", "lost", "corrupt", "recovered", "phantom", "duplicate")
        ),
        f"verdict: {verdict_words(verdict)}",
    ]
    if verdict.expected is not None:
        matched = "as expected" if verdict.matched else "NOT as expected"
        lines.append(f"expected verdict: {verdict.expected} ({matched})")
    if report is not None:
        lines.append(f"report: {report}")
    return "\n".join(lines)
