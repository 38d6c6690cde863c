"""The Chaos tab in a real headless Chromium: ``ackguard web`` on a service that acknowledges
writes before they are durable, killed 4 s into the load. The browser starts a swarm from
Locust's form, opens the Chaos tab, sees the fault become active and a live loss appear, fires the
fault once more from the tab, presses Locust's Stop, sees the verdict, is refused a new Start in
Locust's form, follows the link to report.html, and Ctrl-C ends the process.
Screenshots of every step are kept (under $ACKGUARD_TEST_ARTEFACTS if set)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import Popen
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from ackguard.harness.services.ports import free_port
from tests.integration.conftest import run_dirs

pytestmark = pytest.mark.browser

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCENARIO = """\
name: web-chaos
seed: 11
duration: 60s
practitioners: 20
users: 10
time_scale: 7200
system:
  defects:
    - name: ack_before_commit
      params: {flush_interval_ms: 3000}
faults:
  - kind: service-kill
    name: service-sigkill
    params: {signal: SIGKILL}
    schedule: {at: 4s, duration: 6s}
expect: false
"""
T = TypeVar("T")


def _wait(what: str, check: Callable[[], T | None], timeout: float, web: Popen[str]) -> T:
    """Poll ``check`` until it returns something; bounded, and failing fast if ackguard died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise AssertionError(f"ackguard web ended while waiting for {what}")
        try:
            found = check()
        except (WebDriverException, OSError):
            found = None
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")


@pytest.fixture
def artefacts(tmp_path: Path) -> Path:
    root = os.environ.get("ACKGUARD_TEST_ARTEFACTS")
    folder = Path(root) / "web-chaos" if root else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):  # an earlier run's shots would mix with this one's
        old.unlink()
    return folder


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebDriver]:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.fail("needs chromium and chromedriver: apt-get install chromium chromium-driver")
    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium's manager never goes online
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1500",
    ):
        options.add_argument(flag)
    # The driver is named explicitly: selenium never looks for (or downloads) one itself.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _text(driver: WebDriver, css: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def _click(driver: WebDriver, css: str) -> bool:
    """Press an enabled button (the panel redraws: a stale one is found again on the next try)."""
    button = driver.find_element(By.CSS_SELECTOR, css)
    if not button.is_enabled():
        return False
    button.click()
    return True


def _press(driver: WebDriver, label: str) -> bool:
    """Press the button showing ``label`` (Locust's own buttons have no ids)."""
    found = [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == label]
    if not found:
        return False
    found[0].click()
    return True


LOCUST_TABLE = "main .MuiTableContainer-root:not(.chaos-card)"
"""Locust's own table of the tab (the fault windows), not one of the panel's cards."""


def test_the_chaos_tab_follows_a_fault_a_live_loss_and_the_verdict(
    tmp_path: Path, browser: WebDriver, artefacts: Path
) -> None:
    scenario = tmp_path / "web-chaos.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    port = free_port()
    runs = tmp_path / "runs"
    log = (tmp_path / "web.log").open("w+", encoding="utf-8")
    web = subprocess.Popen(
        [sys.executable, "-m", "ackguard", "web", str(scenario), "--web-port", str(port),
         "--runs-dir", str(runs)],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    shots: list[Path] = []

    def shot(name: str) -> None:
        path = artefacts / f"{len(shots) + 1:02d}-{name}.png"
        browser.save_screenshot(str(path))
        shots.append(path)
        print(f"screenshot: {path}")

    base = f"http://127.0.0.1:{port}"
    try:
        _wait("the web UI", lambda: urllib.request.urlopen(base + "/", timeout=2), 90, web)
        browser.get(base + "/")
        form = _wait("Locust's form", lambda: browser.find_elements(By.NAME, "userCount"), 30, web)
        assert form[0].get_attribute("value") == "10", "the user count comes from the scenario"
        assert browser.find_element(By.NAME, "runTime").get_attribute("value") == "60"
        shot("form")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        tab = _wait("the Chaos tab", lambda: [
            t for t in browser.find_elements(By.CSS_SELECTOR, "[role=tab]") if t.text == "CHAOS"
        ], 30, web)  # fmt: skip
        tab[0].click()
        _wait("the panel", lambda: browser.find_elements(By.ID, "chaos-actions"), 15, web)
        shot("chaos-tab")
        _wait("the fault to be active", lambda: "(ACTIVE)" in _text(browser, "#chaos-actions")
              and "active" in _text(browser, LOCUST_TABLE), 30, web)  # fmt: skip
        shot("fault-active")
        _wait("a live loss", lambda: int(_text(browser, "#chaos-damage-count b") or 0) > 0, 60, web)
        assert "lost" in _text(browser, "#chaos-damage"), _text(browser, "#chaos-damage")
        shot("live-loss")

        _wait("the window to heal", lambda: "healed" in _text(browser, LOCUST_TABLE), 60, web)
        _wait(
            "the fire button",
            lambda: _click(browser, "button[data-fault=service-sigkill]"),
            30,
            web,
        )
        _wait("the fired window", lambda: "fired now" in _text(browser, LOCUST_TABLE), 30, web)
        shot("fired")

        _wait("Locust's Stop button", lambda: _press(browser, "STOP"), 15, web)
        label = _wait("the verdict", lambda: _text(browser, "#chaos-verdict-label"), 120, web)
        assert label == "FAIL", _text(browser, "#chaos-verdict")
        assert _text(browser, "#chaos-expected") == "expected FAIL (as expected)"
        windows = _text(browser, "#chaos-windows")  # Locust's table stops refreshing at the stop
        assert windows.count("healed") == 2 and "healing" not in windows, windows
        assert not browser.find_element(By.CSS_SELECTOR, LOCUST_TABLE).is_displayed()
        shot("verdict")
        _wait("Locust's New button", lambda: _press(browser, "NEW"), 15, web)
        _wait("the form", lambda: _click(browser, "form button[type=submit]"), 15, web)
        body = browser.find_element(By.TAG_NAME, "body")
        _wait("the refusal", lambda: "Start is refused" in body.text, 15, web)
        shot("start-refused")
        link = browser.find_element(By.ID, "chaos-report-link").get_attribute("href")
        assert link is not None and link.startswith(base + "/chaos/run/")
        browser.get(link)
        _wait("report.html", lambda: "ackguard" in browser.title.lower() or None, 30, web)
        shot("report")

        web.send_signal(signal.SIGINT)
        web.wait(60)
    finally:
        if web.poll() is None:
            web.kill()
            web.wait(10)
        log.seek(0)
        output = log.read()
        log.close()
        print(output)
    assert web.returncode == 1, output  # the verdict is FAIL, as the scenario expects
    run_dir = run_dirs(runs)[0]
    verdict = json.loads((run_dir / "verdict.json").read_text(encoding="utf-8"))
    assert verdict["verdict"] is False and verdict["counts"]["lost"] > 0
    assert "writes acknowledged" in output, "progress lines while the load runs"
    fired = [line for line in (run_dir / "history.jsonl").read_text().splitlines()
             if '"fired":true' in line]  # fmt: skip
    assert len(fired) >= 2, "the fired window's start is in the history"
    assert all(path.stat().st_size > 10_000 for path in shots)
