"""ackguard's pytest plugin, loaded into every pytest run once ackguard is installed (disable it
with ``-p no:ackguard``). Without ``--ackguard`` and unless a test asks for it, it does nothing:
it registers its options, its marker and its fixtures, and imports neither Locust nor gevent.
Every scenario runs as its own ``python -m ackguard run`` process, so the test process is never
monkey-patched; the plugin reads what the run directory holds (run.json, verdict.json, the
report).

The fixture ``ackguard_run`` (session scope) is a function that runs a scenario to its end::

    def test_default_survives(ackguard_run):
        outcome = ackguard_run("default", duration="8s", seed=3)
        assert outcome.verdict is True, outcome.describe()

It returns a :class:`ScenarioOutcome`: ``verdict`` (``True`` PASS, ``False`` FAIL,
``"unknown"``), ``counts`` per record class, ``reasons``, ``run_dir``, ``report`` (report.html),
``exit_code`` and ``output``. The scenario is a catalogue name or a file path; a bad one fails the
test at once, naming ``file:line`` and the problem. ``runs_dir`` defaults to
``--ackguard-runs-dir`` or else ``ackguard-runs`` in pytest's base temporary directory.

The marker ``@pytest.mark.ackguard(scenario, duration=None, seed=None, expect=True)`` runs a
test body under a scenario's faults::

    @pytest.mark.ackguard("default", duration="20s")
    def test_reads_during_crashes(ackguard_system):
        answer = urllib.request.urlopen(f"{ackguard_system.url}/health", timeout=5)

1. Before the body, ``ackguard run`` starts in the background; the plugin waits (at most
   :data:`LOAD_START_TIMEOUT_S`) until the run's load has started (``load_started_at`` in
   run.json). The fixture ``ackguard_system`` gives the body the running system
   (:class:`RunningSystem`: ``url``, the service as the practitioners reach it; ``run_dir``;
   ``load_ends_at``). A marked test need not ask for it: the body still runs under load.
2. The body runs while the practitioners write and the faults strike: a request may meet a killed
   service or a cut connection, and should retry as a real client would.
3. After the body, the plugin waits for the run to end (heal, read back, verify, report) and the
   test fails when the verdict is not ``expect`` (``True``/``"PASS"``, ``False``/``"FAIL"``,
   ``"unknown"``), when it is unknown, or when the body outlasted the load (it did not run under
   the scenario's faults throughout: lengthen ``duration``). The failure names the verdict, the
   damaged records per class, the reasons and the report. A body that fails on its own fails as
   usual, with the run's verdict added to the report as a section.
4. The body's own writes are not in the run's history: the verifiers count records nobody they
   know of wrote (phantom, unexpected), so a body that writes records will FAIL the run; reads
   are safe.

``pytest --ackguard scenarios/`` collects each ``*.yaml`` file under the given paths as one test
item named after its scenario (see :mod:`harness.pytest_plugin_items`); ``--ackguard-duration 10s``
shortens (or lengthens) every collected scenario.

The terminal summary lists every run of the session: verdict, expectation, report path.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from ackguard.harness.pytest_plugin_items import (
    DURATION_KEY,
    RECORD_KEY,
    RUNS_DIR_KEY,
    ScenarioYamlFile,
    mismatch,
    runs_dir,
)
from ackguard.harness.pytest_plugin_runs import (
    SETUP_MARGIN_S,
    RunningSystem,
    RunStartError,
    ScenarioOutcome,
    ScenarioProcess,
    Valid,
    duration_arg,
    expectation,
    verdict_word,
)

__all__ = ["LOAD_START_TIMEOUT_S", "RunScenario", "RunningSystem", "ScenarioOutcome"]

LOAD_START_TIMEOUT_S = 300.0
"""How long a marked test waits for its run to start the system and the load."""
MARKER = (
    "ackguard(scenario, duration=None, seed=None, expect=True): run the test body while the "
    "scenario's load and faults run; fail unless the verdict is expect"
)


class RunScenario(Protocol):
    """What ``ackguard_run`` returns."""

    def __call__(
        self,
        scenario: str | Path = "default",
        *,
        duration: str | float | None = None,
        seed: int | None = None,
        runs_dir: Path | None = None,
    ) -> ScenarioOutcome: ...


@dataclass(frozen=True, slots=True)
class _Recorded:
    label: str
    outcome: ScenarioOutcome
    expected: Valid | None


_RUNS_KEY = pytest.StashKey[list[_Recorded]]()
_MARKED_KEY = pytest.StashKey["_MarkedRun"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ackguard", "ackguard chaos runs")
    group.addoption(
        "--ackguard",
        action="store_true",
        help="collect each *.yaml file under the given paths as a scenario test item",
    )
    group.addoption(
        "--ackguard-runs-dir",
        type=Path,
        metavar="DIR",
        help="where runs are stored (default: ackguard-runs in pytest's base temporary folder)",
    )
    group.addoption(
        "--ackguard-duration",
        metavar="DURATION",
        help="override the duration of every collected scenario, e.g. 10s",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    config.stash[DURATION_KEY] = _duration_option(config.getoption("ackguard_duration"))
    runs: list[_Recorded] = []
    config.stash[_RUNS_KEY] = runs
    config.stash[RECORD_KEY] = lambda label, outcome, expected: runs.append(
        _Recorded(label, outcome, expected)
    )
    config.stash[RUNS_DIR_KEY] = lambda: _runs_dir(config)


def _duration_option(value: str | None) -> float | None:
    if value is None:
        return None
    from ackguard.harness.scenario import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise pytest.UsageError(f"--ackguard-duration: {exc}") from None


def _runs_dir(config: pytest.Config) -> Path:
    chosen: Path | None = config.getoption("ackguard_runs_dir")
    if chosen is not None:
        return chosen.resolve()
    # The tmp_path_factory fixture is this object: runs of fixtures and items share one folder.
    factory: pytest.TempPathFactory = config._tmp_path_factory  # type: ignore[attr-defined]
    return factory.getbasetemp() / "ackguard-runs"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix == ".yaml" and parent.config.getoption("ackguard"):
        collected: ScenarioYamlFile = ScenarioYamlFile.from_parent(parent, path=file_path)
        return collected
    return None


@pytest.fixture(scope="session")
def ackguard_runs_dir(pytestconfig: pytest.Config) -> Path:
    """Where this session's runs are stored."""
    return runs_dir(pytestconfig)


@pytest.fixture(scope="session")
def ackguard_run(pytestconfig: pytest.Config, ackguard_runs_dir: Path) -> RunScenario:
    """A function that runs a scenario to its end and returns its :class:`ScenarioOutcome`."""

    def run(
        scenario: str | Path = "default",
        *,
        duration: str | float | None = None,
        seed: int | None = None,
        runs_dir: Path | None = None,
    ) -> ScenarioOutcome:
        process = _start(str(scenario), duration, seed, runs_dir or ackguard_runs_dir)
        try:
            process.finish()
        finally:  # even after Ctrl-C: the run heals and verifies what ran before pytest leaves
            outcome = process.stop()
            pytestconfig.stash[RECORD_KEY](outcome.scenario, outcome, None)
        return outcome

    return run


def _start(
    scenario: str, duration: str | float | None, seed: int | None, runs_dir: Path
) -> ScenarioProcess:
    """The run started, after the scenario and its overrides were checked here: a bad one fails
    the test at once, with ``file:line: field: problem``."""
    from ackguard.harness.scenario import ScenarioError, load_scenario, parse_duration

    try:
        text = duration_arg(duration)
        seconds = parse_duration(text) if text is not None else None
        checked = load_scenario(scenario, duration=seconds, seed=seed)
    except (ScenarioError, ValueError) as exc:
        pytest.fail(f"ackguard: {exc}", pytrace=False)
    return ScenarioProcess(
        scenario,
        runs_dir,
        duration=text,
        seed=seed,
        timeout_s=checked.duration + SETUP_MARGIN_S,
    )


@dataclass
class _MarkedRun:
    """The background run of a marked test and, once its load runs, its system."""

    process: ScenarioProcess
    system: RunningSystem
    expected: Valid


def _marked_run(item: pytest.Item) -> _MarkedRun | None:
    """The run of ``item``'s ``ackguard`` marker, started (and its load waited for) on first use;
    None when the item is not marked."""
    marker = item.get_closest_marker("ackguard")
    if marker is None:
        return None
    if _MARKED_KEY in item.stash:
        return item.stash[_MARKED_KEY]
    scenario, duration, seed, expected = _marker_args(marker)
    process = _start(scenario, duration, seed, runs_dir(item.config))
    try:
        system = process.wait_for_load(LOAD_START_TIMEOUT_S)
    except RunStartError as exc:
        _record(item, process.stop(), expected)
        pytest.fail(f"ackguard: {exc}", pytrace=False)
    item.stash[_MARKED_KEY] = _MarkedRun(process, system, expected)
    return item.stash[_MARKED_KEY]


def _marker_args(marker: pytest.Mark) -> tuple[str, str | None, int | None, Valid]:
    kwargs: dict[str, Any] = dict(marker.kwargs)
    unknown = set(kwargs) - {"scenario", "duration", "seed", "expect"}
    if unknown:
        pytest.fail(f"@pytest.mark.ackguard: unknown argument {sorted(unknown)[0]!r}", False)
    if len(marker.args) > 1 or (marker.args and "scenario" in kwargs):
        pytest.fail("@pytest.mark.ackguard takes one scenario (a name or a file)", False)
    scenario = marker.args[0] if marker.args else kwargs.get("scenario")
    if not isinstance(scenario, str | Path):
        pytest.fail("@pytest.mark.ackguard needs a scenario: a catalogue name or a file", False)
    try:
        expected = expectation(kwargs.get("expect", True))
        duration = duration_arg(kwargs.get("duration"))
    except ValueError as exc:
        pytest.fail(f"@pytest.mark.ackguard: {exc}", pytrace=False)
    seed = kwargs.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        pytest.fail(f"@pytest.mark.ackguard: seed must be an integer, got {seed!r}", False)
    return str(scenario), duration, seed, expected


@pytest.fixture
def ackguard_system(request: pytest.FixtureRequest) -> RunningSystem:
    """The running system of a test marked ``@pytest.mark.ackguard(...)``, its load started."""
    marked = _marked_run(request.node)
    if marked is None:
        pytest.fail("ackguard_system needs the test marked @pytest.mark.ackguard(scenario)", False)
    return marked.system


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    marked = _marked_run(item)
    if marked is None:
        return (yield)
    try:
        result = yield
    except BaseException:
        outcome = marked.process.stop()  # the body failed: its verdict goes with the failure
        _record(item, outcome, marked.expected)
        item.add_report_section("call", "ackguard", outcome.describe())
        raise
    body_ended = datetime.now(UTC)
    outcome = marked.process.finish()
    _record(item, outcome, marked.expected)
    problem = mismatch(outcome, marked.expected)
    if problem is not None:
        pytest.fail(str(problem), pytrace=False)
    if body_ended > marked.system.load_ends_at:
        over = (body_ended - marked.system.load_ends_at).total_seconds()
        pytest.fail(
            f"the test body outlasted the load of {outcome.scenario} by {over:.1f}s: it did not "
            "run under the scenario's faults throughout; give the marker a longer duration",
            pytrace=False,
        )
    return result


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """A run a marked test started and never finished (its setup failed) ends here."""
    marked = item.stash.get(_MARKED_KEY, None)
    if marked is not None and not marked.process.finished:
        _record(item, marked.process.stop(), marked.expected)


def _record(item: pytest.Item, outcome: ScenarioOutcome, expected: Valid | None) -> None:
    item.config.stash[RECORD_KEY](item.nodeid, outcome, expected)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    runs = config.stash.get(_RUNS_KEY, [])
    if not runs:
        return
    terminalreporter.ensure_newline()  # after the progress dots, else a blank line follows
    terminalreporter.section("ackguard runs")
    for run in runs:
        outcome = run.outcome
        line = f"{verdict_word(outcome.verdict):7} {run.label}"
        if run.expected is not None:
            met = mismatch(outcome, run.expected) is None
            line += f" (expected {verdict_word(run.expected)}{'' if met else ': NOT met'})"
        where = outcome.report or outcome.run_dir
        line += f"  report: {where}" if outcome.report else f"  run: {where} (no report)"
        terminalreporter.write_line(line)
