"""Run by test_board.py in a child process (Locust patches the standard library when imported):
Locust's own web UI with the Chaos tab installed, asked through Flask's test client; prints what
it answered as JSON."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from locust import User, constant, task  # first: gevent patches the standard library
from locust.env import Environment

from ackguard.harness.history import HistoryWriter
from ackguard.harness.live.board import Board
from ackguard.harness.scenario import parse_scenario
from ackguard.harness.web_chaos import LogsTab, form_defaults
from ackguard.harness.web_routes import ChaosState, install_chaos_tab
from tests.live.test_board import SCENARIO, runner_for


class Idle(User):
    wait_time = constant(1)

    @task
    def nothing(self) -> None:
        pass


def main(run_dir: Path) -> None:
    history = HistoryWriter(run_dir / "history.jsonl")
    state = ChaosState(runner_for(run_dir, history), Board(history), [], run_dir)
    environment = Environment(user_classes=[Idle])
    environment.create_local_runner()
    environment.parsed_options = form_defaults(parse_scenario(SCENARIO, "board.yaml"))
    sys.argv = sys.argv[:1]  # Locust's page parses sys.argv for its own options
    web_ui = environment.create_web_ui("127.0.0.1", 0, delayed_start=True)  # never listens
    install_chaos_tab(web_ui, state)
    assert web_ui.app is not None
    client = web_ui.app.test_client()
    seen = {
        "page": client.get("/").get_data(as_text=True),
        "script_status": client.get("/chaos/static/chaos.js").status_code,
        "stats": client.get("/stats/requests").get_json(),
    }
    state.phase = "done"
    form = {"user_count": 1, "spawn_rate": 1, "host": ""}
    seen["swarm_after_verdict"] = client.post("/swarm", data=form).get_json()
    logs = LogsTab()
    logs.add("registering 7 practitioners")
    logging.getLogger("somewhere").warning("a warning logged anywhere")  # still on stderr
    logging.getLogger("somewhere").info("an info line")  # below the tab's level
    seen["logs"] = client.get("/logs").get_json()["master"]
    logs.close()
    print(json.dumps(seen))
    history.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
