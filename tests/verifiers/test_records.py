"""The records verifier: every class, and the indeterminate cases that must not raise alarms."""

from __future__ import annotations

from ackguard.harness.verifiers import RecordsVerifier, Result
from tests.verifiers.builder import FIELDS, MS, History, digest, final, record

NEW = FIELDS | {"conclusion": "bronchitis"}


def check(history: History, final_read: object) -> Result:
    return RecordsVerifier().check(history.ops, final_read)  # type: ignore[arg-type]


def kinds(result: Result) -> list[str]:
    return [a.kind for a in result.anomalies]


def test_acknowledged_and_intact() -> None:
    h = History()
    h.create(1, "k1")
    h.fault("start")
    h.fault("stop")
    result = check(h, final(record("k1")))
    assert result.valid is True
    assert result.counts["intact"] == 1 and result.counts["acknowledged"] == 1
    assert result.counts["attempted"] == 1 and not result.anomalies


def test_acknowledged_then_absent_is_lost_with_ack_and_detection_times() -> None:
    h = History()
    ack = h.create(1, "k1", record_id="7")
    miss = h.read(1, "k1", None, record_id="7")
    result = check(h, final())
    assert result.valid is False and kinds(result) == ["lost"]
    lost = result.anomalies[0]
    assert (lost.key, lost.id, lost.practitioner_id, lost.patient_id) == ("k1", "7", "pr1", "pa1")
    assert lost.ack_time == ack.time and lost.detection_time == miss.time


def test_lost_without_any_read_is_detected_by_the_final_read() -> None:
    h = History()
    h.create(1, "k1")
    result = check(h, final(time=42 * MS))
    assert result.anomalies[0].detection_time == 42 * MS


def test_a_timed_out_create_that_is_absent_is_not_lost() -> None:
    h = History()
    h.create(1, "k1", type_="info")
    result = check(h, final())
    assert result.valid is True and result.counts["lost"] == 0
    assert result.counts["indeterminate"] == 1 and result.counts["attempted"] == 1
    assert result.counts["acknowledged"] == 0


def test_a_timed_out_create_that_is_present_is_recovered() -> None:
    h = History()
    h.create(1, "k1", type_="info")
    result = check(h, final(record("k1")))
    assert result.valid is True and result.counts["recovered"] == 1 and result.counts["intact"] == 0


def test_a_pending_create_the_harness_never_saw_complete_is_allowed_either_way() -> None:
    h = History()
    h.create_invoke(1, "k1")
    assert check(h, final()).valid is True
    assert check(h, final(record("k1"))).counts["recovered"] == 1


def test_a_failed_create_absent_is_failed_not_lost() -> None:
    h = History()
    h.create(1, "k1", type_="fail")
    result = check(h, final())
    assert result.valid is True and result.counts["failed"] == 1


def test_an_indeterminate_update_whose_value_is_final_is_allowed() -> None:
    h = History()
    h.create(1, "k1")
    h.update(1, "k1", {"conclusion": "bronchitis"}, type_="info")
    assert check(h, final(record("k1", NEW))).valid is True
    assert check(h, final(record("k1", FIELDS))).valid is True, "it may also never have landed"


def test_an_acknowledged_update_then_an_older_final_value_is_corrupt_stale() -> None:
    h = History()
    h.create(1, "k1")
    ack = h.update(1, "k1", {"conclusion": "bronchitis"})
    result = check(h, final(record("k1", FIELDS)))
    assert result.valid is False and kinds(result) == ["corrupt"]
    (damage,) = result.anomalies[0].fields
    assert damage.field == "conclusion"
    assert damage.acknowledged == digest("bronchitis") and damage.final == digest("cold")
    assert damage.ack_time == ack.time == result.anomalies[0].ack_time
    assert result.counts["corrupt"] == 1 and result.counts["intact"] == 0


def test_a_truncated_field_is_corrupt_with_both_lengths() -> None:
    long_report = "x" * 3000
    h = History()
    h.create(1, "k1", fields=FIELDS | {"exam_report": long_report})
    result = check(h, final(record("k1", FIELDS | {"exam_report": long_report[:1000]})))
    (damage,) = result.anomalies[0].fields
    assert damage.acknowledged is not None and damage.final is not None
    assert (damage.acknowledged["length"], damage.final["length"]) == (3000, 1000)


def test_an_absent_field_is_corrupt_with_final_none() -> None:
    h = History()
    h.create(1, "k1")
    result = check(h, final(record("k1", FIELDS | {"visit_reason": None, "exam_report": None})))
    damaged = {d.field: d for d in result.anomalies[0].fields}
    assert set(damaged) == {"visit_reason", "exam_report"}
    assert all(d.final is None for d in damaged.values())
    assert damaged["visit_reason"].acknowledged == digest("cough")


def test_a_field_set_to_null_by_an_acknowledged_write_may_be_absent() -> None:
    h = History()
    h.create(1, "k1")
    h.update(1, "k1", {"prescription": "rest", "visit_reason": None})
    assert (
        check(h, final(record("k1", FIELDS | {"prescription": "rest", "visit_reason": None}))).valid
        is True
    )


def test_a_failed_write_must_not_be_the_final_value() -> None:
    h = History()
    h.create(1, "k1")
    h.update(1, "k1", {"conclusion": "bronchitis"}, type_="fail")
    result = check(h, final(record("k1", NEW)))
    assert kinds(result) == ["corrupt"] and result.counts["failed"] == 1


def test_a_failed_write_whose_value_a_later_write_set_again_is_allowed() -> None:
    h = History()
    h.create(1, "k1")
    h.update(1, "k1", {"conclusion": "bronchitis"}, type_="fail")
    h.update(1, "k1", {"conclusion": "bronchitis"})
    assert check(h, final(record("k1", NEW))).valid is True


def test_an_indeterminate_write_concurrent_with_an_acknowledged_one_may_land_either_side() -> None:
    # W1 (ok) runs 10..30 ms; W2 (info) is invoked at 20 ms, before W1 completed.
    h = History()
    h.create(1, "k1")
    h.update_invoke(1, "k1", {"conclusion": "W1"}, at=10 * MS)
    h.update_invoke(2, "k1", {"conclusion": "W2"}, at=20 * MS)
    h.update_done(1, "k1", "ok", {"conclusion": "W1"}, at=30 * MS)
    h.update_done(2, "k1", "info", {"conclusion": "W2"}, at=40 * MS)
    for value in ("W1", "W2"):
        assert check(h, final(record("k1", FIELDS | {"conclusion": value}))).valid is True
    assert kinds(check(h, final(record("k1", FIELDS)))) == ["corrupt"], (
        "the create's value was overwritten"
    )


def test_an_indeterminate_write_that_timed_out_before_a_later_ack_may_still_land_after_it() -> None:
    h = History()
    h.create(1, "k1")
    h.update(1, "k1", {"conclusion": "late"}, type_="info")  # still queued in the service
    h.update(2, "k1", {"conclusion": "acked"})
    assert check(h, final(record("k1", FIELDS | {"conclusion": "late"}))).valid is True


def test_concurrent_acknowledged_writes_may_land_in_either_order_sequential_ones_may_not() -> None:
    h = History()
    h.create(1, "k1")
    h.update_invoke(1, "k1", {"conclusion": "A"}, at=10 * MS)
    h.update_invoke(2, "k1", {"conclusion": "B"}, at=11 * MS)
    h.update_done(2, "k1", "ok", {"conclusion": "B"}, at=12 * MS)
    h.update_done(1, "k1", "ok", {"conclusion": "A"}, at=13 * MS)
    for value in ("A", "B"):
        assert check(h, final(record("k1", FIELDS | {"conclusion": value}))).valid is True
    h.update(1, "k1", {"conclusion": "C"})
    assert kinds(check(h, final(record("k1", FIELDS | {"conclusion": "A"})))) == ["corrupt"]


def test_phantoms_never_attempted_or_without_a_key() -> None:
    h = History()
    h.create(1, "k1")
    result = check(
        h, final(record("k1"), record("nobody", record_id="8"), record(None, record_id="9"))
    )
    assert result.valid is False
    assert [(a.kind, a.key, a.id) for a in result.anomalies] == [
        ("phantom", "nobody", "8"),
        ("phantom", None, "9"),
    ]
    assert result.counts["phantom"] == 2 and result.counts["intact"] == 1


def test_a_duplicate_lists_every_id_and_checks_only_the_acknowledged_copy() -> None:
    h = History()
    h.create(1, "k1", type_="info")
    h.create(2, "k1", record_id="6")  # the retry made a second record
    h.update(2, "k1", {"conclusion": "bronchitis"})
    result = check(h, final(record("k1", FIELDS, record_id="5"), record("k1", NEW, record_id="6")))
    assert kinds(result) == ["duplicate"]
    assert result.anomalies[0].ids == ("5", "6") and result.anomalies[0].id == "6"
    assert result.counts["duplicate"] == 1 and result.counts["corrupt"] == 0


def test_duplicates_and_phantoms_are_named_in_the_order_of_their_first_copies() -> None:
    """Three copies of one key and two of another, between phantoms: each duplicate is named
    once, at its first copy's line, with every copy's id in the final read's order."""
    h = History()
    h.create(1, "k1", record_id="5")
    h.create(2, "k2", record_id="7")
    records = (
        record("k2", record_id="7"),
        record("nobody", record_id="8"),
        record("k1", record_id="5"),
        record("k1", record_id="6"),
        record("k2", record_id="9"),
        record("k1", record_id="10"),
    )
    result = check(h, final(*records))
    assert [(a.kind, a.key, a.ids) for a in result.anomalies] == [
        ("phantom", "nobody", ()),
        ("duplicate", "k2", ("7", "9")),
        ("duplicate", "k1", ("5", "6", "10")),
    ]
    assert result.counts["duplicate"] == 2 and result.counts["intact"] == 2


def test_no_final_read_is_unknown() -> None:
    h = History()
    h.create(1, "k1")
    result = check(h, None)
    assert result.valid == "unknown" and not result.anomalies
    assert result.counts["acknowledged"] == 1


def test_an_incomplete_final_read_is_unknown_and_claims_no_loss() -> None:
    h = History()
    h.create(1, "k1")
    h.create(2, "k2", record_id="2")
    result = check(h, final(record("k1"), complete=False))
    assert result.valid == "unknown" and result.counts["lost"] == 0
    assert "export cut" in str(result.extra["reason"])


def test_an_incomplete_final_read_still_convicts_what_it_did_read() -> None:
    h = History()
    h.create(1, "k1")
    result = check(h, final(record("k1", FIELDS | {"conclusion": None}), complete=False))
    assert result.valid is False and kinds(result) == ["corrupt"]


def test_empty_history_and_empty_final_read() -> None:
    result = check(History(), final())
    assert result.valid is True and result.counts["attempted"] == 0 and not result.anomalies


def test_corruption_detection_time_is_the_first_read_that_saw_it_after_the_ack() -> None:
    h = History()
    h.create(1, "k1")
    h.read(1, "k1", FIELDS)
    damaged = FIELDS | {"exam_report": "clear"}
    first = h.read(1, "k1", damaged)
    h.read(1, "k1", damaged)
    result = check(h, final(record("k1", damaged)))
    assert result.anomalies[0].detection_time == first.time


def test_a_read_missed_then_seen_again_does_not_date_a_later_loss() -> None:
    h = History()
    h.create(1, "k1")
    h.read(1, "k1", None)
    h.read(1, "k1", FIELDS)
    last_miss = h.read(1, "k1", None)
    result = check(h, final())
    assert result.anomalies[0].detection_time == last_miss.time
