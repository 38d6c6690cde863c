"""What a read-back may show: the expected state of every record, learnt from the history as it
is written, and the alarm rule applied to one read-back.

The rule is the final verdict's (:mod:`harness.verifiers.allowed_value` and the records
verifier's identity check), applied at the read-back, so a live alarm never says more than the
verdict will:

- **lost**: the read began after the create was acknowledged and found nothing, and so did a
  second read begun at least ``confirm_after`` after the first completed, with no sighting in
  between (a write-behind service shows an acknowledged record a moment later: that is not a
  loss the final read would confirm);
- **misattributed**: the read found a record about someone else (another idempotency key,
  practitioner or patient than the create sent; an unknown side is no evidence);
- **corrupt**: a field holds a value :func:`~harness.verifiers.allowed_value.is_allowed` refuses
  for a read that began at its invoke, given every write recorded by the time it completed (a
  write still in flight or indeterminate is allowed, whenever it was invoked; a write
  acknowledged after the read began supersedes nothing).

A read-back that was not answered (``fail``, ``info``) says nothing, and raises no alarm.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from ackguard.harness.history import OBSERVATION_FIELDS, Op
from ackguard.harness.live.damage import DamageKind, LiveDamage
from ackguard.harness.verifiers.allowed_value import FAIL, INFO, OK, Write, is_allowed

__all__ = ["ExpectedState", "KeyState", "ReadBack"]

_STATUS = {"ok": OK, "fail": FAIL, "info": INFO}


@dataclass(slots=True)
class KeyState:
    """One record as the history has described it so far."""

    key: str
    practitioner_id: str | None = None
    patient_id: str | None = None
    record_id: str | None = None
    ack_time: int | None = None
    """Completion of the first acknowledged create (ns since the run started)."""
    writes: list[Write] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ReadBack:
    """One answered read-back of ``key``: when it began and ended, what it found (``fields``:
    digest or None per observation field; ``seen``: key, practitioner, patient the answer named)."""

    key: str
    invoked: int
    completed: int
    index: int
    found: bool
    fields: Mapping[str, str | None] = field(default_factory=dict)
    seen: tuple[str | None, str | None, str | None] = (None, None, None)


class ExpectedState:
    """Follows every client op of the history (hand :meth:`observe` to
    :meth:`HistoryWriter.listen`) and judges read-backs against it."""

    def __init__(self, confirm_after_ns: int = 0) -> None:
        self.confirm_after_ns = confirm_after_ns
        self.suspects: dict[str, int] = {}
        """Key -> completion of the first read-back that missed it, since it was last seen:
        a second miss begun ``confirm_after_ns`` later makes it lost."""
        self.records: dict[str, KeyState] = {}
        self.acknowledged: list[str] = []
        """Keys in the order their creates were acknowledged."""
        self.latest: OrderedDict[str, None] = OrderedDict()
        """Keys in the order of their latest acknowledged write (create or update)."""
        self._in_flight: dict[object, tuple[str, KeyState, Write]] = {}

    def observe(self, op: Op) -> str | None:
        """Take one op into account; returns the key of an acknowledged create or update of a
        record whose id is known (what a read-back can read), else None."""
        if op.f not in ("create", "update") or op.process.__class__ is not int:
            return None
        if op.type == "invoke":
            if op.key is None:
                return None
            state = self.records.get(op.key)
            if state is None:
                state = self.records[op.key] = KeyState(op.key)
            value = op.value if isinstance(op.value, dict) else {}
            if op.f == "create" and state.practitioner_id is None:
                state.practitioner_id = _text(value.get("practitioner_id"))
                state.patient_id = _text(value.get("patient_id"))
            sent = value.get("fields")
            sent = sent if isinstance(sent, dict) else {}
            if op.f == "create":  # a create writes every field; one it does not send is null
                sent = {name: sent.get(name) for name in OBSERVATION_FIELDS}
            write = Write(op.time, sent)
            state.writes.append(write)
            self._in_flight[op.process] = (op.f, state, write)
            return None
        started = self._in_flight.pop(op.process, None)
        if started is None:
            return None
        f, state, write = started
        write.status = _STATUS.get(op.type, INFO)
        write.cmp = op.time
        if write.status != OK:
            return None
        if f == "create" and state.ack_time is None:
            state.ack_time = op.time
            value = op.value if isinstance(op.value, dict) else {}
            if value.get("id") is not None:
                state.record_id = str(value["id"])
                self.acknowledged.append(state.key)
        if state.record_id is None:
            return None
        self.latest[state.key] = None
        self.latest.move_to_end(state.key)
        return state.key

    def judge(self, read: ReadBack) -> LiveDamage | None:
        """The alarm one answered read-back raises, or None (see the module docstring)."""
        state = self.records.get(read.key)
        if state is None or state.ack_time is None or read.invoked <= state.ack_time:
            return None  # begun before the acknowledgement: it proves nothing
        if not read.found:
            first = self.suspects.setdefault(read.key, read.completed)
            if self.confirm_after_ns and read.invoked < first + self.confirm_after_ns:
                return None  # a miss to confirm: read it again later (confirm_due)
            return self._damage(state, read, "lost", ())
        self.suspects.pop(read.key, None)
        seen_key, seen_practitioner, seen_patient = read.seen
        if (
            _differs(seen_key, state.key)
            or _differs(seen_practitioner, state.practitioner_id)
            or _differs(seen_patient, state.patient_id)
        ):
            return self._damage(state, read, "misattributed", ())
        return self.corrupt(read)

    def corrupt(self, read: ReadBack) -> LiveDamage | None:
        """The corrupt part of :meth:`judge` alone, for an answered read-back that found the
        record: judged again once more writes are known (the workers' ops arrive late)."""
        state = self.records.get(read.key)
        if state is None or state.ack_time is None or read.invoked <= state.ack_time:
            return None
        wrong = tuple(
            name
            for name in OBSERVATION_FIELDS
            if not is_allowed(state.writes, name, read.fields.get(name), read.invoked)
        )
        return self._damage(state, read, "corrupt", wrong) if wrong else None

    def confirm_due(self, key: str) -> int | None:
        """When a read-back may confirm ``key`` lost (history ns), if a miss awaits it."""
        first = self.suspects.get(key)
        return None if first is None else first + self.confirm_after_ns

    @staticmethod
    def _damage(
        state: KeyState, read: ReadBack, kind: DamageKind, fields: tuple[str, ...]
    ) -> LiveDamage:
        assert state.ack_time is not None
        acked = state.ack_time
        # A corrupt field was acknowledged by a write that may come long after the create: time
        # to detect runs from the latest acknowledged write of a damaged field completed before
        # the read began, as the verdict's ack_time of a corrupt record does.
        for write in state.writes:
            cmp = write.cmp
            if write.status != OK or cmp is None or cmp >= read.invoked:
                continue
            if any(name in write.fields for name in fields):
                acked = max(acked, cmp)
        return LiveDamage(
            key=state.key,
            kind=kind,
            practitioner_id=state.practitioner_id,
            patient_id=state.patient_id,
            fields=fields,
            acknowledged_at_ns=acked,
            detected_at_ns=read.completed,
            read_index=read.index,
        )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _differs(seen: str | None, expected: str | None) -> bool:
    return seen is not None and expected is not None and seen != expected
