"""Every catalogue scenario ends with its expected verdict (shortened where a minute is not
needed): the whole catalogue in ONE ``ackguard suite`` run, whose junit.xml must pass; each
scenario's evidence and anomalies are then read from the run directory the suite wrote."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ackguard.harness.cohort_writes import consultation_times, writers_in_window
from ackguard.harness.faults.schedule import plan
from ackguard.harness.scenario import catalogue, load_scenario
from tests.integration.conftest import RunResult, ackguard

SUITE_TIMEOUT_S = 1500


@pytest.fixture(scope="module")
def catalogue_suite(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``ackguard suite`` over every shipped scenario at the durations of :data:`CASES`: its
    exit code, output, junit test cases and, per scenario, a RunResult of its run directory."""
    folder = tmp_path_factory.mktemp("catalogue")
    assert set(CASES) == set(catalogue()), "every catalogue scenario needs a duration here"
    entries = "".join(
        f"  - {{scenario: {name}, duration: {duration}}}\n" for name, (duration, _) in CASES.items()
    )
    (folder / "catalogue.yaml").write_text(f"name: catalogue\nsuite:\n{entries}", "utf-8")
    junit = folder / "junit.xml"
    done = ackguard(
        "suite", "catalogue.yaml", "--runs-dir", "runs", "--junit", str(junit),
        cwd=folder, timeout=SUITE_TIMEOUT_S,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert junit.exists(), output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None, output
    properties = {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}
    cases = {case.get("name", ""): case for case in suite.iter("testcase")}
    results: dict[str, RunResult] = {}
    for name in cases:
        run_dir = Path(properties.get(f"{name}.run_dir", folder / "missing"))
        verdict_file = run_dir / "verdict.json"
        if verdict_file.exists():
            verdict = json.loads(verdict_file.read_text(encoding="utf-8"))
            code = {True: 0, False: 1}.get(verdict["verdict"], 2)
            results[name] = RunResult(code, run_dir, output, verdict)
    return {"code": done.returncode, "output": output, "cases": cases, "results": results,
            "properties": properties, "stdout": done.stdout}  # fmt: skip


def kinds(result: RunResult) -> set[str]:
    return {a["kind"] for a in result.anomalies()}


def assert_evidence(result: RunResult) -> None:
    """The verdict rests on evidence: every planned fault window started and healed, enough
    writes were acknowledged, the final read and the history are whole."""
    evidence = result.verdict["evidence"]
    assert evidence["reasons"] == [], evidence["reasons"]
    assert evidence["run_status"] == "completed"
    faults = evidence["faults"]
    scenario = load_scenario(str(result.run_dir / "scenario.yaml"))
    if scenario.faults:
        assert faults["planned"] > 0
        assert faults["started"] == faults["healed"] == faults["planned"], faults
        assert faults["failed_to_start"] == faults["failed_to_heal"] == 0, faults
    assert evidence["acknowledged_writes"] >= max(evidence["min_acknowledged"], 50)
    assert evidence["final_read"]["present"] and evidence["final_read"]["complete"]
    assert evidence["history"]["end_marker"] and not evidence["history"]["damaged_lines"]


CASES: dict[str, tuple[str, int]] = {
    "async-commit-crash": ("30s", 1),
    "async-commit-crash-durable": ("30s", 0),
    "commit-ack-lost": ("20s", 0),
    "commit-ack-lost-retry": ("20s", 1),
    "commit-ack-lost-swallowed": ("20s", 1),
    "default": ("20s", 0),
    "incident-2023-lost-observations": ("42s", 1),
    "mariadb-flush-crash": ("20s", 1),
    "mariadb-flush-crash-durable": ("20s", 0),
    "network-chaos": ("40s", 0),
    "partial-write": ("20s", 1),
}


@pytest.mark.postgres
@pytest.mark.timeout(SUITE_TIMEOUT_S)
def test_the_catalogue_suite_passes_with_one_passing_case_per_scenario(
    catalogue_suite: dict[str, Any],
) -> None:
    assert catalogue_suite["code"] == 0, catalogue_suite["output"]
    cases = catalogue_suite["cases"]
    assert sorted(cases) == sorted(catalogue()), "one test case per catalogue scenario"
    properties = catalogue_suite["properties"]
    for name, case in cases.items():
        assert [child.tag for child in case] == ["properties", "system-out"], ET.tostring(case)
        assert properties[f"{name}.outcome"] == "OK"
        # an expected FAIL passes, with every record class of its verdict as a property of its
        # test case, and of the suite under the scenario's name
        counts = catalogue_suite["results"][name].counts
        own = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        assert {k: int(own[f"count.{k}"]) for k in counts} == counts
        assert {k: int(properties[f"{name}.count.{k}"]) for k in counts} == counts
        assert properties[f"{name}.report"].endswith("report.html")
    lines = [line for line in catalogue_suite["stdout"].splitlines() if " expected " in line]
    assert len(lines) == len(CASES) and all(" OK " in line for line in lines), lines


@pytest.mark.postgres
@pytest.mark.timeout(SUITE_TIMEOUT_S)
@pytest.mark.parametrize("name", sorted(set(CASES) - {"incident-2023-lost-observations"}))
def test_catalogue_scenario_ends_with_its_expected_verdict(
    name: str, catalogue_suite: dict[str, Any]
) -> None:
    _, code = CASES[name]
    result = catalogue_suite["results"].get(name)
    assert result is not None, catalogue_suite["output"]
    assert result.code == code, result.output
    assert result.verdict["matched"] is True
    assert_evidence(result)
    counts = result.counts
    if name == "async-commit-crash":  # no defect at all: the database lost acknowledged commits
        assert counts["lost"] + counts["corrupt"] > 0
        # A lost commit can take its sequence value with it: the id is handed out again.
        assert kinds(result) <= {"lost", "corrupt", "misattributed"}
    if name in ("commit-ack-lost", "network-chaos"):  # indeterminate, never lost
        assert counts["indeterminate"] > 0 and counts["lost"] == 0
    if name == "commit-ack-lost":  # indeterminate creates retried: one record per key
        retried = _keys_of(result.run_dir, "create", "info")
        assert retried and retried <= _keys_of(result.run_dir, "create", "ok")
        assert counts["duplicate"] == 0 and counts["intact"] == counts["acknowledged"]
    if name == "commit-ack-lost-retry":
        assert kinds(result) == {"duplicate"}
    if name == "commit-ack-lost-swallowed":  # creates and PATCHes answered 201/200, never stored
        assert counts["lost"] > 0
        # a swallowed create answered with the id it predicted, later given to another record
        assert kinds(result) <= {"lost", "corrupt", "misattributed"}
    if name == "partial-write":
        assert kinds(result) == {"corrupt"} and counts["lost"] == 0
    if name == "mariadb-flush-crash":  # lost commits' ids handed to new records after restart
        assert counts["lost"] + counts["corrupt"] > 0 and counts["misattributed"] > 0
        assert kinds(result) <= {"lost", "corrupt", "misattributed"}
        wrong = result.anomalies("misattributed")[0]
        assert wrong["patient_id"] and wrong["other_patient_id"]  # both patients named


def test_the_default_scenario_crashes_the_service_as_often_as_it_says() -> None:
    scenario = load_scenario("default")
    windows = plan(scenario.faults, scenario.seed, scenario.duration)
    assert len(windows) == 5 and "5 crashes" in scenario.description
    assert all(w.stop <= scenario.duration for w in windows)


@pytest.mark.postgres
@pytest.mark.timeout(SUITE_TIMEOUT_S)
def test_incident_finds_exactly_the_cohort_and_the_window(catalogue_suite: dict[str, Any]) -> None:
    result = catalogue_suite["results"].get("incident-2023-lost-observations")
    assert result is not None, catalogue_suite["output"]
    assert result.code == 1, result.output
    assert_evidence(result)
    assert kinds(result) == {"corrupt"}, "the consultations survive; only their notes are lost"
    run = result.json("run.json")
    cohort = run["cohorts"][0]
    members = set(cohort["practitioner_ids"])
    assert 0 < len(members) < 0.03 * run["practitioners"]
    sim_start = datetime.fromisoformat(run["sim_start"])
    window = [datetime.fromisoformat(cohort["practice_window"][end]) for end in ("from", "until")]
    # The scenario's window is 1h..19h of simulated practice time, not of wall-clock time.
    assert [(w - sim_start).total_seconds() / 3600 for w in window] == [1.0, 19.0]
    practice = consultation_times(result.run_dir / "history.jsonl")
    damaged = result.anomalies()
    assert {a["practitioner_id"] for a in damaged} <= members
    for anomaly in damaged:  # every damaged consultation took place inside the window
        assert window[0] <= practice[anomaly["key"]] < window[1]
    before = [key for key, moment in practice.items() if moment < window[0]]
    assert before, "the run has consultations before the window: they must stay intact"
    writers = writers_in_window(result.run_dir / "history.jsonl", members, window, practice)
    assert writers and writers == {a["practitioner_id"] for a in damaged}
    assert cohort["window"] is not None, "the report draws the window where its consultations were"


def _history(run_dir: Path) -> list[dict[str, Any]]:
    with (run_dir / "history.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def _keys_of(run_dir: Path, f: str, type_: str) -> set[str]:
    return {op["key"] for op in _history(run_dir) if op["f"] == f and op["type"] == type_}


def test_scenarios_lists_the_catalogue(tmp_path: Path) -> None:
    done = ackguard("scenarios", cwd=tmp_path)
    assert done.returncode == 0
    for name in [*CASES, "default", "incident-2023-lost-observations"]:
        assert name in done.stdout
    assert "expect FAIL" in done.stdout and "expect PASS" in done.stdout


@pytest.mark.parametrize(
    ("text", "located"),
    [
        ("kind: meteor", "bad.yaml:5: faults[0].kind: unknown fault kind 'meteor'"),
        ("kind: toxic\n    params: {proxy: service, type: teleport}", "faults[0].params.type"),
        (
            "kind: toxic\n    params: {proxy: service, type: bandwidth, attributes: {rate: 0}}",
            "faults[0].params.attributes.rate: must be > 0",
        ),
        (
            "kind: partition\n    params: {proxy: service}\n    schedule: {at: soon, duration: 1s}",
            "bad.yaml:7: faults[0].schedule.at: not a duration",
        ),
    ],
)
def test_a_bad_scenario_is_refused_before_anything_starts(
    text: str, located: str, tmp_path: Path
) -> None:
    body = "name: bad\nduration: 10s\npractitioners: 2\nfaults:\n  - " + text + "\n"
    if "schedule" not in text:
        body += "    schedule: {at: 1s, duration: 1s}\n"
    (tmp_path / "bad.yaml").write_text(body, encoding="utf-8")
    done = ackguard("run", "bad.yaml", "--runs-dir", "runs", cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert located in done.stderr
    assert not (tmp_path / "runs").exists(), "nothing may start for a bad scenario"
