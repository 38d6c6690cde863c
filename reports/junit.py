"""``junit.xml``: one test case per verifier (and the expected-verdict check), for CI dashboards.

The shape is the common Jenkins/Surefire one: ``testsuites/testsuite/testcase`` with a
``failure`` (verdict false), ``error`` (unknown) or ``skipped`` child. A run whose verdict is
unknown, that was interrupted, whose harness failed or that has no verdict also gets a
``verdict`` case whose error message gives every reason: such a run is never a green build.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from ackguard.harness.verifiers.result import Anomaly, Result, Verdict
from ackguard.reports.banner import banner, result_reason
from ackguard.reports.rundata import RunData
from ackguard.reports.words import DAMAGE_CLASSES

__all__ = ["write_junit"]

FIRST_OFFENDERS = 20
_ILLEGAL_XML = dict.fromkeys(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))


def write_junit(run: RunData, path: Path) -> Path:
    suite_name = f"ackguard.{run.title}"
    cases: list[ET.Element] = []
    verdict = run.verdict
    shown = banner(run)
    if verdict is None and shown.kind == "none":
        case = _case(suite_name, "verdict")
        reason = "no verdict.json: the run was cut short before it was verified"
        _child(case, "error", reason, "\n".join(_missing_lines(run)), "missing-verdict")
        cases.append(case)
    elif shown.kind not in ("pass", "fail"):
        # unknown, interrupted, harness error, still running: an error, never a pass, with
        # every reason in the message a CI dashboard shows
        case = _case(suite_name, "verdict")
        lead = f"{shown.word}: " if shown.kind == "unknown" else f"{shown.headline}: "
        message = lead + "; ".join(shown.reasons)
        text = "\n".join([shown.headline, *shown.reasons, *_missing_lines(run)])
        _child(case, "error", message, text, shown.kind)
        cases.append(case)
    if verdict is not None:
        cases.extend(_result_case(suite_name, result) for result in verdict.results)
    if run.expected is not None:
        cases.append(_expected_case(suite_name, run, verdict))
    duration = run.info.duration_s if run.info and run.info.duration_s else 0.0
    counts = {
        "tests": len(cases),
        "failures": sum(1 for c in cases if c.find("failure") is not None),
        "errors": sum(1 for c in cases if c.find("error") is not None),
        "skipped": sum(1 for c in cases if c.find("skipped") is not None),
    }
    totals = {k: str(v) for k, v in counts.items()} | {"time": f"{duration:.3f}"}
    root = ET.Element("testsuites", {"name": "ackguard", **totals})
    suite = ET.SubElement(root, "testsuite", {"name": suite_name, **totals})
    if run.info and run.info.started_at:
        suite.set("timestamp", run.info.started_at.strftime("%Y-%m-%dT%H:%M:%S"))
    properties = ET.SubElement(suite, "properties")
    for name, value in _properties(run):
        ET.SubElement(properties, "property", name=name, value=_clean(value))
    suite.extend(cases)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _case(suite_name: str, name: str) -> ET.Element:
    return ET.Element("testcase", classname=suite_name, name=name, time="0")


def _child(case: ET.Element, tag: str, message: str, text: str, kind: str) -> None:
    element = ET.SubElement(case, tag, message=_clean(message), type=kind)
    element.text = _clean(text)


def _result_case(suite_name: str, result: Result) -> ET.Element:
    case = _case(suite_name, result.name)
    counts = ", ".join(f"{n} {kind}" for kind, n in result.counts.items() if n)
    if result.valid is False:
        offenders = [_anomaly_line(a) for a in result.anomalies[:FIRST_OFFENDERS]]
        more = len(result.anomalies) - len(offenders)
        text = "\n".join(
            [f"counts: {counts}", *offenders] + ([f"... and {more} more"] if more > 0 else [])
        )
        _child(case, "failure", _failure_message(result), text, "verdict-false")
    elif result.valid is not True:
        why = result_reason(result) or "it gave no reason"
        _child(case, "error", f"{result.name} could not tell: {why}", counts, "unknown")
    return case


def _failure_message(result: Result) -> str:
    counts = result.counts
    parts = [f"{counts[kind]} {kind}" for kind in DAMAGE_CLASSES if counts.get(kind, 0)]
    if not parts:
        tally: dict[str, int] = {}
        for anomaly in result.anomalies:
            tally[anomaly.kind] = tally.get(anomaly.kind, 0) + 1
        parts = [f"{n} {k}" for k, n in tally.items()]
    return "acknowledged records damaged: " + (", ".join(parts) or "see the report")


def _anomaly_line(anomaly: Anomaly) -> str:
    fields = ", ".join(f.field for f in anomaly.fields)
    ack = f" acknowledged at {anomaly.ack_time / 1e9:.3f}s" if anomaly.ack_time is not None else ""
    return (
        f"{anomaly.kind}: key={anomaly.key} id={anomaly.id} practitioner={anomaly.practitioner_id}"
        f" patient={anomaly.patient_id}" + (f" fields={fields}" if fields else "") + ack
    )


def _expected_case(suite_name: str, run: RunData, verdict: Verdict | None) -> ET.Element:
    case = _case(suite_name, "expected verdict")
    expected = json.dumps(run.expected)
    if verdict is None:
        _child(
            case, "error", f"expected verdict {expected}, but the run has no verdict", "", "unknown"
        )
    elif verdict.valid != run.expected:
        got = json.dumps(verdict.valid)
        _child(case, "failure", f"expected verdict {expected}, got {got}", "", "expectation")
    return case


def _properties(run: RunData) -> list[tuple[str, str]]:
    info = run.info
    found = [("run", run.name)]
    if info is not None:
        found += [
            (name, str(value))
            for name, value in (
                ("scenario", info.scenario),
                ("seed", info.seed),
                ("status", info.status),
                ("command", info.command),
                ("started_at", info.started_at.isoformat() if info.started_at else None),
            )
            if value is not None
        ]
    if run.verdict is not None:
        found += [(f"count.{k}", str(v)) for k, v in run.verdict.counts.items()]
    return found


def _missing_lines(run: RunData) -> list[str]:
    return [f"missing: {name}" for name in run.missing] + list(run.problems)


def _clean(text: str) -> str:
    """XML 1.0 cannot carry most control characters, even escaped."""
    return text.translate(_ILLEGAL_XML).encode("utf-8", "replace").decode("utf-8")
