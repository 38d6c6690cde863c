"""Trends per scenario in the runs index, on run directories shaped as the harness writes them."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from ackguard import reports
from ackguard.harness.verifiers.result import CLASSES
from ackguard.reports.latency import CACHE_FILE, history_figures, scan_figures
from ackguard.reports.trends import SHOWN_RUNS
from ackguard.reports.words import DASH
from tests.reports.runbuilder import nightly_run, write_verdict_json

WRITE_MS = [5.0, 7.0, 9.0, 11.0, 13.0, 15.0, 40.0, 60.0, 80.0, 950.0]


def _sections(page: str) -> dict[str, str]:
    found = re.findall(r'<section class="trend" data-scenario="(.*?)">(.*?)</section>', page, re.S)
    return {html.unescape(name): body for name, body in found}


def _rows(section: str) -> list[list[list[str]]]:
    """The trend table's rows, newest first: each cell as the words of its text."""
    rows = re.findall(r'<tr class="v-[^"]*">(.*?)</tr>', section, re.S)
    cells = (re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows)
    return [[_words(cell) for cell in row] for row in cells]


def _words(cell: str) -> list[str]:
    return html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()


def _header(section: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", section)]


def test_acknowledged_writes_and_their_p99_come_from_the_history(tmp_path: Path) -> None:
    run = nightly_run(tmp_path, "nightly", 0, True, write_ms=WRITE_MS, failed_writes=4)
    figures = scan_figures(run / "history.jsonl")
    # 10 acknowledged creates, 4 failed ones (5 s each: not acknowledged, not in the p99), 1 read.
    assert figures.operations == 15
    assert figures.acknowledged_writes == 10
    assert figures.write_p99_ms == pytest.approx(float(np.percentile(WRITE_MS, 99)), abs=1e-6)
    assert figures.write_p99_ms is not None and 800 < figures.write_p99_ms < 950


def test_a_run_without_writes_has_no_p99(tmp_path: Path) -> None:
    run = nightly_run(tmp_path, "reads-only", 0, True, write_ms=())
    figures = history_figures(run)
    assert figures is not None
    assert (figures.acknowledged_writes, figures.write_p99_ms, figures.operations) == (0, None, 1)
    assert history_figures(tmp_path / "nowhere") is None


def test_the_figures_are_cached_until_the_history_changes(tmp_path: Path) -> None:
    run = nightly_run(tmp_path, "nightly", 0, True, write_ms=WRITE_MS)
    first = history_figures(run)
    cache = run / CACHE_FILE
    data = json.loads(cache.read_text("utf-8"))
    assert data["figures"]["acknowledged_writes"] == 10
    # The cache is what a second render reads: a planted figure under the same key is returned.
    data["figures"]["acknowledged_writes"] = 12345
    cache.write_text(json.dumps(data), "utf-8")
    cached = history_figures(run)
    assert cached is not None and cached.acknowledged_writes == 12345
    # The history grows (a run still being written): the key no longer matches, scanned again.
    with (run / "history.jsonl").open("a", encoding="utf-8") as history:
        history.write(
            '{"index":99,"time":500000000000,"process":1,"type":"invoke","f":"read","key":"k-0",'
            '"value":{"id":"1"},"error":null}\n'
        )
    again = history_figures(run)
    assert again is not None and first is not None
    assert again.acknowledged_writes == 10 and again.operations == first.operations + 1
    cache.write_text("{not json", "utf-8")  # a damaged cache is ignored and rewritten
    assert history_figures(run) == again
    assert json.loads(cache.read_text("utf-8"))["figures"]["operations"] == again.operations


def test_the_report_leaves_the_index_its_figures_so_the_history_is_read_once(
    tmp_path: Path,
) -> None:
    run = nightly_run(tmp_path, "nightly", 0, True, write_ms=WRITE_MS, failed_writes=4)
    reports.render_run(run)
    cached = json.loads((run / CACHE_FILE).read_text("utf-8"))
    assert cached["figures"] == {
        "operations": 15,
        "acknowledged_writes": 10,
        "write_p99_ms": pytest.approx(float(np.percentile(WRITE_MS, 99)), abs=1e-6),
    }
    assert history_figures(run) == scan_figures(run / "history.jsonl")


def test_each_scenario_has_its_runs_in_time_order_with_verdict_changes(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    lost = {"acknowledged": 3, "intact": 1, "lost": 2}
    nightly_run(runs, "crash", 0, True, counts={"acknowledged": 3, "intact": 3})
    nightly_run(runs, "crash", 1, True, counts={"acknowledged": 3, "intact": 3})
    nightly_run(runs, "crash", 2, False, counts=lost, write_ms=[10.0, 500.0])
    nightly_run(runs, "crash", 3, "unknown", counts={"acknowledged": 3, "indeterminate": 1})
    nightly_run(runs, "crash", 4, None, status="running", harness_pid=2**22 + 1)
    nightly_run(runs, "crash", 5, True, counts={"acknowledged": 3, "intact": 3})
    nightly_run(runs, "baseline", 3, True, counts={"acknowledged": 3, "intact": 3})
    page = reports.render_index(runs).read_text("utf-8")
    sections = _sections(page)
    assert list(sections) == ["crash", "baseline"]  # the scenario run most recently first
    crash = _rows(sections["crash"])
    assert len(crash) == 6
    verdicts = [" ".join(row[1]) for row in crash]  # newest first
    assert verdicts == [
        "PASS UNKNOWN → PASS",
        "NOT FINISHED",  # still running: no verdict yet, so no change either way
        "UNKNOWN FAIL → UNKNOWN",
        "FAIL PASS → FAIL",
        "PASS",
        "PASS",
    ]
    assert page.count('class="change"') == 4  # three rows and the heading of the latest run
    assert re.search(r"<h3>crash <span class=\"vb pass\">PASS</span> <span class=\"change\"", page)
    assert "3 verdict changes" in sections["crash"]
    failing = crash[3]
    assert failing[2] == ["2"]  # acknowledged writes
    assert failing[3] == [f"{np.percentile([10.0, 500.0], 99):.1f}", "ms"]
    assert " ".join(_rows(sections["baseline"])[0][1]) == "PASS"  # no change: its only run


def test_every_record_class_has_a_column_and_a_missing_count_is_a_dash(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    old = {"acknowledged": 130, "intact": 5, "duplicate": 125}  # an older verdict's classes
    newer = {name: 0 for name in CLASSES} | {"acknowledged": 9, "intact": 6, "reordered": 3}
    nightly_run(runs, "dup", 0, False, counts=old)
    nightly_run(runs, "dup", 1, False, counts=newer | {"misattributed": 1})
    section = _sections(reports.render_index(runs).read_text("utf-8"))["dup"]
    header = _header(section)
    assert header[4:] == [*CLASSES, "reordered"]
    newest, oldest = _rows(section)
    by_class = dict(zip(header[4:], oldest[4:], strict=True))
    assert by_class["duplicate"] == ["125"]  # the damage an earlier chart drew as 0
    assert by_class["misattributed"] == [DASH] and by_class["reordered"] == [DASH]
    assert dict(zip(header[4:], newest[4:], strict=True))["reordered"] == ["3"]
    assert '<td class="n bad">125</td>' in section
    assert '<td class="n bad">3</td>' in section  # a class a newer verifier adds is damage too
    assert 'fill="#b3121f" opacity="0.75"' in section  # the bar of records in violation


def test_unknown_is_shown_distinctly_and_everything_is_escaped(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    hostile = '<img src=x onerror=alert(1)>"&'
    nightly_run(runs, hostile, 0, True)
    nightly_run(runs, hostile, 1, "unknown")
    page = reports.render_index(runs).read_text("utf-8")
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;&#34;&amp;" in page
    section = _sections(page)[hostile]
    assert '<span class="vb unknown">UNKNOWN</span>' in section
    assert '<rect class="v-unknown"' in section and 'fill="#c25e00"' in section
    assert "PASS → UNKNOWN" in section
    tooltips = re.findall(r"<title>(.*?)</title>", section)
    assert len(tooltips) == 2 and "&lt;" not in "".join(tooltips)  # dates, not names
    assert all("<" not in t for t in tooltips)


def test_a_long_history_shows_its_newest_runs_and_says_how_many_are_left_out(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    for night in range(SHOWN_RUNS + 3):
        nightly_run(runs, "long", night, night % 7 != 3, write_ms=[10.0])
    page = reports.render_index(runs).read_text("utf-8")
    section = _sections(page)["long"]
    assert len(_rows(section)) == SHOWN_RUNS
    assert "3 older runs of long not shown here" in section
    assert section.count("<g><title>") == SHOWN_RUNS
    assert len(re.findall(r"<tr><td>", page)) == SHOWN_RUNS + 3  # the run list has them all


def test_the_cache_is_private_like_every_file_of_a_run(tmp_path: Path) -> None:
    run = nightly_run(tmp_path, "nightly", 0, True)
    previous = os.umask(0o022)
    try:
        assert history_figures(run) is not None
    finally:
        os.umask(previous)
    assert (run / CACHE_FILE).stat().st_mode & 0o777 == 0o600


def test_without_a_history_the_verdicts_count_of_acknowledged_writes_is_shown(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    run = nightly_run(runs, "trimmed", 0, True)
    (run / "history.jsonl").unlink()  # a run whose history was removed to save space
    write_verdict_json(run, True, counts={"acknowledged": 17}, evidence={"acknowledged_writes": 17})
    row = _rows(_sections(reports.render_index(runs).read_text("utf-8"))["trimmed"])[0]
    assert row[2:4] == [["17"], [DASH]]  # acknowledged writes; no history, so no p99
