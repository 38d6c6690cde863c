"""The lines ``ackguard run`` prints: each operations line counts one unit on both sides, and an
unknown verdict prints its reasons."""

from __future__ import annotations

import re
from pathlib import Path

from ackguard.harness.final_read import FinalRead, FinalRecord
from ackguard.harness.history import FieldDigest
from ackguard.harness.summary import summary
from ackguard.harness.verifiers import compose_file, verifiers_named
from ackguard.harness.verifiers.result import Result, Verdict
from tests.reports.runbuilder import ScriptedWriter, write_create

NOTE = "Sore throat, two days."
_LINE = re.compile(
    r"(?P<label>writes|reads) \(.*?\): (?P<attempted>[\d,]+) attempted = (?P<done>[\d,]+) "
    r"(?:acknowledged|answered) \+ (?P<failed>[\d,]+) failed \+ (?P<info>[\d,]+) indeterminate"
    r" \+ (?P<pending>[\d,]+) unanswered at the end"
)


def _numbers(text: str) -> dict[str, dict[str, int]]:
    found = {}
    for match in _LINE.finditer(text):
        groups = match.groupdict()
        label = groups.pop("label")
        found[label] = {k: int(v.replace(",", "")) for k, v in groups.items()}
    return found


def test_operations_lines_add_up_in_one_unit(tmp_path: Path) -> None:
    """Creates that end ok, fail, info and never; an update of each outcome; reads. The writes
    line counts creates and updates alike, and its parts add up to what was attempted."""
    history = tmp_path / "history.jsonl"
    final: list[FinalRecord] = []
    with ScriptedWriter(history) as writer:
        outcomes = ["ok"] * 5 + ["fail"] * 3 + ["info"] * 2
        for n, outcome in enumerate(outcomes):
            write_create(
                writer,
                at=n,
                took=0.1,
                process=n,
                key=f"k-{n}",
                practitioner_id="1",
                patient_id="1",
                fields={"visit_reason": NOTE},
                record_id=str(n),
                outcome=outcome,
            )
            if outcome == "ok":
                fields = {"visit_reason": FieldDigest.of(NOTE)}
                final.append(FinalRecord(str(n), f"k-{n}", "1", "1", 1, fields))
        for n, outcome in enumerate(("ok", "fail", "info")):  # updates of k-0
            value = {"id": "0", "practitioner_id": "1", "patient_id": "1", "fields": {}}
            writer.at(20 + n).record(100 + n, "invoke", "update", key="k-0", value=value)
            writer.at(20.1 + n).record(100 + n, outcome, "update", key="k-0", value=value)  # type: ignore[arg-type]
        for n in range(4):  # reads: 3 answered, 1 timed out
            outcome = "ok" if n < 3 else "info"
            writer.at(30 + n).record(200 + n, "invoke", "read", key="k-1", value={"id": "1"})
            found = {
                "id": "1",
                "found": True,
                "fields": {"visit_reason": FieldDigest.of(NOTE).to_json()},
            }
            writer.at(30.1 + n).record(200 + n, outcome, "read", key="k-1", value=found)  # type: ignore[arg-type]
        # still in flight when the history ends: one create, one update
        writer.at(40).record(300, "invoke", "create", key="k-late", value={"practitioner_id": "1"})
        writer.at(41).record(301, "invoke", "update", key="k-0", value={"fields": {}})
    verdict = compose_file(
        verifiers_named(["records", "read_your_writes"]),
        history,
        FinalRead("api", True, final, None, 10**12),
    )
    text = summary(tmp_path, verdict, "completed", None)
    numbers = _numbers(text)
    writes, reads = numbers["writes"], numbers["reads"]
    # 11 creates (5 ok, 3 fail, 2 info, 1 pending) and 4 updates (1 of each)
    assert writes == {"attempted": 15, "done": 6, "failed": 4, "info": 3, "pending": 2}
    assert reads == {"attempted": 4, "done": 3, "failed": 0, "info": 1, "pending": 0}
    for line in (writes, reads):
        assert line["attempted"] == line["done"] + line["failed"] + line["info"] + line["pending"]
    assert "records (consultations): 11 attempted, 5 acknowledged" in text
    assert text.startswith(f"run: {tmp_path} (completed)")


def test_unknown_prints_every_reason_and_an_interrupted_run_says_so(tmp_path: Path) -> None:
    reasons = ("fault toxic-0 never started: this run has no proxy", "no read ever completed")
    result = Result("records", True, {"acknowledged": 3})
    verdict = Verdict("unknown", {"acknowledged": 3}, (result,), reasons=reasons)
    text = summary(tmp_path, verdict, "interrupted", None)
    assert f"run: {tmp_path} (interrupted: stopped before its planned end" in text
    assert "verdict: UNKNOWN, for 2 reasons:" in text
    assert all(f"  - {reason}" in text for reason in reasons)
    one = Verdict("unknown", {}, (result,), reasons=reasons[:1])
    assert f"verdict: UNKNOWN: {reasons[0]}" in summary(tmp_path, one, "completed", None)


def test_the_live_line_says_what_the_read_backs_caught_and_any_unconfirmed_alarm(
    tmp_path: Path,
) -> None:
    result = Result("records", False, {"acknowledged": 40, "lost": 3})
    live = {
        "reads": 532,
        "damaged": 3,
        "detected": 2,
        "median_time_to_detect_s": 0.088,
        "max_time_to_detect_s": 0.84,
        "median_after_service_back_s": 0.065,
        "unconfirmed": 1,
    }
    verdict = Verdict(False, {"acknowledged": 40, "lost": 3}, (result,), live=live)
    text = summary(tmp_path, verdict, "completed", None)
    assert (
        "live: 532 read-backs caught 2 of 3 damaged records while the load ran; time to detect "
        "median 0.088 s, max 0.84 s (0.065 s after the service was back)" in text
    )
    assert "live alarms the final read did not confirm: 1" in text
    quiet = Verdict(True, {"acknowledged": 40}, (Result("records", True, {}),))
    assert "live:" not in summary(tmp_path, quiet, "completed", None)
