"""The built wheel installs one import package, ``ackguard``: a project with its own ``reports``
and ``scenarios`` packages imports its own and ours side by side, and ackguard runs from there.

The wheel is built from this checkout and installed (without its dependencies) into a fresh
venv; the dependencies are borrowed from the test environment through a ``.pth`` line, which
adds that site-packages as a plain path: its editable ``ackguard`` finder is not activated.
"""

from __future__ import annotations

import json
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROJECT_TEST = """
import reports, scenarios
import ackguard.reports, ackguard.scenarios
from importlib import resources

def test_both_packages_are_there():
    assert reports.OWNER == "project" and scenarios.OWNER == "project"
    assert hasattr(ackguard.reports, "render_run")
    names = {e.name for e in resources.files("ackguard.scenarios").iterdir()}
    assert "default.yaml" in names
    assert "site-packages" in ackguard.reports.__file__
"""

SCENARIO = """name: from-the-wheel
seed: 5
duration: 4s
practitioners: 4
system:
  database:
    kind: sqlite
expect: true
"""


def _run(args: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel built from this checkout; returns its python."""
    work = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work),
                  str(ROOT)], cwd=work)  # fmt: skip
    assert built.returncode == 0, built.stderr
    wheel = next(work.glob("ackguard-*.whl"))
    venv = work / "venv"
    made = _run([getattr(sys, "_base_executable", sys.executable), "-m", "venv",
                 "--without-pip", str(venv)], cwd=work)  # fmt: skip
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   cwd=work).stdout.strip()  # fmt: skip
    (Path(purelib) / "borrowed-dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    done = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                 "--no-deps", str(wheel)], cwd=work)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return python


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's project with packages named like ours."""
    for name in ("reports", "scenarios"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text('OWNER = "project"\n')
    (tmp_path / "test_project.py").write_text(PROJECT_TEST)
    return tmp_path


def test_the_wheel_holds_one_top_level_package(installed: Path) -> None:
    code = (
        "import importlib.metadata as m; "
        "print(m.distribution('ackguard').read_text('top_level.txt'))"
    )
    done = _run([str(installed), "-c", code], cwd=installed.parent)
    assert done.stdout.split() == ["ackguard"], done.stdout + done.stderr


def test_a_project_with_its_own_reports_and_scenarios_uses_both(
    installed: Path, project: Path
) -> None:
    done = _run([str(installed), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "test_project.py"], cwd=project)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    listed = _run([str(installed), "-m", "ackguard", "scenarios"], cwd=project)
    assert listed.returncode == 0 and "async-commit-crash" in listed.stdout, listed.stderr


def test_ackguard_runs_from_the_wheel_next_to_the_project(installed: Path, project: Path) -> None:
    (project / "short.yaml").write_text(SCENARIO)
    done = _run([str(installed.parent / "ackguard"), "run", "short.yaml", "--runs-dir", "runs"],
                cwd=project)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = next((project / "runs").glob("*-from-the-wheel"))
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["verdict"] is True and verdict["counts"]["acknowledged"] > 0
    assert (run_dir / "report.html").exists()
