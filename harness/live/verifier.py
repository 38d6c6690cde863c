"""The live verifier: reads acknowledged writes back while the load runs, and says at once when
one is lost or damaged.

It listens to the history (:meth:`HistoryWriter.listen`) to learn every acknowledged create and
update (:class:`~harness.live.expected.ExpectedState`), and a few greenlets in the load process
read those records back through the workload's Target within a budget of read-backs per second:

0. a record missed once, again once ``confirm_after`` has passed (two misses make it lost);
1. after a fault heals (a nemesis ``ok stop``), every acknowledged record, latest write first
   (what a crash loses is what was acknowledged last), within the larger sweep budget
   (``sweep_reads_per_second``), interleaved with
2. records whose write was just acknowledged, newest first, and otherwise
3. every acknowledged record in turn, so an old record lost later is found too.

Each read-back is an op of the history like a practitioner's read (``invoke`` then ``ok`` /
``fail`` / ``info``, value marked ``"live": true``), under process ids drawn from the workload's
recorder (a fresh one after an ``info``, as for practitioners), so the verifiers use them and
:mod:`harness.live.detect` finds them again offline. A read-back begun after an acknowledgement
that misses the record or shows it damaged is a :class:`LiveDamage`: appended to the run's list,
handed to ``on_damage`` (stop conditions) and said once on the console.

With workers, the practitioners' ops reach the verifier through a
:class:`~harness.live.feed.ShardFeed`, late: a read-back that looks corrupt is held
until ``caught_up`` says every op up to its completion is known (a write invoked just before
could allow what it read), then judged again; one still held when the verifier stops raises no
alarm (the final verdict judges it with the whole history).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import gevent

from ackguard.harness.history import NEMESIS, OBSERVATION_FIELDS, HistoryWriter, Op, digest_fields
from ackguard.harness.live.damage import LiveDamage
from ackguard.harness.live.expected import ExpectedState, ReadBack
from ackguard.harness.workload.recorder import OpRecorder
from ackguard.harness.workload.target import Target, TargetAnswer

__all__ = ["LIVE_MARK", "LiveVerifier"]

LIVE_MARK = "live"
"""The key a read-back's value carries (``"live": true``) in the history."""
MAX_WORKERS = 16
RECENT_LIMIT = 10_000  # older acknowledgements are reached by the round over every record
SWEEP_SHARE = 3  # read-backs of a post-heal sweep per read-back of a recent write
SAID_ONE_BY_ONE = 10  # detections said on a line each; the rest are counted on the progress line


class LiveVerifier:
    def __init__(
        self,
        history: HistoryWriter,
        recorder: OpRecorder,
        target: Target,
        reads_per_second: float,
        *,
        confirm_after_s: float = 1.0,
        sweep_reads_per_second: float | None = None,
        found: list[LiveDamage],
        say: Callable[[str], None],
        on_damage: Callable[[LiveDamage], None] = lambda _damage: None,
        caught_up: Callable[[int], bool] = lambda _time_ns: True,
    ) -> None:
        self.history = history
        self.recorder = recorder
        self.target = target
        self.interval_s = 1.0 / reads_per_second
        sweep = max(reads_per_second, sweep_reads_per_second or reads_per_second)
        self.sweep_interval_s = 1.0 / sweep
        self.found = found
        self.say = say
        self.on_damage = on_damage
        self.caught_up = caught_up
        # Read-backs that looked corrupt before every write up to them was known, one per key:
        # a heap by completion, as the feed catches up in time order.
        self._held: list[tuple[int, str, ReadBack]] = []
        self._held_keys: set[str] = set()
        self.expected = ExpectedState(round(confirm_after_s * 1e9))
        self._confirm: list[tuple[int, str]] = []  # (history ns when due, key): a heap
        self._confirming: set[str] = set()
        self.reads = 0
        self._recent: deque[str] = deque()
        self._queued: set[str] = set()
        self._sweep: deque[str] = deque()
        self._round = 0
        self._alarmed: set[str] = set()
        self._heals: list[int] = []  # history times of nemesis ok stops
        self._next_slot = 0.0
        self._turn = itertools.count()
        self._workers: list[gevent.Greenlet] = []
        self.processes: set[int] = set()
        self._times: dict[object, int] = {}
        self._stopping = False
        # enough read-backs in flight to spend the budget when the service answers slowly
        workers = max(2, min(MAX_WORKERS, math.ceil(sweep / 10)))
        self._worker_count = workers

    # The listener: runs on the recording greenlet for every op, so it stays small.

    def observe(self, op: Op) -> None:
        if op.process == NEMESIS:
            if op.f == "stop" and op.type == "ok":
                self._heals.append(op.time)
                # newest write first: a crash loses what was acknowledged last
                self._sweep = deque(reversed(self.expected.latest))
            return
        if op.process in self.processes:
            self._times[op.process] = op.time  # when a read-back's line was recorded
            return
        key = self.expected.observe(op)
        if key is not None and key not in self._queued:
            self._queued.add(key)
            self._recent.appendleft(key)
            if len(self._recent) > RECENT_LIMIT:
                self._queued.discard(self._recent.pop())

    # The read-back greenlets.

    def start(self) -> None:
        self.history.listen(self.observe)
        self._next_slot = gevent.get_hub().loop.now()
        for _ in range(self._worker_count):
            self._workers.append(gevent.spawn(self._work, self._fresh_process()))

    def stop(self) -> None:
        """End the read-backs: one in flight is recorded ``info`` (interrupted)."""
        self._stopping = True
        gevent.killall(self._workers, block=True, timeout=10)
        self._workers.clear()

    def _fresh_process(self) -> int:
        """A new process id from the workload's counter (after an ``info``, as in Jepsen)."""
        process = self.recorder.new_process()
        self.processes.add(process)
        return process

    def _work(self, process: int) -> None:
        while not self._stopping:
            self._judge_held()
            self._wait_for_slot()
            key = self._next_key()
            if key is None:
                gevent.sleep(min(self.interval_s, 0.1))
                continue
            process = self._read_back(process, key)

    def _wait_for_slot(self) -> None:
        """The shared budget: one read-back every ``interval_s`` across every worker (every
        ``sweep_interval_s`` while a sweep after a heal lasts)."""
        now = gevent.get_hub().loop.now()
        slot = max(now, self._next_slot)
        self._next_slot = slot + (self.sweep_interval_s if self._sweep else self.interval_s)
        if slot > now:
            gevent.sleep(slot - now)

    def _next_key(self) -> str | None:
        confirm = self._confirm
        if confirm and confirm[0][0] <= self.history.now():
            key = heapq.heappop(confirm)[1]
            self._confirming.discard(key)
            return key
        recent, sweep = self._recent, self._sweep
        if sweep and (not recent or next(self._turn) % (SWEEP_SHARE + 1) != 0):
            return sweep.popleft()
        if recent:
            key = recent.popleft()
            self._queued.discard(key)
            return key
        acknowledged = self.expected.acknowledged
        if not acknowledged:
            return None
        self._round = (self._round + 1) % len(acknowledged)
        return acknowledged[self._round]

    def _read_back(self, process: int, key: str) -> int:
        """One read-back of ``key``; returns the process id to go on with."""
        state = self.expected.records[key]
        record_id = state.record_id
        assert record_id is not None
        value = {"id": record_id, LIVE_MARK: True}
        self.reads += 1
        self.history.record(process, "invoke", "read", key=key, value=value)
        invoked = self._times[process]
        try:
            answer = self.target.read(record_id)
        except Exception as exc:  # an adapter that raises gave no answer: indeterminate
            answer = TargetAnswer("info", error=f"target raised {type(exc).__name__}: {exc}")
        except BaseException:  # stopped mid-read
            error = "interrupted: the live verifier stopped"
            self.history.record(process, "info", "read", key=key, value=value, error=error)
            raise
        if answer.outcome != "ok":
            self.history.record(
                process, answer.outcome, "read", key=key, value=value, error=answer.error
            )
            self._sweep.appendleft(key)  # not answered: read it again, first, when it answers
            return self._fresh_process() if answer.outcome == "info" else process
        observed, read = _observed(record_id, key, answer)
        index = self.history.record(process, "ok", "read", key=key, value=observed)
        completed = self._times[process]
        answered = read(invoked, completed, index)
        damage = self.expected.judge(answered)
        if damage is not None and damage.kind == "corrupt" and not self.caught_up(completed):
            if key not in self._held_keys:
                self._held_keys.add(key)
                heapq.heappush(self._held, (completed, key, answered))
            damage = None
        due = self.expected.confirm_due(key)
        if damage is None and due is not None and key not in self._confirming:
            self._confirming.add(key)
            heapq.heappush(self._confirm, (due, key))
        if damage is not None:
            self._alarm(damage)
        return process

    def _judge_held(self) -> None:
        """Judge again the read-backs held until the workers' ops caught up with them."""
        held = self._held
        while held and self.caught_up(held[0][0]):
            _completed, key, answered = heapq.heappop(held)
            self._held_keys.discard(key)
            damage = self.expected.corrupt(answered)
            if damage is not None:
                self._alarm(damage)

    def _alarm(self, damage: LiveDamage) -> None:
        if damage.key in self._alarmed:
            return
        self._alarmed.add(damage.key)
        self.found.append(damage)
        if len(self.found) <= SAID_ONE_BY_ONE:
            self.say(self._words(damage))
        if len(self.found) == SAID_ONE_BY_ONE:
            self.say("live: further detections are counted on the progress line")
        self.on_damage(damage)

    def _words(self, damage: LiveDamage) -> str:
        what = damage.kind if not damage.fields else f"{damage.kind} ({', '.join(damage.fields)})"
        heals = [t for t in self._heals if damage.acknowledged_at_ns < t <= damage.detected_at_ns]
        if heals:
            after = (damage.detected_at_ns - heals[-1]) / 1e9
            when = f"detected {after:.1f} s after the service came back"
        else:
            when = f"detected {damage.time_to_detect_s:.1f} s after its acknowledgement"
        return (
            f"live: {what} {damage.key} practitioner {damage.practitioner_id} "
            f"patient {damage.patient_id}, {when}"
        )


def _observed(
    record_id: str, key: str, answer: TargetAnswer
) -> tuple[dict[str, Any], Callable[[int, int, int], ReadBack]]:
    """The history value of an answered read-back (the layout of a practitioner's read) and
    how to make it a :class:`ReadBack` once its times are known."""
    record: Mapping[str, Any] | None = answer.record if answer.found else None
    if record is None:
        value: dict[str, Any] = {
            "id": record_id,
            "found": False,
            "fields": dict.fromkeys(OBSERVATION_FIELDS),
            LIVE_MARK: True,
        }
        return value, lambda inv, cmp, index: ReadBack(key, inv, cmp, index, found=False)
    fields = digest_fields({name: record.get(name) for name in OBSERVATION_FIELDS})
    seen = {
        "seen_key": record.get("idempotency_key"),
        "seen_practitioner_id": record.get("practitioner_id"),
        "seen_patient_id": record.get("patient_id"),
    }
    named = {name: str(v) for name, v in seen.items() if v is not None}
    value = {
        "id": record_id,
        "found": True,
        "version": record.get("version"),
        "fields": fields,
        **named,
        LIVE_MARK: True,
    }
    digests = {name: None if d is None else str(d["digest"]) for name, d in fields.items()}
    who = (named.get("seen_key"), named.get("seen_practitioner_id"), named.get("seen_patient_id"))
    return value, lambda inv, cmp, index: ReadBack(key, inv, cmp, index, True, digests, who)
