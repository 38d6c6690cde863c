"""The run orchestrator: start the system, drive practitioners while faults strike, heal, read
everything back, verify, store.

Locust patches the standard library with gevent when it is imported: the command line imports
Locust before anything else for the commands that drive load, then this module.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import gevent
from locust.env import Environment

from ackguard.harness.cohorts import cohorts, defect_entries, place_cohort_windows
from ackguard.harness.faults.registry import build_fault
from ackguard.harness.faults.schedule import FaultRunner
from ackguard.harness.final_read import (
    FinalRead,
    final_read_from_database,
    final_read_from_records,
    write_final_read,
)
from ackguard.harness.history import HistoryWriter
from ackguard.harness.live import LiveDamage
from ackguard.harness.live.session import start_live
from ackguard.harness.run_dir import RunMeta, make_run_dir
from ackguard.harness.run_files import DirectoryFile, write_file
from ackguard.harness.scenario import Scenario
from ackguard.harness.services.stack import RunStack
from ackguard.harness.verifiers.result import Verdict
from ackguard.harness.verify import verify_run
from ackguard.harness.workload import (
    DEFAULT_SIM_START,
    HttpTarget,
    TargetFactory,
    Workload,
    WorkloadConfig,
    load_adapter,
)

__all__ = ["LoadPhase", "Prepared", "RunOutcome", "run_scenario", "workload_config"]

Progress = Callable[[str], None]
PROGRESS_EVERY_S = 5.0
RECOVERY_TIMEOUT_S = 60.0
"""How long the service has to answer again after the faults are healed (half of it, then one
restart, then the other half); ``ACKGUARD_RECOVERY_TIMEOUT_S`` overrides it."""


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run_dir: Path
    verdict: Verdict
    status: str


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


LoadPhase = Callable[["Prepared", threading.Event, Progress], None]


def run_scenario(
    scenario: Scenario,
    *,
    runs_dir: Path = Path("runs"),
    command: str = "ackguard run",
    progress: Progress = _stderr,
    load_phase: LoadPhase | None = None,
    workers: int = 0,
    remote_workers: int = 0,
    master_bind: str = "127.0.0.1",
    master_port: int | None = None,
) -> RunOutcome:
    """Run one scenario end to end. Ctrl-C (SIGINT) or SIGTERM ends the load early; the faults
    are still healed and what was recorded is still verified. ``load_phase`` replaces the
    headless timed load (``ackguard web`` hands the load to Locust's web UI). ``workers`` >= 1
    spreads the practitioners over that many Locust worker processes (:mod:`.workers`), the
    harness being Locust's master (listening on ``master_bind``)."""
    os.umask(0o077)  # the run directory holds patient-like data: files 0600, folders 0700
    run_dir = make_run_dir(runs_dir, scenario.name)
    (run_dir / "scenario.yaml").write_text(scenario.text, encoding="utf-8")
    stack = RunStack(run_dir, scenario)
    history = HistoryWriter(run_dir / "history.jsonl")
    meta = RunMeta(scenario, command, scenario.database.kind)  # started_at = history time 0
    meta.write(run_dir)
    interrupted = threading.Event()
    distributed = None
    if workers:
        from ackguard.harness.workers import DistributedLoad

        distributed = DistributedLoad(
            workers, master_bind, remote=remote_workers, master_port=master_port
        )
        meta.workers = workers
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: _interrupt(meta, interrupted))
    final_read: FinalRead | None = None
    try:
        target_factory = _target_factory(scenario)  # a user's adapter is checked before the start
        progress(f"run {run_dir}: starting the {scenario.database.kind} database and the service")
        stack.start()
        meta.database = stack.database_label
        meta.service_url = stack.practitioner_url
        prepared = _prepare(scenario, stack, history, meta, progress, target_factory)
        meta.load_started_at = datetime.now(UTC)
        meta.write(run_dir)  # run.json says the load runs: a test beside it can start
        live = start_live(prepared, progress, workers=workers)  # read-backs, stop conditions
        try:
            if distributed is not None:
                distributed.run(prepared, interrupted, progress)
            else:
                (load_phase or _timed_load)(prepared, interrupted, progress)
        finally:
            if distributed is not None:
                meta.workers_lost = list(distributed.lost)
                meta.load_started_at = distributed.load_started_at or meta.load_started_at
            live.stop()  # before the heal and the final read
            meta.stopped_by = live.stopped_by
            progress("load stopped; healing every fault")
            prepared.faults.heal_all()
            place_cohort_windows(meta.cohorts, history.path, meta.started_at)
            meta.write(run_dir)
        for error in prepared.faults.errors:
            progress(f"fault: {error}")
        final_read = _final_read(prepared, progress)
        # Under the web UI, Ctrl-C is how a session ends: only a headless run is cut short by it.
        cut_short = interrupted.is_set() and load_phase is None
        meta.status = "interrupted" if cut_short else "completed"
    except Exception as exc:
        meta.status = "error"
        meta.error = f"{type(exc).__name__}: {exc}"
        (run_dir / "harness-error.txt").write_text(traceback.format_exc(), encoding="utf-8")
        progress(f"harness error: {meta.error} (details in {run_dir / 'harness-error.txt'})")
    finally:
        history.finish(status=meta.status)  # the closing op: a history without it was cut short
        stack.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    meta.ended_at = datetime.now(UTC)
    meta.write(run_dir)
    if final_read is not None:
        write_final_read(run_dir, final_read)
    verdict = verify_run(run_dir)
    return RunOutcome(run_dir, verdict, meta.status)


def _interrupt(meta: RunMeta, interrupted: threading.Event) -> None:
    if not interrupted.is_set():
        meta.interrupted_at = datetime.now(UTC)  # "interrupted after N s of M s"
    interrupted.set()


@dataclass
class Prepared:
    """A started system with its practitioners registered, ready for load."""

    scenario: Scenario
    stack: RunStack
    history: HistoryWriter
    workload: Workload
    faults: FaultRunner
    environment: Environment
    live_damage: list[LiveDamage] = field(default_factory=list)
    """What the live verifier found so far, in detection order (appended while the load runs)."""
    stop_reason: str | None = None
    """Set when a stop condition ends the load early (``stop_when``); the load phases watch it."""


def _target_factory(scenario: Scenario) -> TargetFactory:
    """The scenario's adapter (``system.target``), loaded and checked; else the reference API."""
    spec = scenario.target
    if spec is None:
        return HttpTarget
    return load_adapter(spec.adapter, base_dir=scenario.source_dir, options=spec.options)


def _prepare(
    scenario: Scenario,
    stack: RunStack,
    history: HistoryWriter,
    meta: RunMeta,
    progress: Progress,
    target_factory: TargetFactory = HttpTarget,
) -> Prepared:
    assert stack.service is not None
    run_dir = stack.run_dir
    config = workload_config(scenario)
    workload = Workload(config, history, target_factory, users=scenario.users)
    progress(f"registering {scenario.practitioners} practitioners and their patients")
    directory = workload.setup(stack.service.url)
    registered = DirectoryFile.of(directory.practitioners, directory.patients)
    write_file(run_dir / "directory.json", registered, indent=False)  # large: one line
    faults = [
        (spec, build_fault(spec.kind, stack, spec.parsed or spec.params, name=spec.name))
        for spec in scenario.faults
    ]
    runner = FaultRunner(faults, history, seed=scenario.seed, horizon=scenario.duration)
    meta.sim_start = config.sim_start
    meta.cohorts = cohorts(scenario, directory.practitioners, config.sim_start)
    meta.write(run_dir)
    stack.service.set_static_defects(defect_entries(scenario, config.sim_start))
    environment = Environment(user_classes=workload.user_classes(), host=stack.practitioner_url)
    # A stop lets operations in flight finish (or time out) instead of cutting them off, so the
    # end of a run does not manufacture indeterminate operations.
    environment.stop_timeout = config.request_timeout_s + 1.0
    return Prepared(scenario, stack, history, workload, runner, environment)


def workload_config(scenario: Scenario) -> WorkloadConfig:
    """The workload a scenario describes (the harness's and every Locust worker's)."""
    return WorkloadConfig(
        seed=scenario.seed,
        practitioners=scenario.practitioners,
        patients_per_practitioner=scenario.patients_per_practitioner,
        time_scale=scenario.time_scale,
        sim_start=scenario.sim_start or DEFAULT_SIM_START,
        consultations_per_practitioner=scenario.consultations_per_practitioner,
        consultation_steps=scenario.consultation_steps,
    )


def _timed_load(prepared: Prepared, interrupted: threading.Event, progress: Progress) -> None:
    scenario = prepared.scenario
    load = prepared.environment.create_local_runner()
    windows = len(prepared.faults.timeline)
    progress(f"load: {scenario.users} users for {scenario.duration:g}s, {windows} fault windows")
    prepared.faults.start()  # first: the windows due at 0 s are in place before any request
    load.start(scenario.users, spawn_rate=max(scenario.users, 1))
    deadline = time.monotonic() + scenario.duration
    next_report = time.monotonic() + PROGRESS_EVERY_S
    try:
        while not interrupted.is_set() and time.monotonic() < deadline:
            if prepared.stop_reason is not None:
                progress(f"load stopped early: {prepared.stop_reason}")
                break
            if prepared.workload.target_error is not None:
                break  # the adapter broke its contract: the run ends with that error
            if scenario.until_agendas_end and prepared.workload.agendas_ended():
                progress("load stopped early: every practitioner's agenda has ended")
                break
            gevent.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
            if time.monotonic() >= next_report:
                next_report += PROGRESS_EVERY_S
                progress(_progress_line(prepared, deadline))
    finally:
        load.quit()


def _final_read(prepared: Prepared, progress: Progress) -> FinalRead:
    if prepared.workload.target_error is not None:
        raise prepared.workload.target_error
    stack = prepared.stack
    assert stack.service is not None
    _await_recovery(stack, progress)
    read_time = prepared.history.now()
    progress("final read")
    if prepared.scenario.final_read == "database":
        return final_read_from_database(stack.database_url, time_ns=read_time)
    records = prepared.workload.export(stack.service.url)
    return final_read_from_records(records, source="api", time=read_time)


def _await_recovery(stack: RunStack, progress: Progress) -> None:
    """Wait (bounded) for the service to answer again; restart it once if it does not."""
    assert stack.service is not None
    for attempt in range(2):
        deadline = time.monotonic() + _recovery_timeout_s() / 2
        while time.monotonic() < deadline:
            if stack.service.healthy():
                return
            gevent.sleep(0.25)
        if attempt == 0:
            progress("the service did not recover by itself; restarting it")
            stack.service.restart()
    raise RuntimeError("the service did not come back after the faults were healed")


def _recovery_timeout_s() -> float:
    text = os.environ.get("ACKGUARD_RECOVERY_TIMEOUT_S", "")
    try:
        seconds = float(text) if text else RECOVERY_TIMEOUT_S
    except ValueError:
        raise RuntimeError(f"ACKGUARD_RECOVERY_TIMEOUT_S: not seconds: {text!r}") from None
    if not 0 < seconds <= 3600:
        raise RuntimeError(f"ACKGUARD_RECOVERY_TIMEOUT_S: {seconds:g} is not in (0, 3600] seconds")
    return seconds


def _progress_line(prepared: Prepared, deadline: float) -> str:
    stats = prepared.environment.stats.total
    total = prepared.scenario.duration
    elapsed = total - max(0.0, deadline - time.monotonic())
    faults = ", ".join(prepared.faults.active) or "none"
    kinds = Counter(damage.kind for damage in prepared.live_damage)
    live = "; live: " + ", ".join(f"{n} {kind}" for kind, n in kinds.items()) if kinds else ""
    return (
        f"[{elapsed:5.0f}s/{total:g}s] requests {stats.num_requests}, failed {stats.num_failures}, "
        f"{stats.current_rps:.0f}/s; faults active: {faults}{live}"
    )
