"""One ``ackguard web`` session: Locust's web UI with the Chaos tab, driving a prepared run.

The form's defaults are the scenario's (users, spawn rate, run time = its duration). Start begins
the scenario's fault schedule with the load. The session ends when the load stops: the Stop
button, the form's run time running out, a stop condition of the live verifier
(``prepared.stop_reason``) or Ctrl-C. The run then heals, reads back and verifies as a headless
run does, and the tab shows the verdict. Only one load per session: the system is shut down
after the final read, so a Start after the stop is refused (the tab says so).
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import gevent
from locust import argument_parser
from locust.log import LogReader
from locust.runners import STATE_RUNNING, STATE_SPAWNING

from ackguard.harness.live.board import Board
from ackguard.harness.run import PROGRESS_EVERY_S, Prepared, Progress, RunOutcome
from ackguard.harness.scenario import Scenario
from ackguard.harness.summary import verdict_reasons, verdict_words
from ackguard.harness.web_routes import ChaosState, install_chaos_tab

__all__ = ["LogsTab", "WebSession", "form_defaults"]

LABELS = {True: "PASS", False: "FAIL"}


def form_defaults(scenario: Scenario) -> Any:
    """Locust's parsed options with the scenario's users, spawn rate (all at once, as a
    headless run starts them) and run time: what the web UI's form shows first. No
    configuration file is read: the scenario is the configuration."""
    parser = argument_parser.get_parser(default_config_files=[])
    users = str(scenario.users)
    run_time = f"{math.ceil(scenario.duration)}s"
    return parser.parse_args(["--users", users, "--spawn-rate", users, "--run-time", run_time])


def _label(valid: bool | str) -> str:
    return LABELS.get(valid, "UNKNOWN") if isinstance(valid, bool) else "UNKNOWN"


class LogsTab(LogReader):
    """What Locust's Logs tab shows: it reads the root logger's handler named ``log_reader``.
    The session's progress lines are added here, and warnings logged anywhere land here too,
    still printed as before (without handlers of its own, Python prints them on stderr; this
    handler must not silence that)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.name = "log_reader"
        self.setLevel(logging.WARNING)
        self._root = logging.getLogger()
        self._printed_by_python = not self._root.handlers
        self._root.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)  # type: ignore[no-untyped-call]
        if self._printed_by_python and logging.lastResort is not None:
            logging.lastResort.handle(record)

    def add(self, line: str) -> None:
        self.logs.append(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {line}")

    def close(self) -> None:
        self._root.removeHandler(self)
        super().close()


class WebSession:
    """The web UI of one prepared run, from the form to the verdict."""

    def __init__(self, prepared: Prepared, web_port: int, progress: Progress) -> None:
        self.prepared = prepared
        self.progress = progress
        self.url = f"http://127.0.0.1:{web_port}"
        self._signalled: threading.Event | None = None
        self.logs = LogsTab()
        environment = prepared.environment
        self.runner = environment.create_local_runner()
        environment.parsed_options = form_defaults(prepared.scenario)
        # Locust's web UI parses sys.argv for its own options on every page: hand it none of
        # ours for as long as it serves (until close(), the verdict included).
        self._saved_argv, sys.argv = sys.argv, sys.argv[:1]
        self.web_ui = environment.create_web_ui("127.0.0.1", web_port, delayed_start=True)
        run_dir = prepared.stack.run_dir
        board = Board(prepared.history)
        self.state = ChaosState(prepared.faults, board, prepared.live_damage, run_dir)
        self.state.scenario = prepared.scenario.name
        install_chaos_tab(self.web_ui, self.state)
        environment.events.test_start.add_listener(self._on_start)  # type: ignore[no-untyped-call]
        environment.events.test_stop.add_listener(self._on_stop)  # type: ignore[no-untyped-call]
        self.web_ui.start()  # type: ignore[no-untyped-call]

    @property
    def interrupted(self) -> bool:
        """Ctrl-C (or SIGTERM) came while the run went on, during the load or its verification:
        the session ends with the run instead of waiting for another."""
        return self._signalled is not None and self._signalled.is_set()

    def _on_start(self, **_: Any) -> None:
        if self.state.phase != "ready":
            return  # refused at /swarm already; never a second schedule on a healed system
        self.state.phase = "running"
        self.state.started_at = time.monotonic()
        self.state.origin_ns = self.prepared.history.now()
        self.prepared.faults.start()  # first: windows due at 0 s are in place before requests

    def _on_stop(self, **_: Any) -> None:
        if self.state.phase == "running":
            self.state.stop_requested.set()

    def run(self, interrupted: threading.Event) -> None:
        """Serve until the load stops (or Ctrl-C), printing progress as a headless run does."""
        self._signalled = interrupted
        self.progress(
            f"Locust web UI on {self.url} (the Chaos tab follows the faults; Ctrl-C ends)"
        )
        next_report: float | None = None  # every 5 s from the start of the load
        try:
            while not interrupted.is_set() and not self.state.stop_requested.is_set():
                self._check_server()
                reason = self.prepared.stop_reason
                if reason is not None:
                    self.progress(f"load stopped early: {reason}")
                    self.state.stop_reason = reason
                    break
                if self.prepared.workload.target_error is not None:
                    break  # the adapter broke its contract: the run ends with that error
                gevent.sleep(0.2)
                if self.runner.state not in (STATE_RUNNING, STATE_SPAWNING):
                    continue
                if next_report is None:
                    next_report = time.monotonic() + PROGRESS_EVERY_S
                elif time.monotonic() >= next_report:
                    next_report += PROGRESS_EVERY_S
                    self.progress(self.progress_line())
        finally:
            self.state.stop_requested.set()
            self.state.phase = "verifying"
            self.runner.quit()

    @property
    def serving(self) -> bool:
        greenlet = self.web_ui.greenlet
        return greenlet is not None and not greenlet.dead

    def _check_server(self) -> None:
        if not self.serving:
            error = None if self.web_ui.greenlet is None else self.web_ui.greenlet.exception
            raise RuntimeError(f"the web UI stopped serving {self.url}: {error}")

    def progress_line(self) -> str:
        stats = self.prepared.environment.stats.total
        started = self.state.started_at or time.monotonic()
        writes = self.state.board.writes()
        faults = ", ".join(self.prepared.faults.active) or "none"
        return (
            f"[{time.monotonic() - started:5.0f}s] users {self.runner.user_count}, "
            f"requests {stats.num_requests}, failed {stats.num_failures}, "
            f"{stats.current_rps:.0f}/s; writes acknowledged {writes['acknowledged']}, "
            f"failed {writes['failed']}, indeterminate {writes['indeterminate']}; "
            f"live damage {len(self.prepared.live_damage)}; faults active: {faults}"
        )

    def show_verdict(self, outcome: RunOutcome, report: Path | None) -> None:
        verdict = outcome.verdict
        link = None
        if report is not None and report.is_relative_to(outcome.run_dir):
            link = "./chaos/run/" + report.relative_to(outcome.run_dir).as_posix()
        expected = verdict.expected
        self.state.verdict = {
            "label": _label(verdict.valid),
            "words": verdict_words(verdict),
            "expected": None if expected is None else _label(expected),
            "matched": verdict.matched,
            "counts": dict(verdict.counts),
            "reasons": list(verdict_reasons(verdict)),
            "status": outcome.status,
            "run_dir": str(outcome.run_dir),
            "report": link,
        }
        self.state.phase = "done"

    def serve_until_interrupted(self) -> None:
        """Keep the UI (and its verdict) up until Ctrl-C or SIGTERM."""
        done = threading.Event()

        def stop(_signum: int, _frame: FrameType | None) -> None:
            done.set()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not done.is_set():
                self._check_server()
                gevent.sleep(0.2)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def close(self) -> None:
        self.web_ui.stop()  # type: ignore[no-untyped-call]
        self.logs.close()
        sys.argv = self._saved_argv
