"""Create-only consultations (``consultation_steps: create_only``) in a short Locust run against
a real server: each practitioner's bounded agenda is its creates and nothing else, with the key
and visit reason its full plan would have sent, and the server stored them as acknowledged."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from ackguard.harness.history import OBSERVATION_FIELDS, Op, digest_fields, read_history
from ackguard.harness.workload import DEFAULT_SIM_START
from ackguard.harness.workload.model import build_practice
from ackguard.harness.workload.schedule import consultation_slots, plan_consultation
from tests.workload.reference_server import ReferenceServer

SEED, PRACTITIONERS, USERS, CONSULTATIONS = 13, 8, 3, 2


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("create-only")
    server = ReferenceServer(out / "db.sqlite").start()
    try:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "tests.workload.locust_run", "--url", server.url),
                *("--out", str(out), "--seconds", "4", "--seed", str(SEED)),
                *("--practitioners", str(PRACTITIONERS), "--users", str(USERS)),
                *("--steps", "create_only", "--consultations", str(CONSULTATIONS)),
                "--time-scale",
                "86400",  # a simulated day per second: every agenda ends within the run
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr[-4000:]
    yield out


def ops(out: Path) -> list[Op]:
    return list(read_history(out / "history.jsonl"))


def test_every_practitioner_creates_its_consultations_and_does_nothing_else(run: Path) -> None:
    history = ops(run)
    assert {op.f for op in history} == {"create"}
    assert {op.type for op in history} == {"invoke", "ok"}
    acknowledged = Counter(
        str(op.value["practitioner_id"])  # type: ignore[index]
        for op in history
        if op.type == "ok"
    )
    directory = json.loads((run / "directory.json").read_text(encoding="utf-8"))
    everyone = {str(entry["id"]) for entry in directory["practitioners"]}
    assert acknowledged == dict.fromkeys(everyone, CONSULTATIONS)


def test_each_create_sends_the_key_and_visit_reason_of_the_full_plan(run: Path) -> None:
    practice = build_practice(SEED, PRACTITIONERS, 5, DEFAULT_SIM_START.date())
    planned = {}
    for profile in practice:
        for slot in itertools.islice(
            consultation_slots(profile, SEED, DEFAULT_SIM_START), CONSULTATIONS
        ):
            plan = plan_consultation(SEED, profile, slot, amend_probability=0.5)
            planned[plan.key] = plan
    invokes = [op for op in ops(run) if op.type == "invoke"]
    assert len(invokes) == PRACTITIONERS * CONSULTATIONS
    for op in invokes:
        plan = planned[str(op.key)]
        sent = {name: plan.created_fields.get(name) for name in OBSERVATION_FIELDS}
        assert op.value["fields"] == digest_fields(sent)  # type: ignore[index]
        assert op.value["started_at"] == plan.slot.start.isoformat()  # type: ignore[index]
    stored = {record["idempotency_key"] for record in json.loads((run / "export.json").read_text())}
    assert stored == set(planned)
