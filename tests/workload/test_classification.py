"""Outcomes against real sockets: 2xx ok; 4xx and a refused connection fail; 5xx, a timeout, a
connection closed or reset after the request was sent: info. A timeout is never fail."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ackguard.harness.workload import HttpTarget, PatientEntry, PractitionerEntry, TargetContext
from tests.workload.scripted_server import ScriptedServer, closed_port

TIMEOUT_S = 0.5
EXPECTED = {
    "201": "ok",
    "200": "ok",
    "409": "fail",
    "404": "fail",
    "500": "info",
    "hang": "info",
    "close": "info",
    "reset": "info",
}
PRACTITIONER = PractitionerEntry("1", "10000000008", "Dr Test", "pédiatrie")
PATIENT = PatientEntry("2", "Léa Martin", "2020-02-02", "220027511203384")
STARTED = datetime(2026, 1, 5, 8, tzinfo=ZoneInfo("Europe/Paris"))


def create(url: str) -> tuple[str, str | None]:
    target = HttpTarget(TargetContext(url, TIMEOUT_S))
    answer = target.create(PRACTITIONER, PATIENT, "key-1", STARTED, {"visit_reason": "Fièvre"})
    return answer.outcome, answer.error


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_plain_client_classifies_each_answer(scripted: ScriptedServer, mode: str) -> None:
    outcome, error = create(scripted.url(mode))
    assert scripted.received.is_set(), "the request reached the server"
    assert outcome == EXPECTED[mode], error


def test_a_refused_connection_is_fail_since_nothing_was_sent() -> None:
    outcome, error = create(f"http://127.0.0.1:{closed_port()}")
    assert outcome == "fail"
    assert error is not None and "refused" in error.lower()


def test_a_read_of_an_unknown_record_is_ok_and_not_found(scripted: ScriptedServer) -> None:
    answer = HttpTarget(TargetContext(scripted.url("404"), TIMEOUT_S)).read("41")
    assert answer.outcome == "ok" and answer.found is False
    hanging = HttpTarget(TargetContext(scripted.url("hang"), TIMEOUT_S)).read("41")
    assert hanging.outcome == "info"


def test_an_acknowledged_create_carries_the_record(scripted: ScriptedServer) -> None:
    answer = HttpTarget(TargetContext(scripted.url("201"), TIMEOUT_S)).create(
        PRACTITIONER, PATIENT, "key-1", STARTED, {"visit_reason": "Fièvre"}
    )
    assert answer.record is not None and answer.record["id"] == "41"
    assert scripted.requests == ["POST /mode/201/v1/consultations HTTP/1.1"]


def test_locust_client_classifies_the_same_and_counts_in_locust_statistics(
    scripted: ScriptedServer,
) -> None:
    """Through Locust's FastHttpSession, in a process of its own (Locust patches gevent in)."""
    modes = sorted(EXPECTED)
    urls = [scripted.url(mode) for mode in modes] + [f"http://127.0.0.1:{closed_port()}"]
    done = subprocess.run(
        [sys.executable, "-m", "tests.workload.locust_probe", "--timeout", str(TIMEOUT_S), *urls],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["outcome"] for line in lines] == [EXPECTED[m] for m in modes] + ["fail"]
    for line in lines:
        assert line["locust"] == ("success" if line["outcome"] == "ok" else "failure"), line
