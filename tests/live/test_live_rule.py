"""The live alarm rule: which read-back of an acknowledged record is an alarm, and which is not.

The rule must never say more than the final verdict will: a read begun before the
acknowledgement, a write still in flight, an indeterminate write or an acknowledgement that
came after the read began all make a value (or an absence) acceptable.
"""

from __future__ import annotations

from collections.abc import Mapping

from ackguard.harness.history import OBSERVATION_FIELDS, FieldDigest, Op, OpType, digest_fields
from ackguard.harness.live.expected import ExpectedState, ReadBack

MS = 1_000_000
NOTES = {
    "visit_reason": "cough",
    "exam_report": "clear",
    "conclusion": "cold",
    "prescription": None,
}


class Feed:
    """Hands ops to an ExpectedState with explicit times (ms)."""

    def __init__(self) -> None:
        self.state = ExpectedState()
        self.index = 0

    def op(
        self, at_ms: int, process: int | str, type_: OpType, f: str, key: str, value: object
    ) -> str | None:
        self.index += 1
        return self.state.observe(Op(self.index, at_ms * MS, process, type_, f, key, value))

    def create(self, inv: int, cmp: int | None, key: str = "k1", outcome: OpType = "ok") -> None:
        value = {"practitioner_id": "pr1", "patient_id": "pa1", "fields": digest_fields(NOTES)}
        self.op(inv, 1, "invoke", "create", key, value)
        if cmp is not None:
            done = {**value, "id": "10"} if outcome == "ok" else value
            self.op(cmp, 1, outcome, "create", key, done)

    def update(
        self,
        inv: int,
        cmp: int | None,
        fields: Mapping[str, str | None],
        outcome: OpType = "ok",
        process: int = 2,
    ) -> None:
        value = {"id": "10", "fields": digest_fields(fields)}
        self.op(inv, process, "invoke", "update", "k1", value)
        if cmp is not None:
            self.op(cmp, process, outcome, "update", "k1", value)

    def read(
        self,
        inv: int,
        cmp: int,
        fields: Mapping[str, str | None] | None,
        seen: tuple[str | None, str | None, str | None] = ("k1", "pr1", "pa1"),
    ) -> ReadBack:
        if fields is None:
            return ReadBack("k1", inv * MS, cmp * MS, 99, found=False)
        digests = {
            name: None if fields.get(name) is None else FieldDigest.of(str(fields[name])).digest
            for name in OBSERVATION_FIELDS
        }
        return ReadBack("k1", inv * MS, cmp * MS, 99, True, digests, seen)


def test_a_miss_begun_after_the_acknowledgement_is_lost_and_one_begun_before_is_nothing() -> None:
    feed = Feed()
    feed.create(0, 10)
    assert feed.state.judge(feed.read(9, 12, None)) is None  # began before the ack
    damage = feed.state.judge(feed.read(11, 12, None))
    assert damage is not None and damage.kind == "lost"
    assert (damage.practitioner_id, damage.patient_id, damage.fields) == ("pr1", "pa1", ())
    assert damage.acknowledged_at_ns == 10 * MS and damage.time_to_detect_s == 0.002


def test_a_miss_is_lost_once_a_second_miss_confirms_it_and_a_sighting_clears_it() -> None:
    feed = Feed()
    feed.state = ExpectedState(confirm_after_ns=1000 * MS)
    feed.create(0, 10)
    assert feed.state.judge(feed.read(11, 12, None)) is None  # first miss: to confirm
    assert feed.state.confirm_due("k1") == 1012 * MS
    assert feed.state.judge(feed.read(500, 501, None)) is None  # too soon to confirm
    damage = feed.state.judge(feed.read(1012, 1013, None))
    assert damage is not None and damage.kind == "lost"
    assert damage.detected_at_ns == 1013 * MS and damage.acknowledged_at_ns == 10 * MS
    # a write-behind service: missed once, then seen: not lost
    feed.create(2000, 2010, key="k2")
    feed.state.judge(ReadBack("k2", 2011 * MS, 2012 * MS, 1, found=False))
    seen = feed.read(2500, 2501, NOTES, seen=("k2", "pr1", "pa1"))
    assert (
        feed.state.judge(
            ReadBack("k2", seen.invoked, seen.completed, 2, True, seen.fields, seen.seen)
        )
        is None
    )
    assert feed.state.confirm_due("k2") is None
    assert feed.state.judge(ReadBack("k2", 3100 * MS, 3101 * MS, 3, found=False)) is None


def test_the_acknowledged_notes_are_intact_and_other_notes_are_corrupt() -> None:
    feed = Feed()
    feed.create(0, 10)
    assert feed.state.judge(feed.read(11, 12, NOTES)) is None
    damage = feed.state.judge(feed.read(11, 12, {**NOTES, "conclusion": None}))
    assert damage is not None and damage.kind == "corrupt"
    assert damage.fields == ("conclusion",)


def test_an_update_in_flight_allows_both_the_old_and_the_new_value() -> None:
    feed = Feed()
    feed.create(0, 10)
    feed.update(20, None, {"conclusion": "flu"})  # invoked, not answered yet
    assert feed.state.judge(feed.read(21, 22, NOTES)) is None
    assert feed.state.judge(feed.read(21, 22, {**NOTES, "conclusion": "flu"})) is None
    damage = feed.state.judge(feed.read(21, 22, {**NOTES, "conclusion": "measles"}))
    assert damage is not None and damage.fields == ("conclusion",)


def test_an_update_acknowledged_after_the_read_began_supersedes_nothing() -> None:
    feed = Feed()
    feed.create(0, 10)
    feed.update(20, 30, {"conclusion": "flu"})
    assert feed.state.judge(feed.read(25, 35, NOTES)) is None  # began before the ack at 30
    damage = feed.state.judge(feed.read(31, 35, NOTES))  # began after: the old value is stale
    assert damage is not None and damage.kind == "corrupt"
    assert damage.acknowledged_at_ns == 30 * MS  # time to detect runs from the update's ack


def test_an_indeterminate_write_may_land_at_any_time_and_a_refused_one_never() -> None:
    feed = Feed()
    feed.create(0, 10)
    feed.update(20, 30, {"conclusion": "flu"}, outcome="info")
    feed.update(40, 50, {"exam_report": "wheezing"}, outcome="fail", process=3)
    feed.update(60, 70, {"conclusion": "cold again"}, process=4)
    assert feed.state.judge(feed.read(80, 81, {**NOTES, "conclusion": "flu"})) is None
    refused = feed.state.judge(
        feed.read(80, 81, {**NOTES, "conclusion": "cold again", "exam_report": "wheezing"})
    )
    assert refused is not None and refused.fields == ("exam_report",)


def test_a_record_about_someone_else_is_misattributed_and_an_unknown_owner_is_no_evidence() -> None:
    feed = Feed()
    feed.create(0, 10)
    damage = feed.state.judge(feed.read(11, 12, NOTES, seen=("k2", "pr1", "pa9")))
    assert damage is not None and damage.kind == "misattributed"
    assert feed.state.judge(feed.read(11, 12, NOTES, seen=(None, None, None))) is None


def test_only_acknowledged_creates_are_read_back() -> None:
    feed = Feed()
    feed.create(0, 10, key="k1", outcome="info")
    feed.create(20, 30, key="k2", outcome="fail")
    assert feed.state.acknowledged == []
    assert feed.state.judge(feed.read(40, 41, None)) is None  # never acknowledged: promised nothing
    feed.create(50, 60, key="k3")
    assert feed.state.acknowledged == ["k3"]


def test_observe_names_the_record_each_acknowledgement_makes_worth_reading() -> None:
    feed = Feed()
    value = {"practitioner_id": "pr1", "patient_id": "pa1", "fields": digest_fields(NOTES)}
    assert feed.op(0, 1, "invoke", "create", "k1", value) is None
    assert feed.op(1, 1, "ok", "create", "k1", {**value, "id": "10"}) == "k1"
    assert feed.op(2, "nemesis", "ok", "start", "k1", None) is None
    assert feed.op(3, 2, "invoke", "read", "k1", {"id": "10"}) is None  # reads teach nothing
