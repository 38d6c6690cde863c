"""The pytest plugin as a user meets it: a real pytest in its own process (``pytester``), loading
the plugin through its entry point, running real scenarios (six short runs in this module)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ackguard.harness.pytest_plugin_runs import read_outcome
from ackguard.harness.verifiers.result import Result, Verdict, write_verdict

pytest_plugins = ["pytester"]

# The shape of scenarios/default.yaml, small: 4 practitioners, 5 s, one service SIGKILL.
TINY = """\
name: tiny
description: a few practitioners write while the service is killed once
seed: 3
duration: 5s
practitioners: 4
time_scale: 3600
system:
  database:
    kind: sqlite
faults:
  - kind: service-kill
    name: service-sigkill
    params:
      signal: SIGKILL
    schedule:
      at: 2s
      duration: 1s
expect: true
"""
SUBPROCESS_TIMEOUT_S = 240.0


def _pytest(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in its own process; warnings are errors there too (the plugin must add none)."""
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "error", *args, timeout=SUBPROCESS_TIMEOUT_S
    )


def _summary_reports(result: pytest.RunResult) -> list[Path]:
    """The report paths the terminal summary's ``ackguard runs`` section lists."""
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "ackguard runs" in line)
    found = []
    for line in lines[start + 1 :]:
        if line.startswith("="):
            break  # the next section
        if "report: " in line:
            found.append(Path(line.split("report: ", 1)[1].strip()))
    return found


def test_the_fixture_returns_the_verdict_counts_and_report(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("tiny.yaml").write_text(TINY, encoding="utf-8")
    pytester.makepyfile(
        test_user="""
        import json
        import sys

        def test_tiny_survives(ackguard_run):
            outcome = ackguard_run("tiny.yaml", duration="5s", seed=7)
            assert outcome.verdict is True, outcome.describe()
            assert outcome.exit_code == 0
            assert outcome.counts["acknowledged"] > 0
            assert outcome.damage == {} and outcome.reasons == ()
            assert outcome.expected is True
            assert outcome.report.name == "report.html" and outcome.report.is_file()
            assert (outcome.run_dir / "verdict.json").is_file()
            run = json.loads((outcome.run_dir / "run.json").read_text())
            assert run["seed"] == 7 and run["load_duration_s"] == 5.0
            assert "verdict: PASS" in outcome.output
            loaded = {name.split(".")[0] for name in sys.modules}
            assert not loaded & {"locust", "gevent"}, "the run stayed in its own process"
        """
    )
    result = _pytest(pytester, "--ackguard-runs-dir", "nightly")
    result.assert_outcomes(passed=1)
    reports = _summary_reports(result)
    assert len(reports) == 1
    assert reports[0].is_file()
    assert reports[0].parent.parent == pytester.path / "nightly"
    result.stdout.fnmatch_lines(["PASS    tiny  report: *report.html"])


def test_scenario_files_are_items_judged_by_their_expectation(pytester: pytest.Pytester) -> None:
    folder = pytester.mkdir("scenarios")
    folder.joinpath("tiny.yaml").write_text(TINY, encoding="utf-8")
    flipped = TINY.replace("name: tiny", "name: tiny-flipped")
    flipped = flipped.replace("expect: true", "expect: false")
    folder.joinpath("flipped.yaml").write_text(flipped, encoding="utf-8")
    result = _pytest(
        pytester, "--ackguard", "scenarios", "--ackguard-duration", "4s", "--ackguard-runs-dir", "r"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*scenario tiny-flipped: expected FAIL, got PASS*",
            "damaged records: none",
            "report: *tiny-flipped*report.html",
            "FAILED scenarios/flipped.yaml::tiny-flipped*",
        ]
    )
    reports = _summary_reports(result)
    assert sorted(p.parent.name.split("-", 1)[1] for p in reports) == ["tiny", "tiny-flipped"]
    for report in reports:
        assert report.is_file()
        run = json.loads((report.parent / "run.json").read_text(encoding="utf-8"))
        assert run["load_duration_s"] == 4.0  # --ackguard-duration reached every run
    assert "(expected FAIL: NOT met)" in result.stdout.str()


def test_the_marker_runs_the_body_while_the_load_runs(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("tiny.yaml").write_text(TINY, encoding="utf-8")
    pytester.makepyfile(
        test_marked="""
        import json
        import time
        import urllib.request
        from pathlib import Path

        import pytest

        def _lines(path):
            return len(path.read_bytes().splitlines())

        @pytest.mark.ackguard("tiny.yaml", duration="8s")
        def test_body_meets_the_service(ackguard_system):
            run = json.loads((ackguard_system.run_dir / "run.json").read_text())
            assert run["status"] == "running" and run["load_started_at"]
            history = ackguard_system.run_dir / "history.jsonl"
            before = _lines(history)
            answer = None
            # Within the load (the service may be down for its SIGKILL window: retry).
            deadline = ackguard_system.load_ends_at.timestamp() - 2.5
            while answer is None and time.time() < deadline:
                try:
                    with urllib.request.urlopen(ackguard_system.url + "/health", timeout=2) as a:
                        answer = (a.status, a.read())
                except OSError:
                    time.sleep(0.1)
            assert answer is not None and answer[0] == 200
            while _lines(history) == before and time.time() < deadline:
                time.sleep(0.1)
            assert _lines(history) > before, "the practitioners wrote while the body ran"
            Path("answered.json").write_text(json.dumps([ackguard_system.url, answer[0]]))

        @pytest.mark.ackguard("tiny.yaml", duration="5s", expect="FAIL")
        def test_expecting_a_failure():
            pass

        @pytest.mark.ackguard("tiny.yaml", duration="3s")
        def test_outlasting_the_load(ackguard_system):
            late = ackguard_system.load_ends_at.timestamp() + 0.5 - time.time()
            time.sleep(max(0.0, min(late, 10.0)))
        """
    )
    result = _pytest(pytester, "--ackguard-runs-dir", "runs")
    result.assert_outcomes(passed=1, failed=2)
    url, status = json.loads((pytester.path / "answered.json").read_text(encoding="utf-8"))
    assert url.startswith("http://127.0.0.1:") and status == 200
    result.stdout.fnmatch_lines(
        [
            "*scenario tiny: expected FAIL, got PASS*",
            "FAILED test_marked.py::test_expecting_a_failure*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*the test body outlasted the load of tiny by *s: it did not run under the scenario*"]
    )
    result.stdout.fnmatch_lines(
        [
            "PASS    test_marked.py::test_body_meets_the_service (expected PASS)  report: *",
            "PASS    test_marked.py::test_expecting_a_failure (expected FAIL: NOT met)  report: *",
        ]
    )
    runs = sorted((pytester.path / "runs").glob("*-tiny*/run.json"))
    assert len(runs) == 3
    for path in runs:
        run = json.loads(path.read_text(encoding="utf-8"))
        assert run["status"] == "completed" and run["service_url"].startswith("http://")


def test_a_yaml_that_is_not_a_scenario_is_a_collection_error(pytester: pytest.Pytester) -> None:
    folder = pytester.mkdir("scenarios")
    folder.joinpath("bad-duration.yaml").write_text(
        "name: bad\nduration: forever\n", encoding="utf-8"
    )
    folder.joinpath("broken.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    folder.joinpath("list.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    result = _pytest(pytester, "--ackguard", "scenarios")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection errors stop the session
    result.assert_outcomes(errors=3)
    text = result.stdout.str()
    assert "bad-duration.yaml:2: duration: not a duration: 'forever'" in text
    assert "broken.yaml:2: not valid YAML" in text
    assert "list.yaml:1: must be a mapping, got a list" in text
    assert "Traceback" not in text and "ackguard runs" not in text
    assert not (pytester.path / "runs").exists()


def test_without_the_option_the_plugin_changes_nothing(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("tiny.yaml").write_text(TINY, encoding="utf-8")
    pytester.path.joinpath("bad.yaml").write_text("- not a scenario\n", encoding="utf-8")
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_plain():
            loaded = {name.split(".")[0] for name in sys.modules}
            assert not loaded & {"locust", "gevent"}
        """
    )
    result = _pytest(pytester)
    result.assert_outcomes(passed=1)
    assert "ackguard runs" not in result.stdout.str()
    assert "warning" not in result.stdout.str().lower()


def test_marker_mistakes_fail_the_test_before_any_run(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("tiny.yaml").write_text(TINY, encoding="utf-8")
    pytester.makepyfile(
        test_mistakes="""
        import pytest

        @pytest.mark.ackguard("tiny.yaml", expect="maybe")
        def test_bad_expectation():
            pass

        @pytest.mark.ackguard("no-such-scenario")
        def test_unknown_scenario():
            pass

        @pytest.mark.ackguard("tiny.yaml", duration="forever")
        def test_bad_duration():
            pass

        def test_system_without_marker(ackguard_system):
            pass
        """
    )
    result = _pytest(pytester, "--ackguard-runs-dir", "runs")
    result.assert_outcomes(failed=3, errors=1)
    result.stdout.fnmatch_lines_random(
        [
            "*expect must be True, False, 'unknown', PASS, FAIL or UNKNOWN, got 'maybe'*",
            "*no-such-scenario*no such file or catalogue scenario*",
            "*not a duration: 'forever'*",
            "*ackguard_system needs the test marked @pytest.mark.ackguard(scenario)*",
        ]
    )
    assert not list((pytester.path / "runs").glob("*/run.json"))


def test_importing_the_plugin_imports_neither_locust_nor_gevent() -> None:
    probe = (
        "import sys, socket\n"
        "import ackguard.harness.pytest_plugin\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'locust', 'gevent'})\n"
        "print(loaded, socket.socket.__module__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["[]", "socket"]


def test_a_run_without_a_verdict_is_unknown_and_says_why(tmp_path: Path) -> None:
    outcome = read_outcome("tiny", tmp_path, 2, "ackguard: harness error: boom\n")
    assert outcome.verdict == "unknown"
    said = ("no verdict.json: ackguard exited 2", "ackguard: harness error: boom")
    assert outcome.reasons == said
    assert outcome.report is None
    assert "ackguard: harness error: boom" in outcome.describe()


def test_the_verdict_is_read_as_the_harness_wrote_it(tmp_path: Path) -> None:
    written = Verdict(
        False,
        {"lost": 1, "intact": 9},
        (Result("records", False, {"lost": 1}),),
        expected=False,
        reasons=("fault service-sigkill ran",),
    )
    write_verdict(tmp_path, written)
    outcome = read_outcome("tiny", tmp_path, 1, "")
    assert (outcome.verdict, outcome.expected) == (False, False)
    assert outcome.counts == {"lost": 1, "intact": 9}
    assert outcome.reasons == ("fault service-sigkill ran",)


def test_early_and_unreadable_verdict_files(tmp_path: Path) -> None:
    path = tmp_path / "verdict.json"
    early = {"verdict": "unknown", "counts": {}, "evidence": {"reasons": ["no final read"]}}
    path.write_text(json.dumps(early), encoding="utf-8")
    outcome = read_outcome("tiny", tmp_path, 0, "")
    assert (outcome.verdict, outcome.reasons) == ("unknown", ("no final read",))
    path.write_text('{"counts": {}}', encoding="utf-8")
    outcome = read_outcome("tiny", tmp_path, 3, "")
    assert outcome.verdict == "unknown"
    assert outcome.reasons == (
        "verdict.json could not be read (KeyError: 'verdict'): ackguard exited 3",
    )


def test_a_bad_duration_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = _pytest(pytester, "--ackguard", "--ackguard-duration", "soon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ackguard-duration: not a duration: 'soon'*"])
