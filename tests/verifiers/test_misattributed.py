"""The records verifier's deeper classes: answers about the wrong record (misattributed), the
set-full rules (seen then lost, refused yet present) and the final read's start as the bound of
what supersedes an acknowledgement; and the concurrent cases that must not raise alarms."""

from __future__ import annotations

from collections.abc import Mapping

from ackguard.harness.final_read import FinalRecord
from ackguard.harness.history import FieldDigest, OpType, digest_fields
from ackguard.harness.verifiers import RecordsVerifier, Result
from ackguard.harness.verifiers.result import Anomaly
from tests.verifiers.builder import FIELDS, MS, History, final

NOTE = FIELDS | {"conclusion": "bronchitis, see in a week"}


def check(history: History, *records: FinalRecord, time: int = 10**12) -> Result:
    return RecordsVerifier().check(history.ops, final(*records, time=time))


def owned(
    key: str,
    record_id: str,
    patient: str,
    fields: Mapping[str, str | None] = FIELDS,
    practitioner: str = "pr1",
    started_at: str | None = None,
) -> FinalRecord:
    digests = {n: FieldDigest.of(t) for n, t in fields.items() if t is not None}
    return FinalRecord(record_id, key, practitioner, patient, 1, digests, started_at)


def create(
    h: History,
    process: int,
    key: str,
    record_id: str,
    patient: str,
    type_: OpType = "ok",
    started_at: str = "2026-03-02T09:00:00",
) -> None:
    sent = {
        "practitioner_id": "pr1",
        "patient_id": patient,
        "started_at": started_at,
        "fields": digest_fields(FIELDS),
    }
    h.op(process, "invoke", "create", key, sent)
    h.op(process, type_, "create", key, sent | ({"id": record_id} if type_ == "ok" else {}))


def update(
    h: History,
    process: int,
    key: str,
    record_id: str,
    patient: str,
    fields: Mapping[str, str | None],
    type_: OpType = "ok",
) -> None:
    sent = {"id": record_id, "practitioner_id": "pr1", "patient_id": patient}
    h.op(process, "invoke", "update", key, sent | {"fields": digest_fields(fields)})
    h.op(process, type_, "update", key, sent | {"fields": digest_fields(fields)})


def misattributed(result: Result) -> list[Anomaly]:
    return [a for a in result.anomalies if a.kind == "misattributed"]


def test_a_stored_record_holding_another_patient_names_both_patients() -> None:
    h = History()
    create(h, 1, "k1", "1", "pa1")
    result = check(h, owned("k1", "1", "pa9"))
    [wrong] = misattributed(result)
    assert (wrong.key, wrong.patient_id, wrong.other_patient_id, wrong.via) == (
        "k1",
        "pa1",
        "pa9",
        "record",
    )
    assert (wrong.practitioner_id, wrong.other_practitioner_id) == ("pr1", "pr1")
    assert result.valid is False and result.counts["intact"] == 0
    assert result.counts["misattributed"] == 1


def test_a_stored_record_with_another_start_time_is_misattributed() -> None:
    h = History()
    create(h, 1, "k1", "1", "pa1", started_at="2026-03-02T09:00:00")
    moved = owned("k1", "1", "pa1", started_at="2026-03-02T10:30:00")
    assert [a.via for a in misattributed(check(h, moved))] == ["record"]
    same = owned("k1", "1", "pa1", started_at="2026-03-02 09:00:00")  # another layout, same time
    assert check(h, same).valid is True


def test_an_acknowledged_id_handed_to_another_create_is_lost_and_misattributed() -> None:
    h = History()
    create(h, 1, "k1", "5", "pa1")
    update(h, 1, "k1", "5", "pa1", NOTE)
    create(h, 2, "k2", "5", "pa2")  # the database handed id 5 out again
    result = check(h, owned("k2", "5", "pa2"))
    assert sorted(a.kind for a in result.anomalies) == ["lost", "misattributed"]
    [wrong] = misattributed(result)
    assert (wrong.key, wrong.id, wrong.patient_id) == ("k1", "5", "pa1")
    assert (wrong.other_key, wrong.other_patient_id, wrong.via) == ("k2", "pa2", "id")


def test_a_read_that_returned_another_patients_record_is_misattributed() -> None:
    h = History()
    create(h, 1, "k1", "1", "pa1")
    h.op(1, "invoke", "read", "k1", {"id": "1"})
    seen = {"id": "1", "found": True, "fields": digest_fields(FIELDS)}
    other = seen | {"seen_key": "k7", "seen_practitioner_id": "pr2", "seen_patient_id": "pa7"}
    done = h.op(1, "ok", "read", "k1", other)
    result = check(h, owned("k1", "1", "pa1"))
    [wrong] = misattributed(result)
    assert (wrong.patient_id, wrong.other_patient_id, wrong.other_practitioner_id) == (
        "pa1",
        "pa7",
        "pr2",
    )
    assert wrong.via == "read" and wrong.detection_time == done.time
    assert result.counts["intact"] == 1  # the record itself is fine: the answer was not


def test_an_update_acknowledged_with_another_patients_record_is_misattributed() -> None:
    h = History()
    create(h, 1, "k1", "5", "pa1")
    fields = digest_fields({"conclusion": "asthma"})
    sent = {"id": "5", "practitioner_id": "pr1", "patient_id": "pa1", "fields": fields}
    h.op(1, "invoke", "update", "k1", sent)
    answer = {"seen_key": "k2", "seen_practitioner_id": "pr1", "seen_patient_id": "pa2"}
    h.op(1, "ok", "update", "k1", sent | answer)
    own = {"seen_key": "k1", "seen_practitioner_id": "pr1", "seen_patient_id": "pa1"}
    h.op(1, "invoke", "update", "k1", sent)
    h.op(1, "ok", "update", "k1", sent | own)  # an answer about its own record: no alarm
    result = check(h, owned("k1", "5", "pa1", FIELDS | {"conclusion": "asthma"}))
    [wrong] = misattributed(result)
    assert (wrong.via, wrong.patient_id, wrong.other_patient_id, wrong.other_key) == (
        "update",
        "pa1",
        "pa2",
        "k2",
    )


def test_a_note_filed_in_another_consultation_names_its_owner_and_where_it_went() -> None:
    h = History()
    create(h, 1, "k1", "1", "pa1")
    create(h, 2, "k2", "2", "pa2")
    update(h, 1, "k1", "1", "pa1", {"conclusion": NOTE["conclusion"]})
    result = check(h, owned("k1", "1", "pa1"), owned("k2", "2", "pa2", NOTE))
    [wrong] = misattributed(result)
    assert (wrong.key, wrong.patient_id, wrong.id) == ("k1", "pa1", "2")
    assert (wrong.other_key, wrong.other_patient_id, wrong.via) == ("k2", "pa2", "note")
    assert sorted(a.kind for a in result.anomalies) == ["corrupt", "corrupt", "misattributed"]


def test_an_acknowledged_id_missing_while_a_copy_with_its_key_survives_is_not_intact() -> None:
    h = History()
    create(h, 1, "k1", "1", "pa1")
    result = check(h, owned("k1", "8", "pa1"))
    assert result.valid is False and result.counts["intact"] == 0
    [lost] = result.anomalies
    assert (lost.kind, lost.id, lost.ids) == ("lost", "1", ("8",))


def test_a_record_seen_during_the_run_then_absent_is_lost_even_if_its_create_timed_out() -> None:
    h = History()
    create(h, 1, "k1", "1", "pa1", type_="info")
    h.list(2, ["k1"])
    assert [a.kind for a in check(h).anomalies] == ["lost"]
    never_seen = History()
    create(never_seen, 1, "k1", "1", "pa1", type_="info")
    assert check(never_seen).valid is True


def test_a_refused_create_that_is_present_is_unexpected_not_recovered() -> None:
    h = History()
    create(h, 1, "k1", "1", "pa1", type_="fail")
    result = check(h, owned("k1", "1", "pa1"))
    assert [a.kind for a in result.anomalies] == ["unexpected"]
    assert result.counts["unexpected"] == 1 and result.counts["recovered"] == 0


def test_a_refused_retry_after_a_timed_out_create_may_still_be_present() -> None:
    h = History()
    create(h, 1, "k1", "1", "pa1", type_="info")
    create(h, 2, "k1", "1", "pa1", type_="fail")  # e.g. 409: the first attempt landed
    result = check(h, owned("k1", "1", "pa1"))
    assert result.valid is True and result.counts["recovered"] == 1


def test_an_update_acknowledged_after_the_final_read_began_does_not_supersede() -> None:
    h = History()
    create(h, 1, "k1", "1", "pa1")
    h.update_invoke(1, "k1", NOTE, at=10 * MS)
    h.update_done(1, "k1", "ok", NOTE, at=30 * MS)
    before = owned("k1", "1", "pa1")  # read at 20 ms: the update may not have landed yet
    assert check(h, before, time=20 * MS).valid is True
    assert check(h, before, time=40 * MS).valid is False


def test_concurrent_updates_may_land_in_either_order() -> None:
    other = FIELDS | {"conclusion": "asthma"}
    for final_fields in (NOTE, other):
        h = History()
        create(h, 1, "k1", "1", "pa1")
        h.update_invoke(1, "k1", NOTE)
        h.update_invoke(2, "k1", other)
        h.update_done(1, "k1", "ok", NOTE)
        h.update_done(2, "k1", "ok", other)
        result = check(h, owned("k1", "1", "pa1", final_fields))
        assert result.valid is True and not result.anomalies


def test_indeterminate_updates_may_land_on_either_side_without_alarm() -> None:
    for final_fields in (FIELDS, NOTE):
        h = History()
        create(h, 1, "k1", "1", "pa1")
        update(h, 1, "k1", "1", "pa1", NOTE, type_="info")
        result = check(h, owned("k1", "1", "pa1", final_fields))
        assert result.valid is True and not result.anomalies


def test_the_same_text_in_two_records_is_not_a_misfiled_note() -> None:
    h = History()
    create(h, 1, "k1", "1", "pa1")
    create(h, 2, "k2", "2", "pa2")
    update(h, 1, "k1", "1", "pa1", NOTE)
    update(h, 2, "k2", "2", "pa2", NOTE)
    update(h, 2, "k2", "2", "pa2", FIELDS)  # k2 goes back to its first text, which k1 wrote too
    result = check(h, owned("k1", "1", "pa1", NOTE), owned("k2", "2", "pa2", FIELDS))
    assert result.valid is True and not result.anomalies
