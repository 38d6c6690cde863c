"""Checking the records in parts (:mod:`harness.verifiers.parallel`) gives exactly the verdict of
one process: the same counts, anomalies in the same order, the same extras, the same reading of
the history and the same counts of the grouped history, on random histories (damaged lines, a
torn last line, concurrent processes, info and fail outcomes, lists, misreads) against random
final reads whose ids may be held by other records and whose values may be other records'."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ackguard.harness import cores
from ackguard.harness.cli import main
from ackguard.harness.final_read import FinalRead, FinalRecord, write_final_read
from ackguard.harness.history import FieldDigest, HistoryReading
from ackguard.harness.verifiers import parallel, verifiers_named
from ackguard.harness.verifiers.compose import Composed, compose_history
from ackguard.harness.verifiers.history_split import line_ranges, part_files, split_range
from ackguard.harness.verifiers.index import part_of
from ackguard.harness.verifiers.parallel import check_in_parts
from tests.verifiers.test_fast_verdict import NAMES, _history, _texts
from tests.verifiers.test_reader_agree import KEYS, _histories, _write

VERIFIERS = ("records", "read_your_writes")

# ids drawn apart from keys: an acknowledged id may be held by another key's record
_final_record = st.builds(
    lambda record_id, key, practitioner, patient, texts: FinalRecord(
        record_id,
        key,
        practitioner,
        patient,
        1,
        {name: FieldDigest.of(text) for name, text in texts.items() if text is not None},
    ),
    st.sampled_from(("1", "2", "3", "4")),
    st.one_of(st.sampled_from(KEYS), st.sampled_from(KEYS), st.none(), st.just("k9")),
    st.sampled_from(("p1", "p2")),
    st.sampled_from(("a", "b")),
    _texts,
)
_final_read = st.builds(
    lambda records, complete, at: FinalRead("database", complete, records, None, at),
    st.lists(_final_record, max_size=5),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 1 << 62)),
)


def _one_process(path: Path, final_read: FinalRead, strict: bool) -> tuple[Composed, Any]:
    reading = None if strict else HistoryReading()
    composed = compose_history(verifiers_named(VERIFIERS), path, final_read, reading=reading)
    return composed, reading


def _scalars(composed: Any) -> tuple[Any, ...]:
    index = composed
    return (
        index.operations,
        index.indeterminate,
        index.failed,
        index.reads,
        index.acknowledged_writes,
        index.pending,
        index.op_tally,
    )


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(_history, _histories),
    _final_read,
    st.integers(1, 3),
    st.integers(0, 3),
    st.booleans(),
)
def test_parts_give_the_verdict_of_one_process(
    history: tuple[list[Any], list[tuple[int, bytes]], Any],
    final_read: FinalRead,
    jobs: int,
    more: int,
    strict: bool,
) -> None:
    """``jobs`` parts, each with its index to the end, or ``more`` parts than that in waves:
    the history split into part files by ``jobs`` ranges, each index dropped once its part is
    checked, what the merge asks answered from what the part kept or by building it again.
    A line left out of a part's files, whichever range boundary cuts a process's ops in
    flight, must be one its index skips without a trace: draws like these found each such
    mistake tried (a line not sent to the part holding its process's op, a range taking its
    processes as held by none) within a few hundred histories."""
    if jobs + more == 1:
        jobs = 2
    path = _write(*history)
    write_final_read(path.parent, final_read)
    expected, expected_reading = _one_process(path, final_read, strict)
    reading = None if strict else HistoryReading()
    results, index, _final = check_in_parts(
        VERIFIERS,
        path,
        path.parent,
        final_read,
        jobs=jobs,
        parts=jobs + more,
        reading=reading,
        processes=False,
    )
    got = tuple(results[name] for name in VERIFIERS)
    assert got == expected.verdict.results
    if expected.index is None:  # the history broke the index (each says how far it read)
        assert index is None
        return
    assert reading == expected_reading
    assert index is not None
    assert _scalars(index) == _scalars(expected.index)
    named = {a.key for r in got for a in r.anomalies if a.key is not None}
    assert set(index.records) == named & set(expected.index.records)


def test_a_part_s_files_hold_its_own_lines_and_those_without_a_key(tmp_path: Path) -> None:
    """Split for three parts: a keyed op's lines go to its record's part alone (each completes
    before its process starts another), a list's to every part. A second range does not know
    what the first left in flight: a process's first line there goes to every part."""
    ops = _acknowledged_creates()
    ops.append((7, "invoke", "list", None, {"practitioner_id": "p1", "patient_id": None}))
    ops.append((7, "ok", "list", None, {"keys": ["k1"], "complete": True}))
    path = _write(ops, [], None)
    for count in (1, 2):
        folder = tmp_path / f"ranges-{count}"
        ranges = line_ranges(path, count)
        assert len(ranges) == count
        for number, (start, stop) in enumerate(ranges):
            split_range(path, 3, folder, number, start, stop)
        second = path.read_bytes()[ranges[-1][0] :].splitlines()
        first_there = {json.loads(line)["process"] for line in second} if count > 1 else set()
        for part in range(3):
            files, _places = part_files(folder, part, count)
            kept = [json.loads(line) for name in files for line in name.read_bytes().splitlines()]
            seen = [(line["process"], line["type"], line["key"]) for line in kept]
            own = [
                (process, kind, key)
                for process, kind, _f, key, _value in ops
                if key is None or part_of(key, 3) == part
            ]
            if count == 1:
                assert seen == own
            else:
                assert [line for line in seen if line in own] == own
                assert len(seen) <= len(own) + len(first_there)
            assert len(own) < len(ops)


def _acknowledged_creates() -> list[tuple[Any, str, str, Any, Any]]:
    """Each of KEYS created by p1 for patient a with its own four digests (``d<n><field>``),
    acknowledged with id ``n + 1``."""
    ops: list[tuple[Any, str, str, Any, Any]] = []
    for n, key in enumerate(KEYS):
        fields = {name: {"digest": f"d{n}{name}", "length": 4, "prefix": "x"} for name in NAMES}
        ops.append((n, "invoke", "create", key, {"practitioner_id": "p1", "patient_id": "a",
                                                 "fields": fields}))  # fmt: skip
        ops.append((n, "ok", "create", key, {"id": str(n + 1)}))
    return ops


@pytest.mark.process
@pytest.mark.parametrize(("jobs", "parts"), [(3, None), (2, 5)])
def test_processes_check_the_parts_and_ask_each_other(
    tmp_path: Path, jobs: int, parts: int | None
) -> None:
    """Parts in processes of their own, one each or in waves: an acknowledged id held by
    another part's record and a note found in another part's record are named as one process
    names them."""
    ops = _acknowledged_creates()
    ops.append((7, "invoke", "list", None, {"practitioner_id": "p1", "patient_id": None}))
    ops.append((7, "ok", "list", None, {"keys": ["k1"], "complete": True}))
    path = _write(ops, [], None)
    stolen = {"visit_reason": FieldDigest("d0visit_reason", 4, "x")}  # k1's note, held by k3
    final = FinalRead(
        "database",
        True,
        [
            FinalRecord("1", "k2", "p1", "a", 1, {}),  # k1's id now holds k2's record
            FinalRecord("3", "k3", "p1", "a", 1, stolen),
        ],
        None,
        10**12,
    )
    write_final_read(path.parent, final)
    expected, expected_reading = _one_process(path, final, strict=False)
    reading = HistoryReading()
    results, index, _final = check_in_parts(
        VERIFIERS, path, path.parent, final, jobs=jobs, parts=parts, reading=reading
    )
    got = tuple(results[name] for name in VERIFIERS)
    assert got == expected.verdict.results
    kinds = {(a.kind, a.key, a.via) for a in got[0].anomalies}
    assert ("misattributed", "k1", "id") in kinds
    assert ("misattributed", "k1", "note") in kinds
    assert reading == expected_reading
    assert index is not None and expected.index is not None
    assert _scalars(index) == _scalars(expected.index)
    named = {a.key for r in got for a in r.anomalies if a.key is not None}
    assert "k1" in named and set(index.records) == named & set(expected.index.records)


@pytest.mark.process
def test_in_waves_the_owner_of_a_note_is_found_again(tmp_path: Path) -> None:
    """k1 is intact, and k3 holds a copy of its note: k1 has no anomaly of its own part, so
    its state for the verdict's later checks comes from building its part's index again."""
    path = _write(_acknowledged_creates(), [], None)
    own = {name: FieldDigest(f"d0{name}", 4, "x") for name in NAMES}
    stolen = {"visit_reason": own["visit_reason"]}
    final = FinalRead(
        "database",
        True,
        [FinalRecord("1", "k1", "p1", "a", 1, own), FinalRecord("3", "k3", "p1", "a", 1, stolen)],
        None,
        10**12,
    )
    write_final_read(path.parent, final)
    expected, _ = _one_process(path, final, strict=False)
    results, index, _final = check_in_parts(
        VERIFIERS, path, path.parent, final, jobs=2, parts=5, reading=HistoryReading()
    )
    got = tuple(results[name] for name in VERIFIERS)
    assert got == expected.verdict.results
    assert ("misattributed", "k1", "note") in {(a.kind, a.key, a.via) for a in got[0].anomalies}
    assert index is not None and expected.index is not None
    found, alone = index.records["k1"], expected.index.records["k1"]
    assert [(w.inv, w.cmp, w.status) for w in found.writes] == [
        (w.inv, w.cmp, w.status) for w in alone.writes
    ]


@pytest.mark.process
def test_an_unreadable_history_leaves_every_verifier_unknown(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(b'{"index": 0, "time": 1, "process": 0, "type": "invoke"}\nnot json\n{}\n')
    final = FinalRead("database", True, [], None, 1)
    write_final_read(tmp_path, final)
    results, index, _final = check_in_parts(VERIFIERS, path, tmp_path, final, jobs=2)
    assert index is None
    for name in VERIFIERS:
        assert results[name].valid == "unknown"
        assert "reading the history failed" in (results[name].reason or "")


@pytest.mark.process
@pytest.mark.parametrize("jobs", [2])
def test_compose_history_uses_the_parts_when_asked(tmp_path: Path, jobs: int) -> None:
    ops = [(0, "invoke", "read", "k1", {"id": "1"}), (0, "ok", "read", "k1", {"found": False})]
    path = _write(ops, [], None)
    final = FinalRead("database", True, [], None, 1)
    write_final_read(path.parent, final)
    chosen = verifiers_named(VERIFIERS)
    alone = compose_history(chosen, path, final, reading=HistoryReading())
    parted = compose_history(
        verifiers_named(VERIFIERS),
        path,
        final,
        reading=HistoryReading(),
        final_dir=path.parent,
        jobs=jobs,
    )
    assert parted.verdict == alone.verdict


@pytest.mark.process
def test_parts_work_from_a_process_that_gevent_patched() -> None:
    """``ackguard run`` verifies in the process that ran Locust, whose sockets gevent made
    cooperative: the parts' pipes must still carry their answers there."""
    script = (
        "import locust, gevent.monkey\n"
        "assert gevent.monkey.is_anything_patched()\n"
        "from pathlib import Path\n"
        "from tests.verifiers.test_parallel_verdict import "
        "test_processes_check_the_parts_and_ask_each_other as check\n"
        "if __name__ == '__main__':\n"
        "    check(Path('.'), 3, None)\n"
        "    print('same verdict')\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "same verdict" in done.stdout


class _DiesInItsProcess(parallel.PartCheck):
    """A part that ends its process at once (as a kill would), except part 0, checked here."""

    def check(self) -> parallel.PartOutcome:
        if self.part[0] != 0:
            os._exit(3)
        return super().check()


@pytest.mark.process
def test_a_part_whose_process_dies_leaves_every_verifier_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ops = [(0, "invoke", "read", "k1", {"id": "1"}), (0, "ok", "read", "k1", {"found": False})]
    path = _write(ops, [], None)
    final = FinalRead("database", True, [], None, 1)
    write_final_read(path.parent, final)
    monkeypatch.setattr(parallel, "PartCheck", _DiesInItsProcess)
    results, index, _final = check_in_parts(VERIFIERS, path, path.parent, final, jobs=2)
    assert index is None
    for name in VERIFIERS:
        assert results[name].valid == "unknown"
        assert "a verifying process ended without an answer" in (results[name].reason or "")


def _run_dir(run_dir: Path, history: Path, final: FinalRead) -> Path:
    """A run directory of ``history`` and the final read ``final``, for ``ackguard verify``."""
    run_dir.mkdir()
    shutil.copy(history, run_dir / "history.jsonl")
    write_final_read(run_dir, final)
    return run_dir


@pytest.mark.process
def test_ackguard_verify_in_parts_writes_the_verdict_of_one_process(tmp_path: Path) -> None:
    history = _write(_acknowledged_creates(), [], None)
    final = FinalRead("database", True, [FinalRecord("1", "k1", "p1", "a", 1, {})], None, 10**12)
    verdicts = []
    for options in (["--jobs", "1"], ["--jobs", "2"], ["--jobs", "1", "--parts", "3"]):
        run_dir = _run_dir(tmp_path / "-".join(options), history, final)
        main(["verify", str(run_dir), *options])
        verdicts.append(json.loads((run_dir / "verdict.json").read_text()))
    assert verdicts[0] == verdicts[1] == verdicts[2]
    assert verdicts[0]["counts"]["lost"] == 2  # k2 and k3
    assert verdicts[0]["counts"]["corrupt"] == 1  # k1's fields are gone


@pytest.mark.process
@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda line: line.replace('"practitioner_id"', '"nobody"'), "no 'practitioner_id'"),
        (lambda line: line[:30], ""),  # cut short: not even its key can be read
    ],
)
def test_parts_count_the_final_read_and_refuse_a_damaged_one_as_one_process_does(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[str], str],
    said: str,
) -> None:
    """The parts load their own records (in waves, from their files of the split final read);
    the calling process holds the read's facts only, with the records the parts counted (not
    what ``final_read.json`` claims), and a damaged line of ``final_read.jsonl`` is the same
    harness error, naming the line, as when one process loads it all."""
    history = _write(_acknowledged_creates(), [], None)
    records = [FinalRecord(str(n), f"k{n}", "p1", "a", 1, {}) for n in range(1, 4)]
    final = FinalRead("database", True, records, None, 10**12)
    errors = []
    for options in (["--jobs", "1"], ["--jobs", "2"], ["--jobs", "2", "--parts", "3"]):
        run_dir = _run_dir(tmp_path / "-".join(options), history, final)
        meta = json.loads((run_dir / "final_read.json").read_text())
        (run_dir / "final_read.json").write_text(json.dumps(meta | {"records": 7}))
        main(["verify", str(run_dir), *options])
        verdict = json.loads((run_dir / "verdict.json").read_text())
        assert verdict["evidence"]["final_read"]["records"] == 3
        lines = (run_dir / "final_read.jsonl").read_text().splitlines()
        lines[1] = damage(lines[1])
        (run_dir / "final_read.jsonl").write_text("\n".join(lines) + "\n")
        capsys.readouterr()
        assert main(["verify", str(run_dir), *options]) == 2
        errors.append(capsys.readouterr().err.splitlines()[-1])
    assert errors[0] == errors[1] == errors[2]
    assert f"final_read.jsonl: line 2: {said}" in errors[0]


@pytest.mark.parametrize(
    ("option", "value", "what"),
    [
        ("--jobs", "0", "processes"),
        ("--jobs", "-1", "processes"),
        ("--jobs", "two", "processes"),
        ("--parts", "0", "parts"),
        ("--parts", "three", "parts"),
    ],
)
def test_verify_jobs_and_parts_must_be_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, what: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["verify", str(tmp_path), option, value])
    assert exit_.value.code == 2
    assert f"{value!r} is not a number of {what} (1 or more)" in capsys.readouterr().err


def test_parts_in_waves_by_default_only_when_the_indexes_would_outgrow_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half the available memory for the indexes held at once (about INDEX_PER_BYTE of the
    history each): more parts when they would not fit, as many for each process."""
    history = tmp_path / "history.jsonl"
    with history.open("wb") as out:
        out.truncate(1 << 30)  # sparse: no disk written
    need = (1 << 30) * parallel.INDEX_PER_BYTE
    monkeypatch.setattr(parallel, "available_memory", lambda: int(4 * need))
    assert parallel.default_parts(history, 2) == 2
    monkeypatch.setattr(parallel, "available_memory", lambda: int(need) + 16)  # half of it fits
    assert parallel.default_parts(history, 2) == 4
    assert parallel.default_parts(history, 1) == 2
    monkeypatch.setattr(parallel, "available_memory", lambda: int(need / 3) + 16)
    assert parallel.default_parts(history, 2) == 12
    assert parallel.default_parts(tmp_path / "missing.jsonl", 2) == 2
    assert parallel.available_memory() > 0
    monkeypatch.setattr(parallel, "available_memory", lambda: 0)  # a cgroup at its limit
    assert parallel.default_parts(history, 2) == 2 * parallel.MAX_WAVES


def test_parts_by_default_only_for_a_large_history_and_on_idle_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    small.write_bytes(b"{}\n")
    with large.open("wb") as out:
        out.truncate(parallel.PARALLEL_BYTES)  # sparse: no disk written
    monkeypatch.setattr(parallel, "usable_cores", lambda: 6)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.4, 0.4, 0.4))
    assert parallel.default_jobs(small) == 1
    assert parallel.default_jobs(tmp_path / "missing.jsonl") == 1
    assert parallel.default_jobs(large) == parallel.MAX_JOBS  # 6 idle cores, at most 4 parts
    monkeypatch.setattr(os, "getloadavg", lambda: (4.7, 3.0, 2.0))
    assert parallel.default_jobs(large) == 2  # 6 cores, 4 of them busy
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert parallel.default_jobs(large) == 1


def test_usable_cores_keep_within_a_containers_cpu_quota(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quota = tmp_path / "cpu.max"
    monkeypatch.setattr(cores, "_CGROUP_QUOTA", quota)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(16)))
    assert cores.usable_cores() == 16  # no quota file: the affinity
    quota.write_text("max 100000\n")
    assert cores.usable_cores() == 16
    quota.write_text("250000 100000\n")  # two and a half CPUs' worth of time
    assert cores.usable_cores() == 3
    quota.write_text("1000 100000\n")
    assert cores.usable_cores() == 1
