"""``ackguard web``: the same run, with Locust's web UI deciding when the load starts and stops.

The system starts and the practitioners are registered first; then the web UI (on 127.0.0.1)
takes over, with a Chaos tab (:mod:`harness.web_routes`) that follows the faults, the writes,
the live verifier's findings and, at the end, the verdict. Start begins the scenario's fault
schedule with the load. Stop (or the form's run time, or a stop condition) ends the session:
the faults are healed, everything is read back and verified, the report is written as for
``ackguard run``, and the tab shows the verdict with a link to the report until Ctrl-C. Ctrl-C
during the load ends it the same way, then exits.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

from ackguard.harness.run import Prepared, RunOutcome, run_scenario
from ackguard.harness.scenario import Scenario
from ackguard.harness.web_chaos import WebSession

__all__ = ["serve_web"]

Announce = Callable[[RunOutcome], Path | None]
"""Called once the run is verified: renders the report, prints the summary, returns the report's
path (shown as a link in the tab)."""


def serve_web(
    scenario: Scenario, *, runs_dir: Path, web_port: int, announce: Announce | None = None
) -> RunOutcome:
    sessions: list[WebSession] = []
    earlier: list[str] = []  # the lines before the web UI starts

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        if not sessions:
            earlier.append(line)
            return
        sessions[0].state.message = line  # the Chaos tab shows what the run is doing
        sessions[0].logs.add(line)  # and Locust's Logs tab every line of it

    def web_phase(prepared: Prepared, interrupted: threading.Event, _progress: object) -> None:
        session = WebSession(prepared, web_port, progress)
        for line in earlier:
            session.logs.add(line)
        sessions.append(session)
        session.run(interrupted)

    command = f"ackguard web {scenario.source}"
    outcome = run_scenario(
        scenario, runs_dir=runs_dir, command=command, progress=progress, load_phase=web_phase
    )
    report = announce(outcome) if announce is not None else None
    if not sessions:
        return outcome  # the run failed before the web UI started
    session = sessions[0]
    try:
        if not session.interrupted and session.serving:
            session.show_verdict(outcome, report)
            progress(f"the verdict is in the Chaos tab: {session.url}/?tab=chaos (Ctrl-C to quit)")
            session.serve_until_interrupted()
    finally:
        session.close()
    return outcome
