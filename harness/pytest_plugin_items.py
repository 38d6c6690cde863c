"""Scenario files as pytest items (``pytest --ackguard scenarios/``).

Each ``*.yaml`` file under the paths pytest collects is read as a scenario: one that parses
becomes one item named after the scenario; one that does not is a collection error naming
``file:line`` and the problem, as ``ackguard run`` would. The item runs the scenario and passes
when the verdict equals the scenario's ``expect`` (none: PASS). An unknown verdict fails the item
whatever the scenario expects: nothing was proven.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ackguard.harness.pytest_plugin_runs import (
    SETUP_MARGIN_S,
    ScenarioOutcome,
    ScenarioProcess,
    Valid,
    verdict_word,
)

__all__ = ["ScenarioItem", "ScenarioMismatch", "ScenarioYamlFile", "mismatch"]

Record = Callable[[str, ScenarioOutcome, "Valid | None"], None]


class ScenarioMismatch(Exception):
    """A run's verdict is not the one expected; the message says what ran and what it found."""


def mismatch(outcome: ScenarioOutcome, expected: Valid) -> ScenarioMismatch | None:
    """Why ``outcome`` does not meet ``expected``, or None when it does. Unknown never meets."""
    if outcome.verdict == expected and outcome.verdict != "unknown":
        return None
    head = f"scenario {outcome.scenario}: expected {verdict_word(expected)}, got "
    head += verdict_word(outcome.verdict)
    if outcome.verdict == "unknown":
        head += " (an unknown verdict proves nothing, whatever was expected)"
    return ScenarioMismatch(f"{head}\n{outcome.describe()}")


class ScenarioYamlFile(pytest.File):
    """A ``*.yaml`` file collected under ``--ackguard``."""

    def collect(self) -> list[pytest.Item]:
        from ackguard.harness.scenario import ScenarioError, load_scenario

        duration: float | None = self.config.stash[DURATION_KEY]
        try:
            scenario = load_scenario(str(self.path), duration=duration)
        except ScenarioError as exc:
            raise self.CollectError(f"not a runnable scenario: {exc}") from None
        expected: Valid = True if scenario.expect is None else scenario.expect
        return [
            ScenarioItem.from_parent(
                self,
                name=scenario.name,
                expected=expected,
                duration_s=scenario.duration,
            )
        ]


class ScenarioItem(pytest.Item):
    """One scenario file's run; passes when the verdict equals ``expected``."""

    def __init__(self, *, expected: Valid, duration_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.expected = expected
        self.duration_s = duration_s
        self.outcome: ScenarioOutcome | None = None

    def runtest(self) -> None:
        override = self.config.stash[DURATION_KEY]
        run = ScenarioProcess(
            str(self.path),
            runs_dir(self.config),
            duration=None if override is None else f"{override!r}s",  # repr: every digit kept
            timeout_s=self.duration_s + SETUP_MARGIN_S,
        )
        try:
            run.finish()
        finally:  # even after Ctrl-C: the run heals and verifies what ran before pytest leaves
            self.outcome = run.stop()
            self.config.stash[RECORD_KEY](self.nodeid, self.outcome, self.expected)
        problem = mismatch(self.outcome, self.expected)
        if problem is not None:
            raise problem

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        if isinstance(excinfo.value, ScenarioMismatch):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"ackguard scenario {self.name}"


DURATION_KEY = pytest.StashKey["float | None"]()
"""``--ackguard-duration`` in seconds, or None."""
RUNS_DIR_KEY = pytest.StashKey[Callable[[], Path]]()
"""Where runs go: ``--ackguard-runs-dir``, or a folder of pytest's base temporary directory."""
RECORD_KEY = pytest.StashKey[Record]()
"""Keeps a finished run for the terminal summary."""


def runs_dir(config: pytest.Config) -> Path:
    return config.stash[RUNS_DIR_KEY]()
