"""report.html in a real headless Chromium: its script runs without errors, the page draws."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ackguard import reports
from tests.reports.conftest import Runs

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
