"""A suite's ``junit.xml``: one test suite, one test case per scenario, judged by the suite.

An ``OK`` scenario passes (an expected FAIL that failed as expected included); a ``MISMATCH`` is
a ``failure`` naming the expected and the actual verdict and the damage; an ``UNKNOWN`` is an
``error`` with the verdict's reasons; a scenario ``NOT RUN`` is an ``error`` too, so a suite cut
short is never a green build. Each case's counts (every record class of its verdict), run
directory, report and replay command are the case's own properties (``count.lost``, ...), as
Jenkins' JUnit plugin, GitLab and pytest's xunit1 read them, and again on the test suite named
``<scenario>.<what>`` for the readers that look only there. The same facts are in each case's
``system-out`` for the dashboards that show it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ackguard.harness.suite import ScenarioOutcome
from ackguard.harness.suite_file import expect_word
from ackguard.reports.words import damage_counts

__all__ = ["case_properties", "write_suite_junit"]

_ILLEGAL_XML = dict.fromkeys(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))


def write_suite_junit(
    name: str, outcomes: Sequence[ScenarioOutcome], path: Path, *, started: datetime | None = None
) -> Path:
    suite_name = f"ackguard.suite.{name}"
    cases = [_case(suite_name, done) for done in outcomes]
    counts = {
        "tests": len(cases),
        "failures": sum(1 for c in cases if c.find("failure") is not None),
        "errors": sum(1 for c in cases if c.find("error") is not None),
        "skipped": 0,
    }
    elapsed = sum(done.duration_s for done in outcomes)
    totals = {k: str(v) for k, v in counts.items()} | {"time": f"{elapsed:.3f}"}
    root = ET.Element("testsuites", {"name": "ackguard", **totals})
    suite = ET.SubElement(root, "testsuite", {"name": suite_name, **totals})
    if started is not None:
        suite.set("timestamp", started.strftime("%Y-%m-%dT%H:%M:%S"))
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="suite", value=_clean(name))
    for done in outcomes:
        for key, value in case_properties(done):
            ET.SubElement(properties, "property", name=_clean(key), value=_clean(value))
    suite.extend(cases)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def case_properties(done: ScenarioOutcome) -> list[tuple[str, str]]:
    """``(label.what, value)`` for one scenario: verdict, expectation, outcome, every count,
    run directory, report, seed and the command that replays it."""
    return [(f"{done.label}.{key}", value) for key, value in _facts(done)]


def _facts(done: ScenarioOutcome) -> list[tuple[str, str]]:
    found = [
        ("scenario", done.scenario),
        ("verdict", "-" if done.verdict is None else expect_word(done.verdict)),
        ("expected", expect_word(done.expected)),
        ("outcome", done.outcome),
        ("status", done.status),
        *((f"count.{kind}", str(n)) for kind, n in done.counts.items()),
        ("run_dir", str(done.run_dir) if done.run_dir else ""),
        ("report", str(done.report) if done.report else ""),
        ("seed", "" if done.seed is None else str(done.seed)),
        ("command", done.command),
    ]
    return [(key, value) for key, value in found if value]


def _case(suite_name: str, done: ScenarioOutcome) -> ET.Element:
    case = ET.Element(
        "testcase", classname=suite_name, name=_clean(done.label), time=f"{done.duration_s:.3f}"
    )
    own = ET.SubElement(case, "properties")
    for key, value in _facts(done):
        ET.SubElement(own, "property", name=key, value=_clean(value))
    damage = _damage(done)
    got = "no verdict" if done.verdict is None else expect_word(done.verdict)
    wanted = expect_word(done.expected)
    details = "\n".join(
        [
            *(f"{key}: {value}" for key, value in _facts(done)),
            *(f"reason: {r}" for r in done.reasons),
        ]
    )
    if done.outcome == "MISMATCH":
        message = f"expected {wanted}, got {got}: {damage}"
        _child(case, "failure", message, details, "expectation")
    elif done.outcome == "UNKNOWN":
        message = f"{got} (expected {wanted}): " + ("; ".join(done.reasons) or "no reason given")
        _child(case, "error", message, details, "unknown")
    elif done.outcome == "NOT RUN":
        message = "not run: " + ("; ".join(done.reasons) or "the suite stopped before it")
        _child(case, "error", message, details, "not-run")
    out = ET.SubElement(case, "system-out")
    out.text = _clean(
        f"{got} as expected ({wanted}): {damage}\n{details}" if done.outcome == "OK" else details
    )
    return case


def _child(case: ET.Element, tag: str, message: str, text: str, kind: str) -> None:
    element = ET.SubElement(case, tag, message=_clean(message), type=kind)
    element.text = _clean(text)


def _damage(done: ScenarioOutcome) -> str:
    damage = damage_counts(done.counts)
    return (
        ", ".join(f"{n} {kind}" for kind, n in damage.items()) or "no acknowledged record damaged"
    )


def _clean(text: str) -> str:
    """XML 1.0 cannot carry most control characters, even escaped (scenario names can)."""
    return text.translate(_ILLEGAL_XML).encode("utf-8", "replace").decode("utf-8")
