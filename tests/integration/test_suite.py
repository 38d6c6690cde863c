"""``ackguard suite`` through the real command line: a flipped expectation exits 1, Ctrl-C stops
the suite with exit 2 (the current run unknown, the rest not run), a bad suite file runs nothing.
Each runs the default scenario for a few seconds; the catalogue's own suite is in
test_catalogue.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from tests.integration.conftest import ackguard

SCHEMA = Path(__file__).parents[1] / "reports" / "junit.xsd"
SHORT = "12s"  # the default scenario's first crash is at 8 s


def _cases(junit: Path) -> dict[str, ET.Element]:
    xmlschema.XMLSchema(str(SCHEMA)).validate(str(junit))
    return {c.get("name", ""): c for c in ET.parse(junit).getroot().iter("testcase")}


def test_a_flipped_expectation_is_a_mismatch_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "flipped.yaml").write_text(
        f"suite:\n  - scenario: default\n    expect: FAIL\n    duration: {SHORT}\n", "utf-8"
    )
    done = ackguard("suite", "flipped.yaml", "--runs-dir", "runs", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("default")]
    assert "PASS    expected FAIL    MISMATCH" in line and "no damage" in line
    assert line.endswith("report.html") and Path(line.split()[-1]).is_file()
    (suite_dir,) = (tmp_path / "runs").glob("suite-*")
    failure = _cases(suite_dir / "junit.xml")["default"].find("failure")
    assert failure is not None
    assert (failure.get("message") or "").startswith("expected FAIL, got PASS")
    page = (suite_dir / "suite.html").read_text("utf-8")
    assert "MISMATCH" in page and 'href="../' in page and "/report.html" in page
    assert (tmp_path / "runs" / "index.html").is_file()


def test_ctrl_c_stops_the_suite_unknown_then_not_run(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "ackguard", "suite", "default", "default"]
    junit = tmp_path / "junit.xml"
    options = ["--duration", "30s", "--runs-dir", "runs", "--junit", str(junit)]
    with subprocess.Popen(
        [*command, *options],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as suite:
        assert suite.stderr is not None
        deadline = time.monotonic() + 90
        for line in suite.stderr:  # wait until the first run's load has started
            if line.startswith("load:") or time.monotonic() > deadline:
                break
        time.sleep(2)
        os.kill(suite.pid, signal.SIGINT)
        out, err = suite.communicate(timeout=120)
    assert suite.returncode == 2, out + err
    first, second = (line for line in out.splitlines() if line.startswith("default"))
    assert "expected PASS    UNKNOWN" in first
    assert "NOT RUN" in second and "not run" in second
    assert "0 OK, 0 MISMATCH, 1 UNKNOWN, 1 NOT RUN (stopped); exit 2" in out
    cases = _cases(junit)
    unknown = cases["default"].find("error")
    assert unknown is not None and "interrupted" in (unknown.get("message") or "")
    not_run = cases["default #2"].find("error")
    assert not_run is not None and not_run.get("type") == "not-run"
    assert len([p for p in (tmp_path / "runs").iterdir() if p.is_dir()]) == 1


@pytest.mark.parametrize(
    ("suite", "message"),
    [
        ("suite:\n  - scenario: default\n    expect: sometimes\n", "s.yaml:3: suite[0].expect:"),
        ("suite:\n  - scenario: default\n  - scenario: nowhere\n", "no such file or catalogue"),
        ("suite:\n  - {scenario: default, duration: 8s}\n", "scenarios/default.yaml:"),
    ],
)
def test_a_bad_suite_runs_nothing(tmp_path: Path, suite: str, message: str) -> None:
    (tmp_path / "s.yaml").write_text(suite, "utf-8")
    done = ackguard("suite", "s.yaml", "--runs-dir", "runs", cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists(), "nothing may start for a bad suite"


def test_nothing_to_run_and_a_bad_duration_are_refused(tmp_path: Path) -> None:
    done = ackguard("suite", "--runs-dir", "runs", cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and "no scenario to run" in done.stderr
    done = ackguard("suite", "--catalogue", "--duration", "soon", cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and "--duration: not a duration" in done.stderr
    assert not (tmp_path / "runs").exists()
