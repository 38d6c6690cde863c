"""Suite files, the list of scenarios a suite runs, the outcome and exit-code rule, and the
suite's junit.xml and page drawn from outcomes: pure functions, no run."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
import xmlschema

from ackguard.harness.cli import _parser
from ackguard.harness.scenario import ScenarioError, catalogue
from ackguard.harness.suite import (
    Outcome,
    ScenarioOutcome,
    SuiteError,
    outcome_of,
    plan_from_options,
    plan_suite,
    suite_exit_code,
    summary_line,
)
from ackguard.harness.suite_file import SuiteEntry, collect_entries, parse_suite
from ackguard.harness.verifiers.result import Valid
from ackguard.reports.suite_junit import write_suite_junit
from ackguard.reports.suite_page import write_suite_page

SCHEMA = Path(__file__).parents[1] / "reports" / "junit.xsd"

GOOD = """\
name: nightly
suite:
  - scenario: async-commit-crash
    expect: FAIL
    duration: 30s
  - scenario: default
    seed: 7
  - scenario: mine/durable.yaml
    expect: unknown
"""


def test_a_suite_file_gives_its_entries_with_their_lines(tmp_path: Path) -> None:
    suite = parse_suite(GOOD, str(tmp_path / "nightly.yaml"))
    assert suite.name == "nightly"
    first, second, third = suite.entries
    assert first == SuiteEntry(
        "async-commit-crash", expect=False, duration=30.0, where=f"{tmp_path}/nightly.yaml:3"
    )
    assert (second.scenario, second.expect, second.seed, second.duration) == (
        "default",
        None,
        7,
        None,
    )
    assert third.scenario == str(tmp_path / "mine" / "durable.yaml")  # beside the suite file
    assert third.expect == "unknown"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("suite: []\n", "s.yaml:1: suite: must list at least one scenario"),
        ("name: x\n", "s.yaml:1: suite: is required"),
        ("suite:\n  - default\n", "s.yaml:2: suite[0]: must be a mapping"),
        ("suite:\n  - {expect: PASS}\n", "s.yaml:2: suite[0].scenario: is required"),
        (
            "suite:\n  - scenario: default\n    expect: maybe\n",
            "s.yaml:3: suite[0].expect: must be PASS, FAIL or UNKNOWN, got 'maybe'",
        ),
        (
            "suite:\n  - scenario: default\n  - scenario: default\n    duration: 0s\n",
            "s.yaml:4: suite[1].duration: must be between 1s and 7d, got '0s'",
        ),
        (
            "suite:\n  - {scenario: default, seed: -1}\n",
            "s.yaml:2: suite[0].seed: must be between 0 and",
        ),
        (
            "suite:\n  - {scenario: default, colour: red}\n",
            "s.yaml:2: suite[0].colour: unknown field (allowed here: scenario, expect, duration",
        ),
        ("sweet: []\n", "s.yaml:1: sweet: unknown field (allowed here: name, description, suite)"),
        ("suite: [\n", "s.yaml:2: not valid YAML"),
    ],
)
def test_a_bad_suite_file_names_file_line_and_field(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        parse_suite(text, "s.yaml")
    assert str(raised.value).startswith(message), str(raised.value)


def test_arguments_become_entries_in_order(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("b.yaml", "a.yaml", "notes.txt"):
        (folder / name).write_text("name: x\n", encoding="utf-8")
    (tmp_path / "nightly.yaml").write_text(GOOD, encoding="utf-8")
    name, entries = collect_entries(
        ["default", str(folder), str(tmp_path / "nightly.yaml")],
        catalogue_names=["partial-write"],
    )
    assert name == "nightly"
    assert [e.scenario for e in entries] == [
        "default",
        str(folder / "a.yaml"),
        str(folder / "b.yaml"),
        "async-commit-crash",
        "default",
        str(tmp_path / "mine" / "durable.yaml"),
        "partial-write",
    ]
    with pytest.raises(ScenarioError, match="no such file or folder"):
        collect_entries([str(tmp_path / "missing.yaml")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScenarioError, match=r"holds no \.yaml scenario"):
        collect_entries([str(tmp_path / "empty")])


def test_every_scenario_is_checked_before_any_runs(tmp_path: Path) -> None:
    entries = [
        SuiteEntry("default", duration=8.0, where="s.yaml:2"),  # its fault starts at 8 s
        SuiteEntry("no-such-scenario", where="s.yaml:3"),
        SuiteEntry("partial-write", duration=20.0),
    ]
    with pytest.raises(SuiteError) as raised:
        plan_suite(entries)
    lines = str(raised.value).splitlines()
    assert len(lines) == 2
    assert "scenarios/default.yaml:" in lines[0] and lines[0].endswith("(named at s.yaml:2)")
    assert "no such file or catalogue scenario" in lines[1] and "(named at s.yaml:3)" in lines[1]
    with pytest.raises(SuiteError, match="no scenario to run"):
        plan_suite([])


def test_expectations_and_overrides_in_the_plan() -> None:
    plan = plan_suite(
        [
            SuiteEntry("async-commit-crash"),  # the file expects FAIL
            SuiteEntry("async-commit-crash", expect=True, seed=3, duration=25.0),
        ],
        duration=30.0,
        seed=11,
    )
    assert [p.label for p in plan] == ["async-commit-crash", "async-commit-crash #2"]
    assert [p.expected for p in plan] == [False, True]
    assert [(p.scenario.duration, p.scenario.seed) for p in plan] == [(30.0, 11), (25.0, 3)]
    assert plan[1].command == "ackguard run async-commit-crash --duration 25s --seed 3"


def test_catalogue_option_plans_every_shipped_scenario_with_its_expectation() -> None:
    options = _parser().parse_args(["suite", "--catalogue", "--seed", "5"])
    name, plan = plan_from_options(options)
    assert name == "catalogue"
    assert [p.label for p in plan] == list(catalogue())  # all 11, in catalogue order
    assert all(p.scenario.seed == 5 for p in plan)
    assert {p.label: p.expected for p in plan}["async-commit-crash"] is False
    assert {p.label: p.expected for p in plan}["default"] is True
    with pytest.raises(SuiteError, match="--duration: not a duration"):
        plan_from_options(_parser().parse_args(["suite", "--catalogue", "--duration", "x"]))


def test_a_scenario_without_expectation_is_expected_to_pass(tmp_path: Path) -> None:
    text = catalogue()["default"].replace("expect: true", "")
    assert "\nexpect:" not in text
    (tmp_path / "plain.yaml").write_text(text, encoding="utf-8")
    (planned,) = plan_suite([SuiteEntry(str(tmp_path / "plain.yaml"))])
    assert planned.scenario.expect is None and planned.expected is True


@pytest.mark.parametrize(
    ("verdict", "expected", "status", "outcome"),
    [
        (True, True, "completed", "OK"),
        (False, False, "completed", "OK"),  # failed exactly as expected
        ("unknown", "unknown", "completed", "OK"),
        (False, True, "completed", "MISMATCH"),
        (True, False, "completed", "MISMATCH"),
        (True, "unknown", "completed", "MISMATCH"),
        ("unknown", True, "completed", "UNKNOWN"),
        ("unknown", False, "completed", "UNKNOWN"),
        (False, False, "interrupted", "UNKNOWN"),  # cut short: not an answer
        ("unknown", "unknown", "error", "UNKNOWN"),
        (None, True, "not run", "NOT RUN"),
    ],
)
def test_outcome_of_a_run(
    verdict: Valid | None, expected: Valid, status: str, outcome: str
) -> None:
    assert outcome_of(verdict, expected, status) == outcome


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [
        (["OK", "OK"], 0),
        (["OK", "MISMATCH"], 1),
        (["OK", "UNKNOWN"], 2),
        (["MISMATCH", "UNKNOWN"], 2),  # incomplete: exit 2 even though one differs
        (["MISMATCH", "NOT RUN"], 2),
        (["OK", "NOT RUN"], 2),
        ([], 2),
    ],
)
def test_exit_code_rule(outcomes: list[Outcome], code: int) -> None:
    assert suite_exit_code(outcomes) == code


def _outcome(
    label: str, verdict: Valid | None, expected: Valid, outcome: Outcome, **more: object
) -> ScenarioOutcome:
    counts = {"acknowledged": 120, "lost": 3, "misattributed": 1, "indeterminate": 2}
    ran = verdict is not None
    return ScenarioOutcome(
        label=label,
        scenario=label.split(" ")[0],
        expected=expected,
        verdict=verdict,
        outcome=outcome,
        status=str(more.get("status", "completed" if ran else "not run")),
        counts=counts if ran else {},
        reasons=tuple(str(r) for r in more.get("reasons", ())),  # type: ignore[attr-defined]
        run_dir=Path(f"/runs/2026-{label}") if ran else None,
        report=Path(f"/runs/2026-{label}/report.html") if ran else None,
        duration_s=12.5 if ran else 0.0,
        seed=7,
        command=f"ackguard run {label}",
    )


OUTCOMES = [
    _outcome("crash", False, False, "OK"),
    _outcome("durable", False, True, "MISMATCH"),
    _outcome("<b>net</b>", "unknown", True, "UNKNOWN", reasons=["fault toxic-0 never started"]),
    _outcome("later", None, True, "NOT RUN", reasons=["the suite was stopped before it"]),
]


def test_suite_junit_one_case_per_scenario_and_valid(tmp_path: Path) -> None:
    junit = write_suite_junit("nightly", OUTCOMES, tmp_path / "junit.xml")
    xmlschema.XMLSchema(str(SCHEMA)).validate(str(junit))
    root = ET.parse(junit).getroot()
    (suite,) = root.iter("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "2")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == ["crash", "durable", "<b>net</b>", "later"]
    # an expected FAIL passes, with its damage counts as the case's own properties
    assert [child.tag for child in cases["crash"]] == ["properties", "system-out"]
    own = {p.get("name"): p.get("value") for p in cases["crash"].iter("property")}
    assert own["count.lost"] == "3" and own["outcome"] == "OK"
    failure = cases["durable"].find("failure")
    assert failure is not None
    assert failure.get("message") == "expected PASS, got FAIL: 3 lost, 1 misattributed"
    error = cases["<b>net</b>"].find("error")
    assert error is not None and "fault toxic-0 never started" in (error.get("message") or "")
    not_run = cases["later"].find("error")
    assert not_run is not None and not_run.get("type") == "not-run"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["crash.count.lost"] == "3"
    assert properties["crash.count.acknowledged"] == "120"
    assert properties["crash.outcome"] == "OK" and properties["crash.expected"] == "FAIL"
    assert properties["crash.report"] == "/runs/2026-crash/report.html"
    assert properties["crash.run_dir"] == "/runs/2026-crash"


def test_suite_page_links_reports_and_escapes(tmp_path: Path) -> None:
    page_dir = tmp_path / "runs" / "suite-1"
    page_dir.mkdir(parents=True)
    run_dir = tmp_path / "runs" / "r1"
    crash = replace(OUTCOMES[0], run_dir=run_dir, report=run_dir / "report.html")
    local = [crash, *OUTCOMES[1:]]
    page = write_suite_page("night<ly>", local, page_dir / "suite.html").read_text("utf-8")
    assert 'href="../r1/report.html"' in page
    assert "<b>net</b>" not in page and "&lt;b&gt;net&lt;/b&gt;" in page
    assert "night&lt;ly&gt;" in page
    assert "1 OK, 1 MISMATCH, 1 UNKNOWN, 1 NOT RUN" in page and "exit code 2" in page
    assert page.count("<tr>") == 1 + len(local)


def test_summary_line_names_verdict_expectation_outcome_and_damage() -> None:
    line = summary_line(OUTCOMES[1], width=10)
    assert line.startswith("durable    FAIL    expected PASS    MISMATCH")
    assert "120 acknowledged records, 3 lost, 1 misattributed, 2 operations indeterminate" in line
    assert line.endswith("/runs/2026-durable/report.html")
    assert "not run" in summary_line(OUTCOMES[3])
