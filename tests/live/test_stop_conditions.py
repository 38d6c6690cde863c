"""stop_when: the scenario keys and their bounds, and when each condition fires."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ackguard.harness.history import HistoryWriter
from ackguard.harness.live.damage import LiveDamage
from ackguard.harness.live.options import StopWhen
from ackguard.harness.live.stop import MIN_OPERATIONS, StopWatch
from ackguard.harness.scenario import ScenarioError, parse_scenario

HEAD = "name: t\nduration: 10s\npractitioners: 2\n"


def test_live_and_stop_when_parse_with_their_defaults() -> None:
    plain = parse_scenario(HEAD, "s.yaml")
    assert plain.live is not None and plain.live.reads_per_second == 50
    assert plain.stop_when is None
    given = parse_scenario(
        HEAD
        + "live: {reads_per_second: 5, confirm_after: 2s}\n"
        + "stop_when: {lost: 1, error_rate: 0.5, p99_latency: 2s}\n",
        "s.yaml",
    )
    assert given.live is not None and given.live.reads_per_second == 5
    assert given.live.confirm_after == 2.0 and plain.live.confirm_after == 1.0
    assert given.stop_when == StopWhen(lost=1, error_rate=0.5, p99_latency=2.0)
    assert parse_scenario(HEAD + "live: false\n", "s.yaml").live is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("live: 3", "s.yaml:4: live: must be false or a mapping"),
        ("live: {reads_per_second: 0}", "live.reads_per_second: must be between 0.1"),
        ("stop_when: {}", "stop_when: must name at least one condition"),
        ("stop_when: {lost: 0}", "stop_when.lost: must be between 1"),
        ("stop_when: {corrupt: 1.5}", "stop_when.corrupt: must be a whole number"),
        ("stop_when: {error_rate: 0}", "stop_when.error_rate: must be more than 0 and at most 1"),
        ("stop_when: {p99_latency: soon}", "stop_when.p99_latency: not a duration"),
        ("stop_when: {lots: 1}", "stop_when.lots: unknown field"),
        ("live: false\nstop_when: {lost: 1}", "s.yaml:5: stop_when.lost: counts the live"),
    ],
)
def test_bad_values_are_named_with_file_and_line(line: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(HEAD + line + "\n", "s.yaml")
    assert message in str(caught.value)


class Fired:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, reason: str, at: int) -> None:
        self.calls.append((reason, at))


def _damage(kind: str, key: str) -> LiveDamage:
    return LiveDamage(key, kind, "pr1", "pa1", (), 1_000_000_000, 3_500_000_000, 7)  # type: ignore[arg-type]


def test_damage_conditions_fire_once_at_their_count(tmp_path: Path) -> None:
    with HistoryWriter(tmp_path / "h.jsonl") as history:
        fired = Fired()
        watch = StopWatch(StopWhen(lost=2), history, fired, load_started_ns=500_000_000)
        watch.damage(_damage("corrupt", "c1"))
        watch.damage(_damage("lost", "k1"))
        assert fired.calls == []
        watch.damage(_damage("lost", "k2"))
        watch.damage(_damage("lost", "k3"))
    assert fired.calls == [("stop_when lost: 2 reached: lost k2 at 3.0 s", 3_500_000_000)]


def _operations(history: HistoryWriter, count: int, failing: int) -> None:
    for n in range(count):
        history.record(n, "invoke", "create", key=f"k{n}")
        history.record(n, "info" if n < failing else "ok", "create", key=f"k{n}")


def test_error_rate_needs_enough_operations_and_ignores_the_live_reads(tmp_path: Path) -> None:
    with HistoryWriter(tmp_path / "h.jsonl") as history:
        fired = Fired()
        watch = StopWatch(
            StopWhen(error_rate=0.5), history, fired, load_started_ns=0, ignored={1000}
        )
        history.listen(watch.observe)
        _operations(history, MIN_OPERATIONS - 1, failing=MIN_OPERATIONS - 1)
        watch.check()
        assert fired.calls == []  # too few operations to judge
        for _ in range(50):  # read-backs failing while the service is down are not the load's
            history.record(1000, "invoke", "read", key="k1")
            history.record(1000, "info", "read", key="k1")
        watch.check()
        assert fired.calls == []
        _operations(history, 1, failing=0)
        watch.check()
    assert len(fired.calls) == 1
    assert fired.calls[0][0].startswith(
        f"stop_when error_rate: 0.5 reached: {MIN_OPERATIONS - 1} of {MIN_OPERATIONS} operations"
    )


def test_p99_latency_over_the_window(tmp_path: Path) -> None:
    with HistoryWriter(tmp_path / "h.jsonl") as history:
        fired = Fired()
        watch = StopWatch(StopWhen(p99_latency=0.002), history, fired, load_started_ns=0)
        history.listen(watch.observe)
        _operations(history, 100, failing=0)
        watch.check()
        assert fired.calls == []  # microseconds each
        for n in range(3):  # 3 slow ones of 103: the 99th percentile is slow
            history.record(n, "invoke", "update", key="k")
            time.sleep(0.003)
            history.record(n, "ok", "update", key="k")
        watch.check()
    assert len(fired.calls) == 1
    reason = fired.calls[0][0]
    assert reason.startswith("stop_when p99_latency: 0.002 s reached: p99 "), reason
    # the 3 ms slept, or more on a busy machine (said to the hundredth of a second)
    assert 0 <= float(reason.split()[6]) < 1.0, reason
