"""``suite.html``: one row per scenario of a suite (verdict, expectation, outcome, counts,
duration) linking each run's report, in the look of the runs index."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ackguard.harness.suite import OUTCOMES, ScenarioOutcome, suite_exit_code
from ackguard.harness.suite_file import expect_word
from ackguard.reports.page import render_template
from ackguard.reports.words import damage_counts

__all__ = ["SuiteRow", "write_suite_page"]

_VERDICT_CLASS = {"PASS": "ok", "FAIL": "bad"}
_OUTCOME_CLASS = {"OK": "ok", "MISMATCH": "bad"}


@dataclass(frozen=True, slots=True)
class SuiteRow:
    label: str
    verdict: str
    verdict_class: str
    expected: str
    outcome: str
    outcome_class: str
    acknowledged: int | None
    damage: dict[str, int]
    indeterminate: int | None
    duration_s: float | None
    link: str | None
    """The report (or else the run directory), relative to the page."""
    run_dir: str
    reasons: tuple[str, ...]


def write_suite_page(
    name: str, outcomes: Sequence[ScenarioOutcome], path: Path, *, started: datetime | None = None
) -> Path:
    rows = [_row(done, path.parent) for done in outcomes]
    tally = {k: sum(o.outcome == k for o in outcomes) for k in OUTCOMES}
    page = render_template(
        "suite.html.j2",
        {
            "name": name,
            "rows": rows,
            "tally": tally,
            "exit_code": suite_exit_code(o.outcome for o in outcomes),
            "started": started,
            "generated": datetime.now(UTC),
        },
    )
    path.write_text(page, encoding="utf-8")
    return path


def _row(done: ScenarioOutcome, page_dir: Path) -> SuiteRow:
    verdict = "-" if done.verdict is None else expect_word(done.verdict)
    target = done.report or done.run_dir
    ran = done.verdict is not None and done.status != "error"
    return SuiteRow(
        label=done.label,
        verdict=verdict,
        verdict_class=_VERDICT_CLASS.get(verdict, "unk"),
        expected=expect_word(done.expected),
        outcome=done.outcome,
        outcome_class=_OUTCOME_CLASS.get(done.outcome, "unk"),
        acknowledged=done.counts.get("acknowledged") if ran else None,
        damage=damage_counts(done.counts),
        indeterminate=int(done.counts.get("indeterminate", 0)) if ran else None,
        duration_s=done.duration_s if done.verdict is not None else None,
        link=Path(os.path.relpath(target, page_dir)).as_posix() if target else None,
        run_dir=done.run_dir.name if done.run_dir else "",
        reasons=done.reasons,
    )
