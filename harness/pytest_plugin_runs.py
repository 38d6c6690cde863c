"""Scenario runs for the pytest plugin: ``ackguard run`` as a child process, and what its run
directory says once it ends (:class:`ScenarioOutcome`) or while its load runs
(:class:`RunningSystem`).

The run is a subprocess on purpose: the harness imports Locust, which patches the standard
library with gevent, and a user's test process must stay as it was. This module imports only the
standard library and :mod:`harness.run_files` (msgspec: run.json as the harness writes it); the
scenario is parsed (to refuse a bad one before anything starts) with :mod:`harness.scenario`,
which does not import Locust either.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, TypeAlias

from ackguard.harness.run_files import RunFile, RunFileError, read_file
from ackguard.harness.verifiers.result import Verdict, load_verdict

__all__ = [
    "DAMAGE",
    "RunStartError",
    "RunningSystem",
    "ScenarioOutcome",
    "ScenarioProcess",
    "Valid",
    "duration_arg",
    "expectation",
    "read_outcome",
    "verdict_word",
]

Valid: TypeAlias = bool | Literal["unknown"]

DAMAGE = ("lost", "corrupt", "duplicate", "phantom", "misattributed", "unexpected")
"""The record classes that make a verdict false, in the order the summary names them."""

SETUP_MARGIN_S = 600.0
"""Beyond the load's duration, how long a run may take to start its system, heal, read back,
verify and draw its report before the plugin interrupts it."""
STOP_GRACE_S = 120.0
"""After an interruption (SIGINT), how long the harness gets to heal and verify before SIGKILL."""
POLL_S = 0.1
OUTPUT_TAIL_LINES = 15


def verdict_word(valid: object) -> str:
    """``PASS``, ``FAIL`` or ``UNKNOWN``."""
    if valid is True:
        return "PASS"
    if valid is False:
        return "FAIL"
    return "UNKNOWN"


def expectation(value: object) -> Valid:
    """An expected verdict as written in a marker: True/False/"unknown" (as in a scenario's
    ``expect``) or the words PASS, FAIL, UNKNOWN in any case."""
    if value is True or value is False:
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        found: dict[str, Valid] = {"pass": True, "fail": False, "unknown": "unknown"}
        if word in found:
            return found[word]
    raise ValueError(f"expect must be True, False, 'unknown', PASS, FAIL or UNKNOWN, got {value!r}")


@dataclass(frozen=True, slots=True)
class ScenarioOutcome:
    """One finished ``ackguard run``: its verdict (``True`` PASS, ``False`` FAIL, ``"unknown"``),
    the counts per record class, the verdict's reasons, where the run and its report are, the
    command's exit code (0 PASS, 1 FAIL, 2 unknown or harness error) and everything it printed."""

    scenario: str
    verdict: Valid
    counts: Mapping[str, int]
    reasons: tuple[str, ...]
    run_dir: Path | None
    report: Path | None
    exit_code: int
    output: str
    expected: Valid | None = None
    """The scenario file's own ``expect`` (None when it has none)."""

    @property
    def damage(self) -> dict[str, int]:
        """The damaged records per class, only the classes with any."""
        return {kind: self.counts[kind] for kind in DAMAGE if self.counts.get(kind, 0)}

    def describe(self) -> str:
        """The verdict, the damage, the reasons and where to look, in a few lines."""
        damage = ", ".join(f"{n} {kind}" for kind, n in self.damage.items()) or "none"
        lines = [f"verdict: {verdict_word(self.verdict)} (ackguard exited {self.exit_code})"]
        lines.append(f"damaged records: {damage}")
        lines += [f"reason: {reason}" for reason in self.reasons]
        if self.report is not None:
            lines.append(f"report: {self.report}")
        if self.run_dir is not None:
            lines.append(f"run directory: {self.run_dir}")
        if self.verdict == "unknown" or self.run_dir is None:
            tail = self.output.strip().splitlines()[-OUTPUT_TAIL_LINES:]
            lines += ["ackguard's last lines:", *(f"  {line}" for line in tail)]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class RunningSystem:
    """The system of a run whose load is running: ``url`` is the service as the practitioners
    reach it (through the fault proxy when the scenario routes the service there)."""

    url: str
    run_dir: Path
    scenario: str
    load_started_at: datetime
    load_duration_s: float

    @property
    def load_ends_at(self) -> datetime:
        return self.load_started_at + timedelta(seconds=self.load_duration_s)


class RunStartError(RuntimeError):
    """The run ended, or never reached its load, before a test could use its system."""


class ScenarioProcess:
    """``python -m ackguard run SCENARIO --runs-dir RUNS_DIR`` started in the background. Its run
    directory is the new one whose run.json names this process as its harness. ``timeout_s``
    bounds the whole run: past it the run is interrupted."""

    def __init__(
        self,
        scenario: str,
        runs_dir: Path,
        *,
        duration: str | None = None,
        seed: int | None = None,
        timeout_s: float = 3600.0,
    ) -> None:
        self.scenario = scenario
        self.runs_dir = runs_dir
        self.duration = duration
        self.seed = seed
        self._run_dir: Path | None = None
        self._outcome: ScenarioOutcome | None = None
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self._before = {entry.name for entry in self.runs_dir.iterdir()}
        command = [sys.executable, "-m", "ackguard", "run", self.scenario]
        command += ["--runs-dir", str(self.runs_dir)]
        if self.duration is not None:
            command += ["--duration", self.duration]
        if self.seed is not None:
            command += ["--seed", str(self.seed)]
        # A file, not a pipe: nobody has to drain it while the test body runs. It lives as long
        # as the run, so no context manager; _read closes it.
        self._output = tempfile.TemporaryFile()  # noqa: SIM115
        self.process: subprocess.Popen[bytes] = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._output, stderr=subprocess.STDOUT
        )
        self._deadline = time.monotonic() + timeout_s

    @property
    def finished(self) -> bool:
        return self._outcome is not None

    def run_dir(self) -> Path | None:
        """This run's directory, once the harness has written its run.json."""
        if self._run_dir is None:
            for entry in sorted(self.runs_dir.iterdir()):
                if entry.name in self._before or not entry.is_dir():
                    continue
                found = _run_file(entry)
                if found is not None and found.harness_pid == self.process.pid:
                    self._run_dir = entry
                    break
        return self._run_dir

    def wait_for_load(self, timeout_s: float) -> RunningSystem:
        """Block (at most ``timeout_s``) until run.json says the load started; its system."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run_dir = self.run_dir()
            data = _run_file(run_dir) if run_dir is not None else None
            started = _aware(data.load_started_at) if data is not None else None
            if run_dir is not None and data is not None and started is not None:
                url = data.service_url
                if not url:
                    raise RunStartError(f"{run_dir}/run.json names no service_url")
                return RunningSystem(
                    url=url,
                    run_dir=run_dir,
                    scenario=data.scenario or self.scenario,
                    load_started_at=started,
                    load_duration_s=data.load_duration_s or 0.0,
                )
            if self.process.poll() is not None:
                raise RunStartError(
                    f"ackguard run {self.scenario} ended before its load started:\n"
                    + self.finish().describe()
                )
            time.sleep(POLL_S)
        self.stop()
        raise RunStartError(f"the load of {self.scenario} did not start within {timeout_s:g}s")

    def finish(self) -> ScenarioOutcome:
        """Wait for the run to end (interrupting it past its deadline); its outcome."""
        if self._outcome is None:
            try:
                code = self.process.wait(timeout=max(0.0, self._deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                code = self._interrupt()
            self._outcome = self._read(code)
        return self._outcome

    def stop(self) -> ScenarioOutcome:
        """End the run now: SIGINT (the harness heals, reads back and verifies what ran)."""
        if self._outcome is None and self.process.poll() is None:
            self._deadline = time.monotonic()
        return self.finish()

    def _interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def _read(self, code: int) -> ScenarioOutcome:
        self._output.seek(0)
        output = self._output.read().decode("utf-8", errors="replace")
        self._output.close()
        run_dir = self.run_dir()
        return read_outcome(self.scenario, run_dir, code, output)


def read_outcome(scenario: str, run_dir: Path | None, code: int, output: str) -> ScenarioOutcome:
    """What ``run_dir`` (None: the run made none) says of the run, with the command's exit code
    and output. Without a verdict.json the verdict is unknown, and the reason says why."""
    read: Verdict | None = None
    unreadable = ""
    if run_dir is not None:
        try:
            read = load_verdict(run_dir)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            unreadable = f"verdict.json could not be read ({type(exc).__name__}: {exc})"
    found = None if read is None else _valid(read.valid)  # not a verdict: unknown
    verdict: Valid = "unknown" if found is None else found
    if read is None:
        said = [line for line in output.splitlines() if line.startswith("ackguard:")]
        reasons = (f"{unreadable or 'no verdict.json'}: ackguard exited {code}", *said)
    else:
        reasons = read.reasons
    report = run_dir / "report.html" if run_dir is not None else None
    run = _run_file(run_dir) if run_dir is not None else None
    named = run.scenario if run is not None else None
    return ScenarioOutcome(
        scenario=named if isinstance(named, str) else scenario,
        verdict=verdict,
        counts={} if read is None else {k: v for k, v in read.counts.items() if type(v) is int},
        reasons=reasons,
        run_dir=run_dir,
        report=report if report is not None and report.exists() else None,
        exit_code=code,
        output=output,
        expected=None if read is None else _valid(read.expected),
    )


def _valid(value: object) -> Valid | None:
    if value is True or value is False:
        return value
    return "unknown" if value == "unknown" else None


def _run_file(run_dir: Path) -> RunFile | None:
    try:
        return read_file(run_dir / "run.json", RunFile)
    except (OSError, RunFileError):
        return None  # not written yet, or being replaced


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def duration_arg(value: str | float | None) -> str | None:
    """A duration for ``--duration``: text as written (``8s``), a number as seconds."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise ValueError(f"duration must be text such as 8s or a number of seconds, got {value!r}")
    return f"{float(value):g}s"
