"""A short Locust run of the workload against a real server, then the history it left.

The server commits every 4th create and answers 500, and answers every 9th update only after the
client's timeout: the history must show those as indeterminate, the practitioner continuing under
a new process id, and each indeterminate create retried once with the same key and body.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ackguard.harness.history import OBSERVATION_FIELDS, Op, digest_fields, read_history
from ackguard.harness.workload import DEFAULT_SIM_START, valid_nir
from ackguard.harness.workload.model import build_practice
from ackguard.harness.workload.schedule import (
    ConsultationPlan,
    consultation_slots,
    plan_consultation,
)
from tests.workload.reference_server import ReferenceServer

SEED, PRACTITIONERS, USERS = 11, 6, 3


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("locust-run")
    server = ReferenceServer(out / "db.sqlite", flaky_every=4, slow_every=9, slow_s=1.5).start()
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.workload.locust_run",
                "--url",
                server.url,
                "--out",
                str(out),
                "--seconds",
                "4",
                "--practitioners",
                str(PRACTITIONERS),
                "--users",
                str(USERS),
                "--seed",
                str(SEED),
                "--timeout",
                "1.0",
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


def history(out: Path) -> list[Op]:
    return list(read_history(out / "history.jsonl"))


def planned(count: int = 400) -> dict[str, ConsultationPlan]:
    practice = build_practice(SEED, PRACTITIONERS, 5, DEFAULT_SIM_START.date())
    plans = {}
    for profile in practice:
        for slot in itertools.islice(consultation_slots(profile, SEED, DEFAULT_SIM_START), count):
            plan = plan_consultation(SEED, profile, slot, amend_probability=0.5)
            plans[plan.key] = plan
    return plans


def test_every_invoke_is_completed_by_the_same_process(run: Path) -> None:
    ops = history(run)
    assert len(ops) > 50
    pending: dict[object, Op] = {}
    for op in ops:
        if op.type == "invoke":
            assert op.process not in pending, f"process {op.process} invoked twice"
            pending[op.process] = op
        else:
            invoke = pending.pop(op.process)
            assert (invoke.f, invoke.key) == (op.f, op.key)
    assert not pending, f"invokes never completed: {list(pending.values())[:3]}"
    interrupted = [op for op in ops if op.error and "interrupted" in op.error]
    assert not interrupted, "with a stop timeout, operations in flight complete when the load stops"


def test_a_process_never_acts_again_after_an_indeterminate_op(run: Path) -> None:
    ops = history(run)
    ended: set[object] = set()
    for op in ops:
        assert op.process not in ended, f"process {op.process} acted after its info op"
        if op.type == "info":
            ended.add(op.process)
    assert ended, "the flaky server produced indeterminate outcomes"
    assert {op.f for op in ops if op.type == "info"} >= {"create", "update"}


def test_an_indeterminate_create_is_retried_once_with_the_same_key_and_body(run: Path) -> None:
    ops = history(run)
    invokes: dict[str, list[Op]] = defaultdict(list)
    for op in ops:
        if op.f == "create" and op.type == "invoke":
            invokes[str(op.key)].append(op)
    infos = [
        op
        for op in ops
        if op.f == "create" and op.type == "info" and "interrupted" not in str(op.error)
    ]
    assert infos
    for info in infos:
        attempts = invokes[str(info.key)]
        assert len(attempts) == 2, attempts
        assert attempts[0].value == attempts[1].value
        assert attempts[0].process != attempts[1].process


def test_written_digests_match_the_planned_notes(run: Path) -> None:
    plans = planned()
    writes = 0
    for op in history(run):
        if op.type != "invoke" or op.f not in ("create", "update"):
            continue
        plan = plans[str(op.key)]
        if op.f == "create":
            expected: dict[str, Any] = {
                name: plan.created_fields.get(name) for name in OBSERVATION_FIELDS
            }
            assert op.value["fields"] == digest_fields(expected)
            assert op.value["started_at"] == plan.slot.start.isoformat()
        else:
            candidates = [s.fields for s in plan.steps] + (
                [plan.amendment.fields] if plan.amendment else []
            )
            assert op.value["fields"] in [digest_fields(c) for c in candidates]
        writes += 1
    assert writes > 20


def test_the_final_export_holds_every_acknowledged_record_as_last_written(run: Path) -> None:
    export = {r["idempotency_key"]: r for r in json.loads((run / "export.json").read_text("utf-8"))}
    last: dict[str, dict[str, Any]] = defaultdict(dict)
    unsure: set[str] = set()
    for op in history(run):
        if op.f not in ("create", "update") or op.type == "invoke":
            continue
        if op.type == "ok":
            last[str(op.key)].update(op.value["fields"])
        elif op.type == "info":
            unsure.add(str(op.key))
    acknowledged = {k for k in last if k not in unsure}
    assert acknowledged and acknowledged <= set(export)
    for key in acknowledged:
        final = digest_fields({name: export[key][name] for name in OBSERVATION_FIELDS})
        for name, digest in last[key].items():
            assert final[name] == digest, (key, name)


def test_reads_and_lists_are_recorded_with_what_was_seen(run: Path) -> None:
    ops = history(run)
    reads = [op for op in ops if op.f == "read" and op.type == "ok"]
    lists = [op for op in ops if op.f == "list" and op.type == "ok"]
    assert reads and lists
    for op in reads:
        assert set(op.value["fields"]) == set(OBSERVATION_FIELDS) and op.value["found"] is True
    for op in lists:
        assert isinstance(op.value["keys"], list) and op.value["complete"] is True


ROUTES = {
    "create": "POST /v1/consultations",
    "update": "PATCH /v1/consultations/{id}",
    "read": "GET /v1/consultations/{id}",
    "list": "GET /v1/consultations?practitioner_id",
}


def test_locust_statistics_count_each_call_once_under_its_route_and_the_directory_is_written(
    run: Path,
) -> None:
    """Locust counts each operation's call once, grouped by route (not one name per record);
    how many there are depends on the machine's speed, so they are counted against the
    history, not against a number."""
    stats = json.loads((run / "stats.json").read_text())
    ops = history(run)
    invoked = [op for op in ops if op.type == "invoke"]
    # a user stopped in flight may leave its call uncounted, never counted twice
    interrupted = [op for op in ops if op.type == "info" and "interrupted" in str(op.error)]
    assert len(invoked) - len(interrupted) <= stats["requests"] <= len(invoked)
    assert invoked and stats["requests"] > 0
    answered = {op.f for op in ops if op.type != "invoke" and op not in interrupted}
    assert {ROUTES[f] for f in answered} <= set(stats["names"]) <= {ROUTES[op.f] for op in invoked}
    directory = json.loads((run / "directory.json").read_text("utf-8"))
    assert len(directory["practitioners"]) == PRACTITIONERS
    assert all(valid_nir(p["national_id"]) for p in directory["patients"])


def test_a_load_stopped_mid_request_records_the_operation_as_interrupted(tmp_path: Path) -> None:
    """Every update takes longer than the run: users are killed in flight."""
    server = ReferenceServer(tmp_path / "db.sqlite", slow_every=1, slow_s=3.0).start()
    try:
        done = subprocess.run(
            [
                sys.executable, "-m", "tests.workload.locust_run", "--url", server.url,
                "--out", str(tmp_path), "--seconds", "1.5", "--practitioners", "3",
                "--users", "3", "--timeout", "5", "--force-stop",
            ],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr[-4000:]
    ops = history(tmp_path)
    interrupted = [op for op in ops if op.type == "info" and "interrupted" in str(op.error)]
    assert interrupted, "a user was stopped in flight"
    invoked = [op for op in ops if op.type == "invoke"]
    assert len(invoked) == len(ops) - len(invoked), "every invoke has its completion"
