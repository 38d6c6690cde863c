"""What a reader is told in words: the banner of an unknown, interrupted or failed run, junit's
error with the reasons, the duplicates section, the runs index chart, the timeline's legend and
the verifier tables."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from ackguard import reports
from tests.reports.conftest import NOTE
from tests.reports.runbuilder import (
    ScriptedWriter,
    patient,
    practitioner,
    write_create,
    write_directory,
    write_fault,
    write_run_json,
    write_verdict_json,
)
from tests.reports.test_report_html import _section, _text

SCHEMA = Path(__file__).with_name("junit.xsd")
REASONS = [
    "fault toxic-0 never started: this run has no proxy",
    "only 0 writes were acknowledged; the scenario needs at least 1",
    "read_your_writes: no read ever completed",
]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA))


def _run(run_dir: Path, status: str = "completed", **run_json: object) -> Path:
    run_dir.mkdir(parents=True)
    write_run_json(run_dir, status=status, **run_json)
    with ScriptedWriter(run_dir / "history.jsonl") as writer:
        write_create(
            writer,
            at=0.5,
            took=0.01,
            process=1,
            key="k-1",
            practitioner_id="1",
            patient_id="1",
            fields={"visit_reason": NOTE},
            record_id="1",
        )
    return run_dir


def _banner(page: str) -> tuple[str, str]:
    match = re.search(r'<div class="verdict ([a-z]+)" id="verdict">(.*?)</div>', page, re.S)
    assert match is not None
    return match.group(1), _text(match.group(2))


def _junit_verdict(junit: Path) -> ET.Element:
    root = ET.parse(junit).getroot()
    case = next(c for c in root.iter("testcase") if c.get("name") == "verdict")
    error = case.find("error")
    assert error is not None
    return error


def test_unknown_banner_shows_every_reason(tmp_path: Path, schema: xmlschema.XMLSchema) -> None:
    run_dir = _run(tmp_path / "run")
    records = {"name": "records", "valid": True, "counts": {"acknowledged": 1}}
    write_verdict_json(run_dir, "unknown", results=[records], reasons=REASONS)
    rendered = reports.render_run(run_dir)
    page = rendered.html.read_text("utf-8")
    kind, words = _banner(page)
    assert kind == "unknown"
    assert words.startswith(f"UNKNOWN: {REASONS[0]} (and 2 more reasons below)")
    listed = re.findall(r"<li>(.*?)</li>", page.split('id="reasons"')[1].split("</ul>")[0])
    assert listed == REASONS
    assert page.startswith("<!DOCTYPE html>") and "<title>UNKNOWN · synthetic" in page
    schema.validate(str(rendered.junit))
    error = _junit_verdict(rendered.junit)
    assert error.get("message") == "UNKNOWN: " + "; ".join(REASONS)
    assert all(reason in (error.text or "") for reason in REASONS)
    suite = ET.parse(rendered.junit).getroot().find("testsuite")
    assert suite is not None and suite.get("errors") == "1"


def test_unknown_without_reasons_falls_back_to_the_verifiers(tmp_path: Path) -> None:
    run_dir = _run(tmp_path / "run")
    records = {"name": "records", "valid": "unknown", "extra": {"reason": "no final read"}}
    write_verdict_json(run_dir, "unknown", results=[records])  # a verdict.json of old
    kind, words = _banner(reports.render_run(run_dir).html.read_text("utf-8"))
    assert (kind, words) == ("unknown", "UNKNOWN: records: no final read")


@pytest.mark.parametrize(
    ("status", "verdict", "headline", "reason"),
    [
        (
            "interrupted",
            True,
            "UNKNOWN, INTERRUPTED: the run was stopped before its planned end",
            "a run cut short proves nothing",
        ),
        (
            "interrupted",
            "unknown",
            "UNKNOWN, INTERRUPTED: the run was stopped before its planned end",
            "the run was interrupted after 3 s of 10 s",
        ),
        (
            "error",
            "unknown",
            "UNKNOWN, HARNESS ERROR: ackguard itself failed during the run",
            "the harness failed: RuntimeError: the service did not come back",
        ),
        (
            "running",
            None,
            "UNKNOWN, NOT FINISHED: run.json still says the run is going",
            "no verdict: the run was cut short before it was verified",
        ),
    ],
)
def test_a_run_that_did_not_complete_has_its_own_banner_never_green(
    tmp_path: Path,
    schema: xmlschema.XMLSchema,
    status: str,
    verdict: bool | str | None,
    headline: str,
    reason: str,
) -> None:
    error = "RuntimeError: the service did not come back" if status == "error" else None
    run_dir = _run(tmp_path / "run", status=status, error=error)
    if verdict is not None:
        reasons = [] if verdict is True else ["the run was interrupted after 3 s of 10 s"]
        write_verdict_json(run_dir, verdict, reasons=reasons)
    rendered = reports.render_run(run_dir)
    page = rendered.html.read_text("utf-8")
    kind, words = _banner(page)
    assert kind == status and kind != "pass"
    assert words.startswith(headline) and reason in words
    assert "PASS" not in words
    schema.validate(str(rendered.junit))
    message = _junit_verdict(rendered.junit).get("message") or ""
    assert message.startswith(headline) and reason in message


def test_a_failure_in_an_interrupted_run_stays_a_failure_and_says_so(tmp_path: Path) -> None:
    run_dir = _run(tmp_path / "run", status="interrupted")
    lost = {"kind": "lost", "key": "k-1", "id": "1", "practitioner_id": "1", "patient_id": "1"}
    records = {"name": "records", "valid": False, "counts": {"lost": 1}, "anomalies": [lost]}
    write_verdict_json(run_dir, False, results=[records], counts={"lost": 1})
    kind, words = _banner(reports.render_run(run_dir).html.read_text("utf-8"))
    assert kind == "fail"
    assert words.startswith("FAIL: 1 acknowledged record lost")
    assert "stopped before its planned end: the damage shown is real" in words


def _duplicates_run(run_dir: Path) -> Path:
    _run(run_dir)
    write_directory(run_dir, [practitioner(1)], [patient(1)])
    duplicate = {
        "kind": "duplicate",
        "key": "k-1",
        "id": "12",
        "practitioner_id": "1",
        "patient_id": "1",
        "ids": ["12", "57"],
    }
    counts = {"attempted": 1, "acknowledged": 1, "intact": 1, "duplicate": 1}
    records = {"name": "records", "valid": False, "counts": counts, "anomalies": [duplicate]}
    write_verdict_json(run_dir, False, results=[records], counts=counts)
    return run_dir


def test_duplicates_are_not_called_harmless_and_show_both_ids(tmp_path: Path) -> None:
    run_dir = _duplicates_run(tmp_path / "runs" / "20261129T040000-dup")
    page = reports.render_run(run_dir).html.read_text("utf-8")
    text = _text(page)
    assert "No acknowledged record was lost or damaged" not in text
    assert "No acknowledged record was lost or corrupted" in text
    assert "Other violations were found: 1 duplicate" in text
    assert "Records with a violation (1: 1 duplicate)" in text
    row = _section(page, "records")
    assert "ids 12, 57" in row
    assert "one key, 2 records: consultations 12 and 57" in row
    assert _banner(page) == ("fail", "FAIL: 1 duplicated")
    csv_row = (run_dir / "impact.csv").read_text("utf-8").splitlines()[1]
    assert ",12 57," in csv_row


def test_the_runs_index_charts_every_damage_class(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _duplicates_run(runs / "20261129T040000-dup")
    phantom_run = _run(runs / "20261129T050000-phantom")
    counts = {"phantom": 2, "misattributed": 1}
    write_verdict_json(phantom_run, False, counts=counts)
    page = reports.render_index(runs).read_text("utf-8")
    svg = ET.fromstring(re.search(r"<svg.*?</svg>", page, re.S).group(0))  # type: ignore[union-attr]
    legend_texts = {
        text.text
        for group in svg.iter(f"{SVG}g")
        if (group.get("id") or "").startswith("legend")
        for text in group.iter(f"{SVG}text")
    }
    assert {"duplicate", "phantom", "misattributed"} <= legend_texts
    assert "lost" not in legend_texts and "corrupt" not in legend_texts  # none in these runs
    assert "records in violation, by class" in page
    rows = re.findall(r"<tr><td>.*?</tr>", page, re.S)
    assert "1 duplicate" in _text(rows[1])
    assert "2 phantom, 1 misattributed" in _text(rows[0])


def test_fault_names_are_in_a_legend_never_on_the_chart(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_run_json(run_dir, duration_s=10.0)
    names = ["crash-a", "crash-b", "latency-c"]
    with ScriptedWriter(run_dir / "history.jsonl") as writer:
        for n in range(20):
            write_create(
                writer,
                at=n * 0.5,
                took=0.01,
                process=1,
                key=f"k-{n}",
                practitioner_id="1",
                patient_id="1",
                fields={"visit_reason": NOTE},
                record_id=str(n),
            )
        # three windows a few ms apart: labels at their starts would print over each other
        for offset, name in enumerate(names):
            write_fault(writer, name, "kill", 2.0 + offset * 0.01, 4.0 if offset < 2 else None)
    page = reports.render_run(run_dir).html.read_text("utf-8")
    svg = ET.fromstring(re.search(r"<svg.*?</svg>", page, re.S).group(0))  # type: ignore[union-attr]
    in_legends: list[str] = []
    for group in svg.iter(f"{SVG}g"):
        if (group.get("id") or "").startswith("legend"):
            in_legends += [t.text or "" for t in group.iter(f"{SVG}text")]
    everywhere = [t.text or "" for t in svg.iter(f"{SVG}text")]
    for name in names:
        on_chart = [t for t in everywhere if name in t]
        assert on_chart and all(t in in_legends for t in on_chart), name
    assert "latency-c (not healed)" in in_legends
    assert "fault windows (shaded)" in in_legends


def test_verifier_and_latency_tables_speak_plain_words(tmp_path: Path) -> None:
    run_dir = _run(tmp_path / "run")
    zeros = {"0": 0.0, "0.5": 0.0, "0.95": 0.0, "0.99": 0.0, "1": 0.0}
    results: list[dict[str, object]] = [
        {"name": "records", "valid": True, "counts": {"acknowledged": 1, "intact": 1}},
        {
            "name": "read_your_writes",
            "valid": "unknown",
            "counts": {"stable": 0, "never_read": 1},
            "extra": {
                "stable_latencies": zeros,
                "lost_latencies": {},
                "never_read": 1,
                "reason": "no read ever completed",
            },
        },
    ]
    write_verdict_json(run_dir, "unknown", results=results, reasons=["no read ever completed"])
    page = reports.render_run(run_dir).html.read_text("utf-8")
    table = _section(page, "results")
    assert "records passed records acknowledged: 1, records intact: 1" in table
    assert "read_your_writes could not tell" in table
    assert "records never read back: 1" in table and "no read ever completed" in table
    latencies = _section(page, "latencies-read_your_writes")
    assert "No read missed an acknowledged record that reads saw: 0 ms" in latencies
    assert "No such record." in latencies
    shown = _text(page.split('id="verifiers"')[1].split('id="reproduce"')[0])
    for bare in ("true", "false", "never_read", "stable_latencies", "lost_latencies", "0.0"):
        assert not re.search(rf"(?<![\w.]){re.escape(bare)}(?![\w.])", shown), bare


def test_simulated_practice_time_beside_wall_time(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_run_json(run_dir, time_scale=3600.0, sim_start="2026-03-02T08:00:00+01:00")
    write_directory(run_dir, [practitioner(1)], [patient(1)])
    with ScriptedWriter(run_dir / "history.jsonl") as writer:
        for n, started in enumerate(("2026-03-02T08:30:00+01:00", "2026-03-03T17:45:00+01:00")):
            value = {
                "practitioner_id": "1",
                "patient_id": "1",
                "started_at": started,
                "fields": {},
            }
            writer.at(n + 1.0).record(1, "invoke", "create", key=f"k-{n}", value=value)
            writer.at(n + 1.1).record(1, "ok", "create", key=f"k-{n}", value={**value, "id": n})
    lost = {"kind": "lost", "key": "k-1", "id": "1", "practitioner_id": "1", "patient_id": "1"}
    lost["ack_time"] = 2_100_000_000  # type: ignore[assignment]
    records = {"name": "records", "valid": False, "counts": {"lost": 1}, "anomalies": [lost]}
    write_verdict_json(run_dir, False, results=[records], counts={"lost": 1})
    rendered = reports.render_run(run_dir)
    text = _text(rendered.html.read_text("utf-8"))
    window = "Mon 2026-03-02 08:30 +01:00 → Tue 2026-03-03 17:45 +01:00"
    assert f"simulated practice {window}" in text  # beside the wall-clock start
    assert "started 2026-11-29 04:00:00.000 UTC" in text
    assert "2.100 s 2026-11-29 04:00:02.100 UTC practice Tue 2026-03-03 17:45 +01:00" in text
    assert "damaged consultations, simulated practice time Tue 2026-03-03 17:45" in text
    assert ",2026-03-03T17:45:00.000+01:00," in rendered.impact_csv.read_text("utf-8")
