"""The read_your_writes verifier (set-full): stable, lost, stale, never-read, latencies, fields."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ackguard.harness.verifiers import ReadYourWritesVerifier, Result
from ackguard.harness.verifiers.read_your_writes import _quantiles_of_sorted, quantiles
from tests.verifiers.builder import FIELDS, MS, History, digest, final, record


def check(history: History, final_read: object = None) -> Result:
    return ReadYourWritesVerifier().check(history.ops, final_read)  # type: ignore[arg-type]


def test_reads_that_always_see_the_record_are_stable_with_zero_latency() -> None:
    h = History()
    h.create(1, "k1")
    h.read(1, "k1", FIELDS)
    h.list(1, ["k1"])
    result = check(h)
    assert result.valid is True
    assert result.extra["stable"] == 1 and result.extra["stale"] == 0
    assert result.extra["stable_latencies"] == {
        "0": 0.0,
        "0.5": 0.0,
        "0.95": 0.0,
        "0.99": 0.0,
        "1": 0.0,
    }
    assert result.extra["lost_latencies"] == {} and result.extra["first_detection_time"] is None


def test_a_miss_then_a_sighting_is_stale_with_its_stable_latency() -> None:
    h = History()
    ack = h.create(1, "k1")
    h.op(1, "invoke", "read", "k1", {"id": "1"}, at=ack.time + 5 * MS)
    h.op(1, "ok", "read", "k1", {"id": "1", "found": False}, at=ack.time + 6 * MS)
    h.read(1, "k1", FIELDS)
    result = check(h)
    assert result.valid is True
    assert (result.extra["stable"], result.extra["stale"]) == (1, 1)
    # stable time is just after the last miss began: 5 ms after the acknowledgement
    assert result.extra["stable_latencies"]["1"] == pytest.approx(5.000001)


def test_a_record_missed_for_good_is_lost_with_detection_and_lost_latency() -> None:
    h = History()
    ack = h.create(1, "k1", record_id="3")
    seen = h.read(1, "k1", FIELDS, record_id="3")
    h.op(1, "invoke", "list", None, {"practitioner_id": "pr1"}, at=seen.time + 2 * MS)
    miss = h.op(1, "ok", "list", None, {"keys": []}, at=seen.time + 3 * MS)
    h.read(1, "k1", None, record_id="3")
    result = check(h, final())
    assert result.valid is False
    (lost,) = result.anomalies
    assert (lost.kind, lost.key, lost.id, lost.practitioner_id) == ("lost", "k1", "3", "pr1")
    assert lost.ack_time == ack.time and lost.detection_time == miss.time
    assert result.extra["first_detection_time"] == miss.time
    last_present_invoke = seen.time - MS
    assert result.extra["lost_latencies"]["0"] == pytest.approx(
        (last_present_invoke + 1 - ack.time) / MS
    )
    assert result.counts["read_lost"] == 1


def test_a_record_missed_by_reads_but_in_the_final_read_is_stale_not_lost() -> None:
    h = History()
    h.create(1, "k1")
    h.read(1, "k1", None)
    result = check(h, final(record("k1")))
    assert result.valid is True
    assert (result.extra["lost"], result.extra["stale"]) == (0, 1)


def test_an_acknowledged_record_no_read_looked_at_is_never_read() -> None:
    h = History()
    h.create(1, "k1")
    h.create(1, "k2", record_id="2")
    h.read(1, "k2", FIELDS, record_id="2")
    result = check(h)
    assert (result.extra["never_read"], result.extra["stable"]) == (1, 1)


def test_a_read_that_began_before_the_ack_proves_no_absence() -> None:
    h = History()
    h.create_invoke(1, "k1", at=1 * MS)
    h.op(2, "invoke", "list", None, {"practitioner_id": "pr1"}, at=2 * MS)
    h.create_done(1, "k1", at=3 * MS)
    h.op(2, "ok", "list", None, {"keys": []}, at=4 * MS)
    result = check(h)
    assert result.valid is True and result.extra["lost"] == 0 and result.extra["never_read"] == 1


def test_a_list_filtered_by_another_patient_is_not_a_miss() -> None:
    h = History()
    h.create(1, "k1")
    h.op(1, "invoke", "list", None, {"practitioner_id": "pr1", "patient_id": "pa2"})
    h.op(1, "ok", "list", None, {"keys": []})
    assert check(h).extra["lost"] == 0


def test_nothing_ever_read_is_unknown() -> None:
    h = History()
    h.create(1, "k1")
    result = check(h)
    assert result.valid == "unknown" and result.extra["never_read"] == 1


def test_a_read_returning_a_damaged_field_is_a_corrupt_anomaly_at_that_read() -> None:
    h = History()
    ack = h.create(1, "k1", fields=FIELDS | {"exam_report": "y" * 3000})
    bad = h.read(1, "k1", FIELDS | {"exam_report": "y" * 1000})
    result = check(h)
    assert result.valid is False
    (anomaly,) = result.anomalies
    assert anomaly.kind == "corrupt" and anomaly.detection_time == bad.time
    (damage,) = anomaly.fields
    assert damage.field == "exam_report" and damage.ack_time == ack.time
    assert damage.final is not None and damage.acknowledged is not None
    assert (damage.final["length"], damage.acknowledged["length"]) == (1000, 3000)
    assert result.counts["corrupt_reads"] == 1


def test_a_read_may_return_an_indeterminate_or_concurrent_write_but_not_an_overwritten_one() -> (
    None
):
    h = History()
    h.create(1, "k1")
    h.update(1, "k1", {"conclusion": "maybe"}, type_="info")
    h.read(2, "k1", FIELDS | {"conclusion": "maybe"})
    h.update_invoke(2, "k1", {"conclusion": "now"})
    h.read(3, "k1", FIELDS | {"conclusion": "now"})  # concurrent with the update in flight
    h.update_done(2, "k1", "ok", {"conclusion": "now"})
    assert check(h).valid is True
    h.read(3, "k1", FIELDS)  # the create's value, overwritten by an acknowledged update
    result = check(h)
    assert result.valid is False
    (damage,) = result.anomalies[0].fields
    assert damage.acknowledged == digest("now") and damage.final == digest("cold")


def test_quantiles_follow_jepsen_ranks() -> None:
    assert quantiles([]) == {}
    values = [float(v) for v in range(1, 101)]
    assert quantiles(values) == {"0": 1.0, "0.5": 51.0, "0.95": 96.0, "0.99": 100.0, "1": 100.0}


def test_a_list_of_the_records_patient_that_omits_it_is_a_miss() -> None:
    h = History()
    h.create(1, "k1")
    h.op(1, "invoke", "list", None, {"practitioner_id": "pr1", "patient_id": "pa1"})
    miss = h.op(1, "ok", "list", None, {"keys": []})
    result = check(h, final())
    assert result.extra["lost"] == 1 and result.anomalies[0].detection_time == miss.time


@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), max_size=60),
    st.lists(st.integers(0, 60), max_size=4),
)
def test_the_parts_latencies_give_the_quantiles_of_them_all(
    values: list[float], cuts: list[int]
) -> None:
    """Each part's latencies sorted on their own, merged by rank: the quantiles of all."""
    bounds = [0, *sorted(c for c in cuts if c <= len(values)), len(values)]
    runs = [sorted(values[a:b]) for a, b in pairwise(bounds)]
    assert _quantiles_of_sorted(runs) == quantiles(values)
