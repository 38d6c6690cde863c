"""Time to detect, recomputed offline from a stored history's read-backs."""

from __future__ import annotations

from pathlib import Path

from ackguard.harness.history import HistoryReading, HistoryWriter, digest_fields, read_history
from ackguard.harness.live.detect import scan_live_reads, time_to_detect
from ackguard.harness.verifiers.index import build_index
from ackguard.harness.verifiers.result import Anomaly, FieldDamage, Result

WHO = {"practitioner_id": "pr1", "patient_id": "pa1", "fields": {}}


def _create(history: HistoryWriter, process: int, key: str, record_id: str) -> int:
    history.record(process, "invoke", "create", key=key, value=WHO)
    history.record(process, "ok", "create", key=key, value={**WHO, "id": record_id})
    return history.now()


def _read_back(history: HistoryWriter, process: int, key: str, found: bool) -> None:
    history.record(process, "invoke", "read", key=key, value={"id": "x", "live": True})
    history.record(process, "ok", "read", key=key, value={"found": found, "live": True})


def test_read_backs_are_found_whichever_block_boundary_cuts_their_lines(tmp_path: Path) -> None:
    """The mark is searched for in blocks: a marked line cut by a block's end, a last line
    without its newline and blocks smaller than a line give what one big block gives."""
    path = tmp_path / "history.jsonl"
    with HistoryWriter(path) as history:
        for n in range(12):
            _create(history, n, f"k{n}", str(n))
            _read_back(history, 100 + n, f"k{n}", n % 3 != 0)
    text = path.read_bytes()
    path.write_bytes(text.rstrip(b"\n"))  # a torn-looking end: the last line has no newline
    whole = scan_live_reads(path)
    assert whole.invoked == 12 and len(whole.answered) == 12
    assert [seen for ((_, _, seen),) in whole.answered.values()] == [n % 3 != 0 for n in range(12)]
    for block_bytes in (1, 7, 97, 1000, len(text) - 1):
        assert scan_live_reads(path, block_bytes=block_bytes) == whole


def test_time_to_detect_and_after_the_service_came_back(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    with HistoryWriter(path) as history:
        _create(history, 1, "k1", "10")
        _create(history, 2, "k2", "11")
        _create(history, 3, "k3", "12")
        _read_back(history, 500, "k3", True)  # seen: no alarm
        history.record("nemesis", "invoke", "start", value={"fault": "crash"})
        history.record("nemesis", "ok", "start", value={"fault": "crash"})
        history.record("nemesis", "invoke", "stop", value={"fault": "crash"})
        history.record("nemesis", "ok", "stop", value={"fault": "crash"})
        _read_back(history, 500, "k1", False)
        _read_back(history, 501, "k2", False)  # an alarm the verdict below does not confirm
        history.record(1, "invoke", "read", key="k3", value={"id": "12"})  # a practitioner's
        history.record(1, "ok", "read", key="k3", value={"found": False})
    reading = HistoryReading()
    ops = list(read_history(path, reading))
    index = build_index(ops)
    k1 = index.records["k1"]
    lost = Anomaly("lost", "k1", "10", "pr1", "pa1", ack_time=k1.ack_time)
    missed_only_by_a_practitioner = Anomaly(
        "lost", "k3", "12", "pr1", "pa1", ack_time=index.records["k3"].ack_time
    )
    results = (Result("records", False, anomalies=(lost, missed_only_by_a_practitioner)),)
    reads = scan_live_reads(path)
    assert reads.invoked == 3 and set(reads.answered) == {"k1", "k2", "k3"}
    timed, summary = time_to_detect(results, index, reads, reading.system_ops, 0.0)
    first, second = timed[0].anomalies
    heal = next(
        op.time for op in ops if op.process == "nemesis" and op.f == "stop" and op.type == "ok"
    )
    miss = next(op.time for op in ops if op.key == "k1" and op.f == "read" and op.type == "ok")
    assert k1.ack_time is not None
    assert first.time_to_detect_s == round((miss - k1.ack_time) / 1e9, 3)
    assert first.after_service_back_s == round((miss - heal) / 1e9, 3)
    assert second.time_to_detect_s is None  # no read-back caught it: the final read did
    assert summary["reads"] == 3 and summary["damaged"] == 2 and summary["detected"] == 1
    assert summary["alarms"] == 2  # k1 and k2
    assert summary["unconfirmed"] == 1 and summary["unconfirmed_keys"] == ["k2"]
    # with the default confirmation (a second miss 1 s later), one miss is no alarm yet; the
    # time to detect still runs to the first miss
    timed, summary = time_to_detect(results, index, reads, reading.system_ops)
    assert summary["alarms"] == 0 and summary["unconfirmed"] == 0
    assert timed[0].anomalies[0].time_to_detect_s == first.time_to_detect_s


def test_a_corrupt_record_is_timed_from_the_acknowledgement_its_read_back_contradicts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.jsonl"
    notes = {"visit_reason": "cough", "exam_report": "clear", "conclusion": "cold"}
    sent = {**WHO, "fields": digest_fields(notes)}
    later = {"id": "10", "fields": digest_fields({"conclusion": "flu"})}
    stale = {"found": True, "live": True, "fields": digest_fields({**notes, "prescription": None})}
    with HistoryWriter(path) as history:
        history.record(1, "invoke", "create", key="k1", value=sent)
        history.record(1, "ok", "create", key="k1", value={**sent, "id": "10"})
        history.record(1, "invoke", "update", key="k1", value=later)
        history.record(1, "ok", "update", key="k1", value=later)
        history.record(500, "invoke", "read", key="k1", value={"id": "10", "live": True})
        history.record(500, "ok", "read", key="k1", value=stale)  # the update is not there
        history.record(1, "invoke", "update", key="k1", value=later)  # acknowledged again later
        history.record(1, "ok", "update", key="k1", value=later)
    reading = HistoryReading()
    ops = list(read_history(path, reading))
    index = build_index(ops)
    acks = [op.time for op in ops if op.f == "update" and op.type == "ok"]
    read_done = next(op.time for op in ops if op.process == 500 and op.type == "ok")
    damage = FieldDamage("conclusion", None, None, acks[-1])
    corrupt = Anomaly("corrupt", "k1", "10", "pr1", "pa1", fields=(damage,), ack_time=acks[-1])
    results = (Result("records", False, anomalies=(corrupt,)),)
    timed, summary = time_to_detect(results, index, scan_live_reads(path), reading.system_ops)
    # from the first update's acknowledgement (the one the read contradicted), not the last one
    assert timed[0].anomalies[0].time_to_detect_s == round((read_done - acks[0]) / 1e9, 3)
    assert summary["alarms"] == 1 and summary["unconfirmed"] == 0
