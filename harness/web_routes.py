"""The Chaos tab's routes on Locust's web UI (a Flask app), and what they show.

Locust's own extension points carry the tab: ``template_args["extended_tabs"]`` adds the tab,
``extended_tables`` gives it the fault-window table, and the ``extended_stats`` key that an
``after_request`` hook adds to ``/stats/requests`` (which Locust's page polls every 2 s) fills it,
in Locust's own look. What a table cannot hold (the fire and heal buttons, the write counts, the
live damage, the verdict and its link) comes from one small script, ``live/static/chaos.js``, that
Locust's page loads after its own (its ``index.html`` with one ``<script>`` more) and that polls
``/chaos/state``.

Routes: ``GET /chaos/state``; ``POST /chaos/fire/<fault>`` and ``POST /chaos/heal`` (400 naming the
problem for a fault the scenario does not have, 409 when the load is not running);
``GET /chaos/run/<file>`` serves files of this run's directory only.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request, send_from_directory
from jinja2 import BaseLoader, ChoiceLoader, DictLoader

from ackguard.harness.faults.schedule import FaultRunner
from ackguard.harness.live import LiveDamage
from ackguard.harness.live.board import Board, damage_summary

__all__ = ["TAB", "ChaosState", "install_chaos_tab"]

TAB = "chaos"
STATE_CLEANUP, STATE_RUNNING = "cleanup", "running"  # Locust's runner states (locust.runners)
STATIC = Path(__file__).parent / "live" / "static"
SCRIPT = '<script src="./chaos/static/chaos.js"></script>'
TABLE = [
    {"key": "fault", "title": "Fault"},
    {"key": "kind", "title": "Kind"},
    {"key": "window", "title": "Window (s since the load started)"},
    {"key": "state", "title": "State"},
    {"key": "detail", "title": "Detail"},
]
REFUSED_AFTER_VERDICT = (
    "This session has ended and its system is shut down: Start is refused. "
    "Run ackguard web again for a new run."
)


@dataclass
class ChaosState:
    """What the tab shows; the web session updates it, the routes read it."""

    faults: FaultRunner
    board: Board
    damage: list[LiveDamage]
    run_dir: Path
    scenario: str = ""
    phase: str = "ready"
    """ready (the form), running, verifying (the load stopped: heal, final read, verdict),
    done (the verdict is shown)."""
    message: str = ""
    stop_reason: str | None = None
    verdict: dict[str, object] | None = None
    started_at: float | None = None
    """``time.monotonic()`` when the load started."""
    origin_ns: int = 0
    """History time when the load started: the origin of the fault windows' times."""
    stop_requested: threading.Event = field(default_factory=threading.Event)

    def fault_names(self) -> list[str]:
        return [w["fault"] for w in self._faults()]

    def _faults(self) -> list[dict[str, str]]:
        return [
            {"fault": spec.name, "kind": spec.kind, "description": fault.description}
            for spec, fault in self.faults.faults
        ]

    def snapshot(self) -> dict[str, object]:
        active = set(self.faults.active)
        elapsed = None if self.started_at is None else time.monotonic() - self.started_at
        return {
            "scenario": self.scenario,
            "phase": self.phase,
            "message": self.message,
            "elapsed_s": None if elapsed is None else round(elapsed, 1),
            "stop_reason": self.stop_reason,
            "faults": [
                {
                    "name": f["fault"],
                    "kind": f["kind"],
                    "description": f["description"],
                    "active": f["fault"] in active,
                }
                for f in self._faults()
            ],
            "windows": self.faults.states(),
            "writes": self.board.writes(),
            "damage": damage_summary(self.damage, self.origin_ns),
            "verdict": self.verdict,
            "start_refused": REFUSED_AFTER_VERDICT if self.phase in ("verifying", "done") else None,
        }

    def table_rows(self) -> list[dict[str, str]]:
        """The fault windows as rows of Locust's extended table."""
        rows = []
        for w in self.faults.states():
            span = f"{w['start']:.1f} - {w['stop']:.1f}"
            rows.append(
                {
                    "fault": w["fault"],
                    "kind": w["kind"],
                    "window": f"{span} (fired now)" if w["fired"] else span,
                    "state": w["state"],
                    "detail": w["error"] or "",
                }
            )
        return rows


def _error(message: str, status: int) -> Response:
    answer = jsonify({"error": message})
    answer.status_code = status
    return answer


def chaos_blueprint(state: ChaosState) -> Blueprint:
    """The tab's routes, for any Flask app (the tests use Flask's test client on them)."""
    routes = Blueprint(
        "ackguard_chaos", __name__, static_folder=str(STATIC), static_url_path="/chaos/static"
    )

    @routes.get("/chaos/state")
    def chaos_state() -> Response:
        return jsonify(state.snapshot())

    @routes.post("/chaos/fire/<name>")
    def fire(name: str) -> Response:
        if name not in state.fault_names():
            known = ", ".join(state.fault_names()) or "none"
            return _error(f"no fault named {name!r} in this scenario (its faults: {known})", 400)
        if state.phase != "running" or state.stop_requested.is_set():
            return _error(f"the load is not running (session {state.phase}): nothing fired", 409)
        try:
            window = state.faults.fire(name)
        except RuntimeError as exc:
            return _error(f"{name}: {exc}", 409)
        return jsonify({"fired": name, "window": window})

    @routes.post("/chaos/heal")
    def heal() -> Response:
        if state.phase != "running" or state.stop_requested.is_set():
            return _error(f"the load is not running (session {state.phase}): nothing to heal", 409)
        healing = state.faults.active
        state.faults.heal_all()
        return jsonify({"healed": healing})

    @routes.get("/chaos/run/<path:name>")
    def run_file(name: str) -> Response:
        # send_from_directory joins safely: '..', absolute paths and the like are a 404.
        return send_from_directory(state.run_dir.resolve(), name)

    return routes


def install_chaos_tab(web_ui: Any, state: ChaosState) -> None:
    """Add the Chaos tab to a Locust ``WebUI`` (before it serves its first page)."""
    app: Flask = web_ui.app
    app.register_blueprint(chaos_blueprint(state))
    web_ui.template_args["extended_tabs"] = [{"title": "Chaos", "key": TAB}]
    web_ui.template_args["extended_tables"] = [{"key": TAB, "structure": TABLE}]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "./chaos/run/verdict.json", "title": "Download verdict.json (once verified)"},
        {"href": "./chaos/run/impact.csv", "title": "Download impact.csv (once verified)"},
    ]
    _load_script_in_index(app)

    @app.after_request
    def add_chaos_rows(answer: Response) -> Response:
        if request.path.endswith("/stats/requests") and answer.is_json:
            data = json.loads(answer.get_data())
            data["extended_stats"] = [{"key": TAB, "data": state.table_rows()}]
            if data.get("state") == STATE_CLEANUP:
                # Locust's page polls the stats only while it believes the load runs; one poll
                # that sees "cleanup" (users finishing their last requests after Stop, up to the
                # request timeout here) would leave it there for good, Stop stuck on "Loading".
                data["state"] = STATE_RUNNING
            answer.set_data(json.dumps(data))
        return answer

    @app.before_request
    def refuse_start_after_the_verdict() -> Response | None:
        # A stop ends the session (heal, final read, verdict) and shuts its system down, so a
        # new swarm would have nothing to drive; changing the user count while running is fine.
        ended = state.phase in ("verifying", "done") or state.stop_requested.is_set()
        if request.path.endswith("/swarm") and request.method == "POST" and ended:
            return jsonify({"success": False, "message": REFUSED_AFTER_VERDICT, "host": ""})
        return None


def _load_script_in_index(app: Flask) -> None:
    """Serve Locust's own index.html with our script after its own (its asset names change
    with each Locust release, so the page is read from Locust's build, not copied)."""
    folder = Path(str(app.template_folder))
    page = (folder / "index.html").read_text(encoding="utf-8")
    if "</body>" not in page:
        return  # an unexpected page: the tab still shows its table, without the script's parts
    patched = page.replace("</body>", f"  {SCRIPT}\n  </body>", 1)
    original: BaseLoader | None = app.jinja_loader
    loaders: list[BaseLoader] = [DictLoader({"index.html": patched})]
    app.jinja_loader = ChoiceLoader(loaders + ([original] if original else []))
