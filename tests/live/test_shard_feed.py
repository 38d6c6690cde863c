"""Following the workers' history shards while the load runs: every complete line handed on once,
in each shard's order; how far the feed has caught up; why a read-back that looks corrupt waits
for it (a write a worker invoked before the read-back completed may not be known yet); and the
stop conditions counting the workers' operations."""

from __future__ import annotations

import time
from pathlib import Path

from ackguard.harness.history import OBSERVATION_FIELDS, FieldDigest, HistoryWriter, Op
from ackguard.harness.history import digest_fields as digests
from ackguard.harness.live.expected import ExpectedState, ReadBack
from ackguard.harness.live.feed import ShardFeed
from ackguard.harness.live.options import StopWhen
from ackguard.harness.live.stop import MIN_OPERATIONS, StopWatch
from ackguard.harness.shards import shard_path

NOTE = {"visit_reason": "cough", "exam_report": "clear", "conclusion": "cold", "prescription": None}


def shards(run_dir: Path, count: int) -> list[HistoryWriter]:
    started = time.monotonic_ns()
    return [HistoryWriter(shard_path(run_dir, k), started_ns=started) for k in range(count)]


def test_each_complete_line_of_every_shard_is_handed_on_once(tmp_path: Path) -> None:
    first, second = shards(tmp_path, 2)
    feed = ShardFeed(tmp_path, 2)
    seen: list[Op] = []
    feed.listen(seen.append)
    feed.poll()  # no shard written yet
    assert seen == [] and not feed.caught_up(0)

    first.record(1, "invoke", "read", key="a", value={"id": "1"})
    first.record(1, "ok", "read", key="a", value={"id": "1", "found": False})
    feed.poll()
    assert [(op.process, op.type) for op in seen] == [(1, "invoke"), (1, "ok")]
    assert not feed.caught_up(0), "the second shard has said nothing yet"

    second.record(10**9 + 10, "invoke", "read", key="b", value={"id": "2"})
    with shard_path(tmp_path, 1).open("ab") as raw:  # a line its worker is still writing
        raw.write(b'{"index":1,"time":')
    feed.poll()
    assert [op.process for op in seen[2:]] == [10**9 + 10]
    assert feed.caught_up(seen[1].time) and not feed.caught_up(seen[2].time + 1)
    with shard_path(tmp_path, 1).open("ab") as raw:
        raw.write(b'%d,"process":7,"type":"ok","f":"read","key":"b"}\n' % (seen[2].time + 5))
    feed.poll()
    feed.poll()
    assert [op.process for op in seen] == [1, 1, 10**9 + 10, 7] and feed.ops == 4
    assert feed.caught_up(seen[1].time) and not feed.caught_up(seen[1].time + 1)
    feed.stop()
    first.close()
    second.close()


def test_a_read_back_that_looks_corrupt_is_judged_once_the_feed_caught_up(tmp_path: Path) -> None:
    (worker,) = shards(tmp_path, 1)
    feed = ShardFeed(tmp_path, 1)
    expected = ExpectedState()
    feed.listen(expected.observe)
    value = {"practitioner_id": "pr", "patient_id": "pa", "fields": digests(NOTE)}
    worker.record(3, "invoke", "create", key="k", value=value)
    worker.record(3, "ok", "create", key="k", value={**value, "id": "10"})
    feed.poll()
    amended = {**NOTE, "conclusion": "flu"}
    worker.record(4, "invoke", "update", key="k", value={"id": "10", "fields": digests(amended)})
    invoked = worker.now()
    shown = {name: FieldDigest.of(str(amended[name])).digest for name in OBSERVATION_FIELDS}
    shown["prescription"] = None
    completed = worker.now()
    read = ReadBack("k", invoked, completed, 0, True, shown, ("k", "pr", "pa"))

    # The update in flight is in the shard, not yet read: the value looks corrupt...
    damage = expected.judge(read)
    assert damage is not None and damage.kind == "corrupt" and damage.fields == ("conclusion",)
    assert not feed.caught_up(completed)  # ...and the feed says it may not know everything yet
    worker.record(4, "ok", "update", key="k", value={"id": "10", "fields": digests(amended)})
    feed.poll()
    assert feed.caught_up(completed)
    assert expected.corrupt(read) is None  # the update in flight allows it
    feed.stop()
    worker.close()


def test_the_error_rate_counts_the_workers_operations(tmp_path: Path) -> None:
    """The harness's history holds none of the practitioners' ops: the feed brings them."""
    worker, other = shards(tmp_path, 2)
    with HistoryWriter(tmp_path / "history.jsonl", started_ns=worker.started_ns) as harness:
        feed = ShardFeed(tmp_path, 2)
        fired: list[str] = []
        watch = StopWatch(
            StopWhen(error_rate=0.5),
            harness,
            lambda reason, _at: fired.append(reason),
            load_started_ns=0,
        )
        assert watch.follows_ops
        feed.listen(watch.observe)
        for n in range(MIN_OPERATIONS):
            writer = worker if n % 2 else other
            writer.record(n, "invoke", "create", key=f"k{n}")
            writer.record(n, "info", "create", key=f"k{n}")
        watch.check()
        assert fired == []  # not read yet
        feed.poll()
        watch.check()
    assert len(fired) == 1 and fired[0].startswith(
        f"stop_when error_rate: 0.5 reached: {MIN_OPERATIONS} of {MIN_OPERATIONS} operations"
    )
    feed.stop()
    worker.close()
    other.close()
