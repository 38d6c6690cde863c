"""report.html in a real headless Chromium: its script runs without errors, the page draws."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ackguard import reports
from tests.reports.conftest import Runs
from tests.reports.runbuilder import nightly_run

pytestmark = pytest.mark.browser

BROWSER_TIMEOUT_S = 90
WINDOW = (1280, 900)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "chromium is not installed: install it with `apt-get install -y chromium` (CI does)"
        )
    return found


def _run(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *extra,
        page.resolve().as_uri(),
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S, check=False
    )


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.parametrize("which", ["failing", "cut_short"])
def test_report_script_runs_without_errors(runs: Runs, tmp_path: Path, which: str) -> None:
    html = reports.render_run(getattr(runs, which)).html
    result = _run(html, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'data-script="ok"' in result.stdout, "the page's script did not finish"
    assert "Uncaught" not in result.stderr, result.stderr[-2000:]
    assert 'id="verdict"' in result.stdout


def test_index_script_runs_without_errors(runs: Runs, tmp_path: Path) -> None:
    reports.render_run(runs.failing)
    index = reports.render_index(runs.failing.parent)
    result = _run(index, tmp_path / "profile", "--dump-dom")
    assert 'data-script="ok"' in result.stdout, result.stderr[-2000:]
    assert "Uncaught" not in result.stderr


def test_screenshot_of_the_failing_run(runs: Runs, tmp_path: Path) -> None:
    html = reports.render_run(runs.failing).html
    shot = runs.failing / "report.png"
    result = _run(html, tmp_path / "profile", f"--screenshot={shot}", "--hide-scrollbars")
    assert shot.exists(), result.stderr[-2000:]
    assert _png_size(shot) == WINDOW
    assert shot.stat().st_size > 20_000, "the screenshot is nearly blank"


def test_screenshot_of_the_runs_index_with_trends(tmp_path: Path) -> None:
    """Nights of two scenarios, one whose verdict turns from PASS to FAIL with 125 duplicates:
    the trend tables, the change badge and the strips are in the DOM Chromium built, and the
    screenshot is kept (under $ACKGUARD_TEST_ARTEFACTS when set) for a person to look at."""
    runs = tmp_path / "runs"
    for night in range(5):
        failing = night == 3
        counts = {"acknowledged": 40 + 125 * failing, "intact": 40, "duplicate": 125 * failing}
        write_ms = [8.0 + night, 12.0, 30.0 + 40 * failing, 90.0 + 200 * failing]
        nightly_run(runs, "nightly-crash", night, not failing, counts=counts, write_ms=write_ms)
    nightly_run(runs, "baseline", 2, True, counts={"acknowledged": 4, "intact": 4})
    nightly_run(runs, "baseline", 4, "unknown", counts={"acknowledged": 0})
    index = reports.render_index(runs)
    result = _run(index, tmp_path / "profile", "--dump-dom")
    assert 'data-script="ok"' in result.stdout, result.stderr[-2000:]
    dom = result.stdout
    assert dom.count('<section class="trend"') == 2
    assert '<table class="trend">' in dom and "Trends per scenario" in dom
    assert '<span class="change">PASS → FAIL</span>' in dom
    assert '<span class="change">FAIL → PASS</span>' in dom
    assert '<span class="change">PASS → UNKNOWN</span>' in dom
    assert '<td class="n bad">125</td>' in dom
    assert dom.count('<svg class="spark"') == 2
    folder = Path(os.environ.get("ACKGUARD_TEST_ARTEFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "runs-index-trends.png"
    shot.unlink(missing_ok=True)
    size = (WINDOW[0], 1500)
    result = _run(
        index,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--hide-scrollbars",
        f"--window-size={size[0]},{size[1]}",
    )
    assert shot.exists(), result.stderr[-2000:]
    print(f"screenshot of the runs index with trends: {shot}")
    assert _png_size(shot) == size
    assert shot.stat().st_size > 40_000, "the screenshot is nearly blank"
