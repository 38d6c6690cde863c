"""junit.xml (valid against the JUnit schema), impact.csv rows, runs/index.html and the CLI."""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from ackguard import reports
from ackguard.reports.impact_csv import COLUMNS
from tests.reports.conftest import HOSTILE_NAME, Runs
from tests.reports.test_report_html import EXTERNAL

SCHEMA = Path(__file__).with_name("junit.xsd")


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA))


def _cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    return {case.get("name", ""): case for case in root.iter("testcase")}


def test_junit_failing_run(runs: Runs, schema: xmlschema.XMLSchema) -> None:
    junit = reports.render_run(runs.failing).junit
    schema.validate(str(junit))
    cases = _cases(junit)
    assert set(cases) == {"records", "read_your_writes", "expected verdict"}
    failure = cases["records"].find("failure")
    assert failure is not None
    assert failure.get("message") == "acknowledged records damaged: 2 lost, 1 corrupt"
    assert "lost: key=k-2 id=2 practitioner=2 patient=2" in (failure.text or "")
    assert "corrupt: key=k-3" in (failure.text or "") and "fields=exam_report" in (
        failure.text or ""
    )
    assert list(cases["expected verdict"]) == []  # FAIL was expected: the expectation passes
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "2", "0")


def test_junit_passing_and_cut_short(runs: Runs, schema: xmlschema.XMLSchema) -> None:
    passing = reports.render_run(runs.passing).junit
    schema.validate(str(passing))
    assert all(len(case) == 0 for case in _cases(passing).values())
    cut = reports.render_run(runs.cut_short).junit
    schema.validate(str(cut))
    cases = _cases(cut)
    error = cases["verdict"].find("error")
    assert error is not None and "cut short" in (error.get("message") or "")
    assert "missing: verdict.json" in (error.text or "")


def test_junit_unknown_verdict_is_an_error_and_mismatch_a_failure(
    tmp_path: Path, schema: xmlschema.XMLSchema
) -> None:
    from tests.reports.runbuilder import write_run_json, write_verdict_json

    write_run_json(tmp_path, expected=True)
    unknown: dict[str, object] = {
        "name": "records",
        "valid": "unknown",
        "extra": {"reason": "no final read"},
    }
    write_verdict_json(tmp_path, "unknown", results=[unknown], expected=True)  # no "reasons"
    junit = reports.render_run(tmp_path).junit
    schema.validate(str(junit))
    cases = _cases(junit)
    error = cases["records"].find("error")
    assert error is not None and "no final read" in (error.get("message") or "")
    mismatch = cases["expected verdict"].find("failure")
    assert (
        mismatch is not None and mismatch.get("message") == 'expected verdict true, got "unknown"'
    )
    verdict_case = cases["verdict"].find("error")  # the verdict itself is an error, with why
    assert verdict_case is not None
    assert verdict_case.get("message") == "UNKNOWN: records: no final read"
    assert "UNKNOWN: records: no final read" in (tmp_path / "report.html").read_text("utf-8")


def test_impact_csv_one_row_per_damaged_record(runs: Runs) -> None:
    path = reports.render_run(runs.failing).impact_csv
    with path.open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    by_key = {row["key"]: row for row in rows}
    assert sorted(by_key) == ["k-2", "k-3", "k-4"]
    lost = by_key["k-2"]
    assert lost["kind"] == "lost"
    assert (lost["practitioner_id"], lost["practitioner_rpps"], lost["practitioner_name"]) == (
        "2",
        "10000000002",
        HOSTILE_NAME,
    )
    assert (lost["patient_id"], lost["patient_name"], lost["patient_national_id"]) == (
        "2",
        "Patient 2",
        "180017500000002",
    )
    assert lost["consultation_id"] == "2" and lost["fields"] == "(whole record)"
    assert lost["ack_time_s"] == "1.600"
    assert lost["ack_wall_clock"] == "2026-11-29T04:00:01.600+00:00"
    assert lost["detection_time_s"] == "6.100"
    assert lost["faults_active"] == "proxy-latency"
    assert lost["verifiers"] == "records;read_your_writes"
    assert by_key["k-3"]["fields"] == "exam_report"
    assert by_key["k-3"]["faults_active"] == "proxy-latency;defect:lost_observations"
    assert by_key["k-4"]["faults_active"] == "defect:lost_observations"
    passing = reports.render_run(runs.passing).impact_csv
    assert passing.read_text(encoding="utf-8").splitlines() == [",".join(COLUMNS)]


def test_csv_neutralises_spreadsheet_formulas(tmp_path: Path) -> None:
    from ackguard.harness.verifiers.result import Anomaly, Result, Verdict, write_verdict
    from tests.reports.runbuilder import patient, practitioner, write_directory

    write_directory(tmp_path, [practitioner(1, '=HYPERLINK("x")')], [patient(1)])
    lost = Anomaly("lost", "k-1", "1", "1", "1", (), 1_000_000_000)
    write_verdict(tmp_path, Verdict(False, {"lost": 1}, (Result("records", False, {}, (lost,)),)))
    path = reports.render_run(tmp_path).impact_csv
    with path.open(encoding="utf-8", newline="") as source:
        row = next(csv.DictReader(source))
    assert row["practitioner_name"] == '\'=HYPERLINK("x")'


def test_index_lists_every_run_with_a_trend(runs: Runs) -> None:
    reports.render_run(runs.passing)
    reports.render_run(runs.failing)
    (runs.passing.parent / "not-a-run").mkdir()
    index = reports.render_index(runs.passing.parent)
    assert index == runs.passing.parent / "index.html"
    page = index.read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td>.*?</tr>", page, re.S)
    assert len(rows) == 3
    assert "killed" in rows[0] and "INTERRUPTED: the run was stopped" in rows[0]  # newest first
    assert "not rendered" in rows[0]
    assert "FAIL: 2 acknowledged records lost, 1 corrupt" in rows[1]
    assert '2 lost</b>, <b class="bad">1 corrupt' in rows[1]
    assert "20261129T050000-incident/report.html" in rows[1] and "as expected" in rows[1]
    assert "PASS: no acknowledged record was lost or damaged" in rows[2] and ">3<" in rows[2]
    assert "<td>none</td>" in rows[2]
    assert "not-a-run" not in page
    assert "<svg" in page and "operations per run" in page
    for pattern in EXTERNAL:
        assert not pattern.search(page), pattern.pattern


def test_cli_renders_and_writes_the_index(runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    assert reports.main([str(runs.failing), "--index"]) == 0
    out = capsys.readouterr().out
    assert f"report: {runs.failing / 'report.html'}" in out
    assert (runs.failing.parent / "index.html").exists()
    assert (runs.failing / "junit.xml").exists() and (runs.failing / "impact.csv").exists()


@pytest.mark.parametrize("kind", ["absent", "empty", "file"])
def test_cli_unreadable_run_dir_exits_2(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "run"
    if kind == "empty":
        target.mkdir()
    elif kind == "file":
        target.write_text("x", encoding="utf-8")
    assert reports.main([str(target)]) == 2
    err = capsys.readouterr().err
    assert f"cannot read the run directory {target}" in err
    assert not (target / "report.html").exists() if target.is_dir() else True


def test_public_api_is_exactly_all() -> None:
    public = {n for n in dir(reports) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(reports, n)).__name__ == "module"}
    assert public - modules - {"annotations", "importlib", "TYPE_CHECKING", "Any"} == set(
        reports.__all__
    )
    for name in reports.__all__:
        assert getattr(reports, name) is not None
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = reports.no_such_name  # type: ignore[attr-defined]
    assert {"render_run", "render_index", "main", "RenderedRun"} <= set(reports.__all__)
