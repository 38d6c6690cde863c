"""The Chaos tab's parts without a browser: the board's counts from a real history, the fault
runner's window states and fire-now with real ``command`` faults (they create and remove a file),
the JSON routes through Flask's test client, and Locust's own web UI carrying the tab (its page
loads the script, /stats/requests carries the window rows, a Start after the verdict is refused,
its Logs tab shows the session's lines and warnings without silencing them).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ackguard.harness.faults.registry import build_fault
from ackguard.harness.faults.schedule import FaultRunner
from ackguard.harness.history import NEMESIS, HistoryWriter
from ackguard.harness.live import LiveDamage
from ackguard.harness.live.board import FIRST_RECORDS, Board, damage_summary
from ackguard.harness.scenario import parse_scenario
from ackguard.harness.web_routes import ChaosState, chaos_blueprint

pytestmark = pytest.mark.process  # the command faults run real (tiny) processes

SCENARIO = """\
name: board
seed: 5
duration: 45s
users: 7
practitioners: 7
faults:
  - kind: command
    name: flag
    params:
      start: [touch, "{run_dir}/broken"]
      heal: [rm, -f, "{run_dir}/broken"]
    schedule: {at: 1s, duration: 30s}
  - kind: command
    name: never
    params: {start: ["false"], heal: ["true"]}
    schedule: {at: 40s, duration: 1s}
"""


class RunContext:
    """What a command fault sees of a run: its directory, no components."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.database_url = "sqlite:///notes.db"

    def component(self, name: str) -> Any:
        raise KeyError(name)


def runner_for(run_dir: Path, history: HistoryWriter, horizon: float = 45.0) -> FaultRunner:
    """The fault runner of :data:`SCENARIO` (two command faults) acting in ``run_dir``."""
    scenario = parse_scenario(SCENARIO, "board.yaml")
    faults = [
        (s, build_fault(s.kind, RunContext(run_dir), s.parsed or s.params, name=s.name))
        for s in scenario.faults
    ]
    return FaultRunner(faults, history, seed=scenario.seed, horizon=horizon)


def _until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def _state_of(runner: FaultRunner, window: int) -> object:
    return runner.states()[window]["state"]


def test_the_board_counts_completed_practitioner_writes_by_outcome(tmp_path: Path) -> None:
    with HistoryWriter(tmp_path / "history.jsonl") as history:
        board = Board(history)
        for outcome in ("ok", "ok", "fail", "info"):
            history.record(3, "invoke", "create", key="k")
            history.record(3, outcome, "create", key="k")
        history.record(4, "ok", "update", key="k")
        history.record(4, "ok", "read", key="k")  # a read is not a write
        history.record(NEMESIS, "ok", "start", value={"fault": "f"})
    assert board.writes() == {"acknowledged": 3, "failed": 1, "indeterminate": 1}


def test_damage_summary_lists_the_first_records_and_counts_every_kind() -> None:
    second = 1_000_000_000
    found = [
        LiveDamage(f"k{i}", "lost" if i % 3 else "corrupt", f"p{i}", f"pat{i}",
                   () if i % 3 else ("conclusion",), second * i, second * i + second // 4, i)
        for i in range(FIRST_RECORDS + 5)
    ]  # fmt: skip
    summary = damage_summary(found)
    assert summary["count"] == FIRST_RECORDS + 5
    assert summary["by_kind"] == {"corrupt": 9, "lost": 16}
    first = summary["first"]
    assert isinstance(first, list) and len(first) == FIRST_RECORDS
    assert first[0] == {
        "kind": "corrupt", "key": "k0", "practitioner": "p0", "patient": "pat0",
        "fields": ["conclusion"], "acknowledged_s": 0.0, "time_to_detect_s": 0.25,
    }  # fmt: skip
    since_the_load = damage_summary(found, origin_ns=second // 2)["first"]
    assert isinstance(since_the_load, list) and since_the_load[3]["acknowledged_s"] == 2.5


def test_window_states_follow_the_schedule_a_fired_window_and_heal_all(tmp_path: Path) -> None:
    with HistoryWriter(tmp_path / "history.jsonl") as history:
        runner = runner_for(tmp_path, history)
        assert [w["state"] for w in runner.states()] == ["pending", "pending"]
        with pytest.raises(RuntimeError, match="has not started"):
            runner.fire("flag")
        runner.start()
        _until(lambda: _state_of(runner, 0) == "active")
        assert (tmp_path / "broken").exists()
        with pytest.raises(RuntimeError, match="active already"):
            runner.fire("flag")
        with pytest.raises(KeyError):
            runner.fire("nope")
        fired = runner.fire("never")  # its start command fails
        _until(lambda: _state_of(runner, fired) == "failed to start")
        assert runner.states()[fired]["fired"] is True
        assert "'false' exited with code 1" in str(runner.states()[fired]["error"])
        runner.heal_all()
        states = [w["state"] for w in runner.states()]
        assert states == ["healed", "skipped", "failed to start"], states
        assert not (tmp_path / "broken").exists()
        again = runner.fire("flag")  # heal everything does not end the session
        _until(lambda: _state_of(runner, again) == "active")
        runner.heal_all()
        assert _state_of(runner, again) == "healed"
    starts = [
        line for line in (tmp_path / "history.jsonl").read_text().splitlines() if '"start"' in line
    ]
    assert sum('"fired":true' in line for line in starts) == 4  # invoke + completion, twice


@pytest.fixture
def state(tmp_path: Path) -> Any:
    history = HistoryWriter(tmp_path / "history.jsonl")
    runner = runner_for(tmp_path, history)
    damage = [LiveDamage("k1", "lost", "7", "203", (), 3_500_000_000, 3_520_000_000, 10)]
    yield ChaosState(runner, Board(history), damage, tmp_path)
    runner.heal_all()
    history.close()


@pytest.fixture
def client(state: ChaosState) -> FlaskClient:
    app = Flask(__name__)
    app.register_blueprint(chaos_blueprint(state))
    return app.test_client()


def test_routes_fire_and_heal_known_faults_only_while_the_load_runs(
    state: ChaosState, client: FlaskClient, tmp_path: Path
) -> None:
    shown = client.get("/chaos/state").get_json()
    assert shown["phase"] == "ready" and [f["name"] for f in shown["faults"]] == ["flag", "never"]
    assert shown["damage"]["first"][0]["patient"] == "203"
    unknown = client.post("/chaos/fire/nope")
    assert unknown.status_code == 400
    assert unknown.get_json()["error"] == (
        "no fault named 'nope' in this scenario (its faults: flag, never)"
    )
    early = client.post("/chaos/fire/flag")
    assert early.status_code == 409 and "not running" in early.get_json()["error"]
    assert client.post("/chaos/heal").status_code == 409
    state.phase = "running"
    state.faults.start()
    _until(lambda: _state_of(state.faults, 0) == "active")
    assert client.post("/chaos/fire/flag").status_code == 409  # active already
    healed = client.post("/chaos/heal")
    assert healed.status_code == 200 and healed.get_json() == {"healed": ["flag"]}
    assert not (tmp_path / "broken").exists()
    fired = client.post("/chaos/fire/flag")
    assert fired.status_code == 200 and fired.get_json() == {"fired": "flag", "window": 2}
    _until(lambda: (tmp_path / "broken").exists())
    assert client.get("/chaos/state").get_json()["windows"][2]["fired"] is True
    assert client.get("/chaos/fire/flag").status_code == 405  # firing is a POST only


def test_run_files_are_served_from_the_run_directory_only(
    client: FlaskClient, tmp_path: Path
) -> None:
    (tmp_path / "report.html").write_text("<title>report</title>", encoding="utf-8")
    (tmp_path.parent / "secret.txt").write_text("outside", encoding="utf-8")
    with client.get("/chaos/run/report.html") as answer:
        assert answer.data == b"<title>report</title>"
    for path in ("../secret.txt", "..%2fsecret.txt", "%2e%2e/secret.txt", "/etc/passwd", "nope"):
        with client.get("/chaos/run/" + path, follow_redirects=True) as answer:
            assert answer.status_code == 404, path


def test_locusts_own_ui_carries_the_tab(tmp_path: Path) -> None:
    # Locust patches the standard library with gevent when imported: in a child process, not
    # in the test runner's.
    child = subprocess.run(
        [sys.executable, "-m", "tests.live.locust_tab", str(tmp_path)],
        cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    seen = json.loads(child.stdout)
    assert '<script src="./chaos/static/chaos.js"></script>' in seen["page"]
    args = json.loads(seen["page"].split("window.templateArgs = ", 1)[1].split("\n", 1)[0])
    assert args["extended_tabs"] == [{"title": "Chaos", "key": "chaos"}]
    assert args["extended_tables"][0]["key"] == "chaos"
    assert (args["num_users"], args["spawn_rate"], args["run_time"]) == (7, 7.0, 45)
    assert seen["script_status"] == 200
    rows = seen["stats"]["extended_stats"][0]["data"]
    assert [(r["fault"], r["window"], r["state"]) for r in rows] == [
        ("flag", "1.0 - 31.0", "pending"),
        ("never", "40.0 - 41.0", "pending"),
    ]
    assert seen["stats"]["state"] == "ready"  # Locust's own answer is kept whole
    refused = seen["swarm_after_verdict"]
    assert refused["success"] is False and "Start is refused" in refused["message"]
    assert [line.split("] ", 1)[-1] for line in seen["logs"]] == [
        "registering 7 practitioners",
        "a warning logged anywhere",
    ]
    assert "a warning logged anywhere" in child.stderr, "the Logs tab does not silence warnings"
