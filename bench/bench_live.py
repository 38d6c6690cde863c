"""Time to detect: how soon the live verifier catches a lost acknowledged write.

Runs ``async-commit-crash`` (PostgreSQL with asynchronous commit, crashed while practitioners
write) and the incident scenario (``incident-2023-lost-observations``: notes acknowledged and
never stored, no fault) through ``ackguard run``, then reads each run's ``verdict.json``: per
damaged record the time from its acknowledgement to the first live read-back that caught it
(``time_to_detect_s``) and from the end of the fault window that healed in between
(``after_service_back_s``). Prints median and max of both per scenario, how many damaged records
the read-backs caught, and how many live alarms the final verdict did not confirm (must be 0).

Target: under 2 s after the service is back.

example:
  .venv/bin/python bench/bench_live.py                       # both, 30 s each
  .venv/bin/python bench/bench_live.py --duration 60s --scenario async-commit-crash
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCENARIOS = ("async-commit-crash", "incident-2023-lost-observations")
DAMAGE = ("lost", "corrupt", "misattributed")
RUN_TIMEOUT_S = 900


def _run(scenario: str, duration: str, runs: Path) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ackguard", "run", scenario, "--duration", duration,
         "--runs-dir", str(runs)],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    found = sorted(p for p in runs.iterdir() if p.is_dir())
    if done.returncode not in (0, 1) or not found:
        raise SystemExit(f"{scenario}: ackguard run failed ({done.returncode}):\n{done.stderr}")
    return json.loads((found[-1] / "verdict.json").read_text(encoding="utf-8")), elapsed


def _spread(values: list[float]) -> str:
    if not values:
        return "n/a (none)"
    return f"median {statistics.median(values):.3f} s, max {max(values):.3f} s (n={len(values)})"


def _report(scenario: str, verdict: dict[str, Any], elapsed: float) -> dict[str, Any]:
    records = [r for r in verdict["results"] if r["name"] == "records"]
    damaged = [a for r in records for a in r["anomalies"] if a["kind"] in DAMAGE]
    detect = [a["time_to_detect_s"] for a in damaged if a.get("time_to_detect_s") is not None]
    back = [a["after_service_back_s"] for a in damaged if a.get("after_service_back_s") is not None]
    lost = [a for a in damaged if a["kind"] == "lost"]
    lost_detect = [a["time_to_detect_s"] for a in lost if a.get("time_to_detect_s") is not None]
    lost_back = [
        a["after_service_back_s"] for a in lost if a.get("after_service_back_s") is not None
    ]
    live = verdict.get("live", {})
    print(f"{scenario} ({elapsed:.0f} s wall): verdict {verdict['verdict']}")
    print(f"  read-backs {live.get('reads')}, damaged records {len(damaged)}, "
          f"caught live {len(detect)}, unconfirmed alarms {live.get('unconfirmed')}")  # fmt: skip
    print(f"  ack -> live detection, every damaged record: {_spread(detect)}")
    print(f"  service back -> live detection, every damaged record: {_spread(back)}")
    print(f"  ack -> live detection, lost records: {_spread(lost_detect)}")
    print(f"  service back -> live detection, lost records: {_spread(lost_back)}")
    return {
        "scenario": scenario,
        "damaged": len(damaged),
        "caught": len(detect),
        "unconfirmed": live.get("unconfirmed"),
        "detect_s": detect,
        "after_back_s": back,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="30s", help="load duration of each run (30s)")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="only these")
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-live-") as folder:
        for scenario in args.scenario or SCENARIOS:
            runs = Path(folder) / scenario
            runs.mkdir()
            verdict, elapsed = _run(scenario, args.duration, runs)
            found = _report(scenario, verdict, elapsed)
            failed |= bool(found["unconfirmed"])
            back = found["after_back_s"]
            if back and max(back) >= 2.0:
                print(f"  target missed: a detection {max(back):.3f} s after the service was back")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
