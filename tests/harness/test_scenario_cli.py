"""``ackguard run`` refuses a bad scenario before anything starts: exit 2, ``file:line`` on
stderr, no traceback, no run directory, no process left behind. These runs never start a
service; the many message checks live in test_scenario_checks.py and test_scenario_yaml.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.test_scenario_yaml import BOMB

HEAD = "name: bad\nduration: 20s\npractitioners: 2\n"  # lines 1-3
POSTGRES = "system:\n  database: {kind: postgres}\n  proxy: [database]\n"  # lines 4-6


def fault(kind: str, params: str = "{}", schedule: str = "{at: 5s, duration: 1s}") -> str:
    return f"faults:\n  - kind: {kind}\n    params: {params}\n    schedule: {schedule}\n"


CASES: dict[str, tuple[bytes, tuple[str, ...], str]] = {
    "alias bomb": (BOMB.encode(), (), "bad.yaml:"),
    "python tag": ((HEAD + "description: !!python/name:os.system x\n").encode(), (),
                   "bad.yaml:4: description: unsupported tag !!python/name:os.system"),
    "self reference": ((HEAD + "system: &s {defects: [*s]}\n").encode(), (),
                       "bad.yaml:4: system.defects[0]: an alias refers to a value that contains"),
    "invalid utf-8": (HEAD.encode() + b"description: caf\xe9\n", (),
                      "bad.yaml:4: not valid UTF-8 (byte 57: 0xe9)"),
    "huge name": (HEAD.replace("name: bad", "name: " + "n" * 300).encode(), (),
                  "bad.yaml:1: name: must be at most 64 characters, got 300"),
    "infinite duration": (HEAD.replace("20s", ".inf").encode(), (),
                          "bad.yaml:2: duration: must be a finite duration"),
    "a billion patients": ((HEAD + "patients_per_practitioner: 1000000000\n").encode(), (),
                           "bad.yaml:4: patients_per_practitioner: must be between 1 and 10,000"),
    "toxic without a proxy path": (
        (HEAD + fault("toxic", "{proxy: service, type: latency, attributes: {latency: 50}}"))
        .encode(), (), "bad.yaml:6: faults[0].params.proxy: the service path is not in"),
    "database-crash on sqlite": ((HEAD + fault("database-crash")).encode(), (),
                                 "bad.yaml:5: faults[0].kind: database-crash needs a database"),
    "database-crash on a url": (
        (HEAD + "system:\n  database: {kind: url, url: 'postgresql://127.0.0.1:9/x'}\n"
         + fault("database-crash")).encode(), (), "bad.yaml:7: faults[0].kind: database-crash "
        "on a url database needs the commands"),
    "fault after the end": ((HEAD + fault("service-kill", schedule="{at: 25s, duration: 1s}"))
                            .encode(), (), "bad.yaml:7: faults[0].schedule: the first window "
                            "starts at 25s"),
    "--duration before the first fault": (
        (HEAD + fault("service-kill", schedule="{at: 8s, duration: 1s}")).encode(),
        ("--duration", "5s"), "bad.yaml:7: faults[0].schedule: the first window starts at 8s, "
        "not before the end of the run at 5s (--duration)"),
    "latency too large": (
        (HEAD + POSTGRES + fault("toxic", "{proxy: database, type: latency, attributes: "
                                 "{latency: 99999999999999999999}}")).encode(), (),
        "bad.yaml:9: faults[0].params.attributes.latency: must be at most 3,600,000 (ms)"),
    "pg_commit_ack_drop on a real Toxiproxy": (
        (HEAD + POSTGRES + fault("toxic", "{proxy: database, type: pg_commit_ack_drop, "
                                 "attributes: {every: 3}}")).encode(), ("TOXIPROXY",),
        "bad.yaml:9: faults[0].params.type: the pg_commit_ack_drop toxic exists only in "
        "ackguard's built-in proxy, and this run would use a real Toxiproxy "
        "(TOXIPROXY_URL is set)"),
    "cut on a real Toxiproxy": (
        (HEAD + POSTGRES + fault("toxic", "{proxy: database, type: cut, attributes: "
                                 "{after_messages: 6}}")).encode(), ("TOXIPROXY",),
        "bad.yaml:9: faults[0].params.type: the cut toxic exists only"),
    "defect mode": ((HEAD + "system:\n  defects:\n    - name: lost_observations\n"
                     "      params: {mode: sideways}\n").encode(), (),
                    "bad.yaml:7: system.defects[0].params.mode: must be one of drop, stale"),
    "defect max_chars": ((HEAD + fault("defect", "{defect: silent_truncation, params: "
                                       "{max_chars: -1}}")).encode(), (),
                         "bad.yaml:6: faults[0].params.params.max_chars: must be between 0 and"),
    "cohort rpps as a string": ((HEAD + "system:\n  defects:\n    - name: silent_truncation\n"
                                 "      cohort: {rpps: '1'}\n").encode(), (),
                                "bad.yaml:7: system.defects[0].cohort.rpps: must be a list"),
}  # fmt: skip


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if text in command:
            found.append(f"{entry.name}: {command}")
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_scenario_exits_2_before_anything_starts(case: str, tmp_path: Path) -> None:
    content, extra, located = CASES[case]
    (tmp_path / "bad.yaml").write_bytes(content)
    runs = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if k != "TOXIPROXY_URL"}
    if "TOXIPROXY" in extra:
        env["TOXIPROXY_URL"] = "http://127.0.0.1:9"  # never contacted: refused before start
        extra = ()
    done = subprocess.run(
        [sys.executable, "-m", "ackguard", "run", "bad.yaml", "--runs-dir", str(runs), *extra],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert located in done.stderr
    assert "Traceback" not in done.stderr
    assert not runs.exists(), "nothing may start for a bad scenario"
    assert _processes_mentioning(str(tmp_path)) == []


def test_a_scenario_without_a_seed_prints_the_one_drawn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ackguard.harness.cli import _load
    from ackguard.harness.scenario import Scenario

    path = tmp_path / "s.yaml"
    path.write_text(HEAD, encoding="utf-8")
    drawn = _load(str(path), None)
    assert isinstance(drawn, Scenario) and not drawn.seed_given
    seed = drawn.seed
    assert f"seed {seed} (random; replay with --seed {seed})" in capsys.readouterr().err
    replay = _load(str(path), "10s", seed)
    assert isinstance(replay, Scenario)
    assert (replay.seed, replay.seed_given, replay.duration) == (seed, True, 10.0)
    assert "random" not in capsys.readouterr().err
    assert _load(str(path), None, -5) is None
    assert "--seed: must be between 0 and" in capsys.readouterr().err
    assert _load(str(path), "soon", None) is None
    assert "--duration: not a duration: 'soon'" in capsys.readouterr().err
