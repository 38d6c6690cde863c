"""``ackguard web``: the same run, with Locust's web UI deciding when the load starts and stops.

The system starts and the practitioners are registered first; then the web UI (on 127.0.0.1)
takes over. Each time a test is started from the UI the scenario's fault schedule starts with it,
and each stop heals every fault. Ctrl-C ends the session: the faults are healed, everything is read
back and verified, and the report is written as for ``ackguard run``.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import gevent

from ackguard.harness.faults.schedule import FaultRunner
from ackguard.harness.run import Prepared, Progress, RunOutcome, run_scenario
from ackguard.harness.scenario import Scenario

__all__ = ["serve_web"]


def serve_web(scenario: Scenario, *, runs_dir: Path, web_port: int) -> RunOutcome:
    def web_phase(prepared: Prepared, interrupted: threading.Event, progress: Progress) -> None:
        environment = prepared.environment
        environment.create_local_runner()
        # Locust's web UI parses sys.argv for its own options on every page: hand it none of
        # ours for as long as it serves.
        saved_argv, sys.argv = sys.argv, sys.argv[:1]
        web_ui = environment.create_web_ui("127.0.0.1", web_port)
        schedule: dict[str, FaultRunner] = {"current": prepared.faults}

        def on_start(**_: Any) -> None:
            current = schedule["current"]
            if current.started:
                current.heal_all()
                schedule["current"] = current.fresh_copy()
            schedule["current"].start()

        def on_stop(**_: Any) -> None:
            schedule["current"].heal_all()

        environment.events.test_start.add_listener(on_start)  # type: ignore[no-untyped-call]
        environment.events.test_stop.add_listener(on_stop)  # type: ignore[no-untyped-call]
        progress(f"Locust web UI on http://127.0.0.1:{web_port} (Ctrl-C to finish and verify)")
        try:
            while not interrupted.is_set():
                gevent.sleep(0.5)
        finally:
            if environment.runner is not None:
                environment.runner.quit()
            schedule["current"].heal_all()
            prepared.faults = schedule["current"]
            web_ui.stop()  # type: ignore[no-untyped-call]
            sys.argv = saved_argv

    command = f"ackguard web {scenario.source}"
    return run_scenario(scenario, runs_dir=runs_dir, command=command, load_phase=web_phase)
