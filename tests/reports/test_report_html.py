"""report.html: what a reader sees, for a passing, a failing and a cut-short run."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from ackguard import reports
from tests.reports.conftest import HOSTILE_FAULT, HOSTILE_NAME, HOSTILE_NOTE, Runs

EXTERNAL = (
    re.compile(
        r"""\b(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?:[a-z]+:)?//""", re.I
    ),
    re.compile(r"""url\(\s*["']?\s*(?:[a-z]+:)?//""", re.I),
    re.compile(r"@import", re.I),
    re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*https?:""", re.I),
)


def _page(run_dir: Path) -> str:
    rendered = reports.render_run(run_dir)
    assert rendered.html == run_dir / "report.html"
    return rendered.html.read_text(encoding="utf-8")


def _text(page: str) -> str:
    """The page's visible text, roughly: tags out, entities decoded, spaces collapsed."""
    without_svg = re.sub(r"<svg.*?</svg>", " ", page, flags=re.S)
    without_code = re.sub(r"<(script|style)\b.*?</\1>", " ", without_svg, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", without_code)))


def _section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    end = page.find("</table>", start)
    return _text(page[start : end if end > 0 else None])


def _count(page: str, name: str) -> str:
    match = re.search(r"<b>([^<]*)</b><span>" + name + "</span>", page)
    assert match, name
    return match.group(1)


def test_passing_run_says_pass_first_and_matches_expectation(runs: Runs) -> None:
    page = _page(runs.passing)
    text = _text(page)
    first_heading = text.index("Timeline")
    assert "PASS: no acknowledged record was lost or damaged" in text[:first_heading]
    assert "As the scenario expected (PASS)." in text
    assert _count(page, "acknowledged") == "3"
    assert _count(page, "intact") == "3"
    assert _count(page, "lost") == "0"
    assert 'id="records"' not in page  # no damaged-record table when nothing was damaged
    assert "No acknowledged record was lost or damaged" in text


def test_failing_run_states_the_damage_in_words_and_counts(runs: Runs) -> None:
    page = _page(runs.failing)
    text = _text(page)
    assert text.index("FAIL: 2 acknowledged records lost, 1 corrupt") < text.index("Timeline")
    assert "As the scenario expected (FAIL)." in text
    expected = {
        "acknowledged": "4",
        "intact": "1",
        "lost": "2",
        "corrupt": "1",
        "recovered": "0",
        "phantom": "0",
        "duplicate": "0",
        "indeterminate": "1",
    }
    assert {name: _count(page, name) for name in expected} == expected


def test_each_damaged_record_with_who_what_when(runs: Runs) -> None:
    page = _page(runs.failing)
    body = page.split('id="records"')[1].split("<tbody>")[1].split("</tbody>")[0]
    rows = [_text(row) for row in re.findall(r"<tr>.*?</tr>", body, re.S)]
    by_key = {re.search(r"key (k-\d+)", row).group(1): row for row in rows}  # type: ignore[union-attr]
    assert sorted(by_key) == ["k-2", "k-3", "k-4"]  # merged across verifiers: k-2 once
    lost = by_key["k-2"]
    assert lost.startswith(" lost")
    assert HOSTILE_NAME in lost and "RPPS 10000000002" in lost and "Patient 2" in lost
    assert "1.600 s" in lost and "2026-11-29 04:00:01.600 UTC" in lost
    assert "proxy-latency" in lost and "defect:lost_observations" not in lost
    assert "6.100 s" in lost and "read" in lost  # detected by a read before the final read
    corrupt = by_key["k-3"]
    assert "exam_report" in corrupt
    assert (
        f"{len(HOSTILE_NOTE):,} chars «{HOSTILE_NOTE[:24]}…» → 30 chars «{HOSTILE_NOTE[:24]}…»"
        in corrupt
    )
    assert "proxy-latency, defect:lost_observations" in corrupt
    assert "8.000 s" in corrupt and "final read" in corrupt
    outside = by_key["k-4"]
    assert "defect:lost_observations" in outside and "proxy-latency" not in outside


def test_impact_figures_for_an_incident_responder(runs: Runs) -> None:
    page = _page(runs.failing)
    impact = _section(page, "impact")
    assert "acknowledged records lost or corrupt 3" in impact
    assert "practitioners affected 3 of 4 active (75.0%)" in impact
    assert "patients affected 3 of 4 active (75.0%)" in impact  # patient 5 failed, 6 unknown
    assert "first damaged acknowledgement 1.600 s · 2026-11-29 04:00:01.600 UTC" in impact
    assert "last damaged acknowledgement 4.100 s" in impact
    assert "window of damage 2.5 s" in impact
    assert "first loss acknowledged → detected 4.5 s" in impact
    assert "(whole record) 2" in _section(page, "fields")
    assert "exam_report 1" in _section(page, "fields")
    per_fault = _section(page, "per-fault")
    assert "proxy-latency 2 2" in per_fault
    assert "defect:lost_observations 2 2" in per_fault
    cohorts = _section(page, "cohorts")
    assert "lost_observations-0 lost_observations 2 2 2 100.0% 2" in cohorts
    assert "affected practitioners outside any cohort 1" in cohorts


def test_fault_windows_are_listed_and_shaded(runs: Runs) -> None:
    page = _page(runs.failing)
    faults = _section(page, "faults")
    assert "proxy-latency latency 1.000 s 3.001 s 2.0 s" in faults
    assert f"{HOSTILE_FAULT} kill 7.000 s not healed" in faults
    assert "defect:lost_observations defect 2.000 s 6.000 s 4.0 s" in faults
    chart = re.search(r"<svg.*?</svg>", page, re.S)
    assert chart is not None
    assert "proxy-latency" in chart.group(0)
    assert "loss acknowledged" in chart.group(0) and "loss detected" in chart.group(0)


def test_operations_and_read_latencies_in_words(runs: Runs) -> None:
    page = _page(runs.failing)
    ops = _section(page, "ops")
    assert "operation invoked acknowledged failed indeterminate no answer median ms" in ops
    # creates: 6 invoked, 4 ok, 1 fail, 1 info; durations 10, 100, 200, 100, 50, 300 ms
    assert "create 6 4 1 1 0 100.0" in ops
    latencies = _section(page, "latencies-read_your_writes")
    assert "min median 95th pct 99th pct max" in latencies
    assert "records reads saw for good: from acknowledgement to the start of the last read" in (
        latencies
    )
    assert "missed it 1.0 2.5 7.0 9.5 12.0" in latencies
    assert "still saw it \u2013 4,500.0" in latencies  # no minimum given: a dash
    assert "not detection delays" in _text(page)


def test_reproduction_names_scenario_seed_and_command(runs: Runs) -> None:
    text = _text(_page(runs.failing))
    reproduce = text[text.index("Reproduce") :]
    assert "scenario incident" in reproduce and "seed 2023" in reproduce
    assert "ackguard run incident --duration 10s" in reproduce
    assert "expect: false" in reproduce  # scenario.yaml content
    assert "ackguard 0.1.0" in reproduce


def test_cut_short_run_renders_what_is_there_and_says_what_is_missing(runs: Runs) -> None:
    page = _page(runs.cut_short)
    text = _text(page)
    banner = text[: text.index("Timeline")]
    assert "INTERRUPTED: the run was stopped before its planned end" in banner
    assert "no verdict: the run was cut short before it was verified" in banner
    assert 'class="verdict interrupted"' in page
    missing = text[text.index("Missing from this run directory") :][:200]
    for name in ("verdict.json", "final_read.json", "scenario.yaml"):
        assert name in missing
    assert "status interrupted" in text
    assert "<svg" in page  # the timeline still draws from the history
    assert "kill-service kill 0.500 s not healed" in _section(page, "faults")
    assert "1 operations" not in text and "2 operations" in text  # the torn line is ignored
    assert "The last line of the history was torn (the harness was killed while writing it)" in text


def test_system_under_test_content_is_escaped(runs: Runs) -> None:
    page = _page(runs.failing)
    assert "<script>alert(1)" not in page
    assert "<script>fault()" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script" in page
    assert html.escape(HOSTILE_NAME, quote=False) in page or html.escape(HOSTILE_NAME) in page
    assert page.count("<script>") == 1  # only the page's own filter script


@pytest.mark.parametrize("which", ["passing", "failing", "cut_short"])
def test_page_makes_no_external_request(runs: Runs, which: str) -> None:
    page = _page(getattr(runs, which))
    for pattern in EXTERNAL:
        assert not pattern.search(page), pattern.pattern
    assert "<link" not in page and "<iframe" not in page and "<img" not in page


def test_table_is_capped_with_a_note_and_the_csv_has_all(tmp_path: Path) -> None:
    from tests.reports.runbuilder import synthetic_run

    made = synthetic_run(
        tmp_path / "big",
        operations=30_000,
        duration_s=60,
        losses=5000,
        practitioners=200,
        cohort_every=1,
        write_final_records=False,
    )
    damaged = len(made.lost) + len(made.corrupt)
    assert damaged > 500
    page = _page(tmp_path / "big")
    assert f"The table shows the first 500 of {damaged:,} records with a violation" in _text(page)
    rows = page.split('id="records"')[1].split("</table>")[0].count("<tr>")
    assert rows == 1 + 500
    lines = (tmp_path / "big" / "impact.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + damaged
